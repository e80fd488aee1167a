import Dispatch

/// Triggers checkpoints, collects every task's snapshot, writes them to storage and declares
/// them complete (Flink's `CheckpointCoordinator`).
///
/// Barriers enter at the sources; each task acknowledges with its operators' snapshots once
/// it has taken them. When every task has acknowledged, state files and `_metadata` are
/// written off the task threads, and every task is told the checkpoint is complete.
final class CheckpointCoordinator: @unchecked Sendable {
    // Everything mutable is guarded by `lock`.
    struct TaskKey: Hashable {
        let chain: Int
        let subtask: Int
    }

    private struct Pending: @unchecked Sendable {
        // Snapshots are handed over whole from the task threads; nothing mutates them after.

        let barrier: CheckpointBarrier
        let startMillis: Int64
        var acks: [TaskKey: [Int: OperatorSnapshot]] = [:]
        var enumerators: [Int: [UInt8]] = [:]
        var savepointDirectory: String?
        var completion: ((Result<String, any Error>) -> Void)?
    }

    let config: CheckpointConfig
    let storage: CheckpointStorage
    let jobName: String
    let plan: ExecutionPlan
    private let lock = ConditionLock()
    private let writer = DispatchQueue(label: "rill.checkpoint-writer")
    private var nextCheckpointId: Int64
    private var pending: [Int64: Pending] = [:]
    /// Checkpoints every task acknowledged that the writer has not finished.
    private var finalizing = 0
    private var consecutiveFailures = 0
    private var lastCompletedEndMillis: Int64 = 0
    private(set) var latestCompleted: CheckpointMetadata?
    private var stopped = false
    /// Statistics, for benchmarks and tests.
    private var completedCount = 0
    private var failedCount = 0
    /// The last completed checkpoints, oldest first (at most 1,000).
    private var recent: [CheckpointStatistics.Completed] = []

    /// The statistics above, read together.
    var statistics: CheckpointStatistics {
        lock.withLock {
            CheckpointStatistics(
                completed: completedCount, failed: failedCount, recent: recent)
        }
    }

    /// Set by the job attempt that is running.
    var injectBarriers: ((CheckpointBarrier) throws -> [Int: [UInt8]])?
    var notifyComplete: ((Int64) -> Void)?
    var notifyAborted: ((Int64) -> Void)?
    /// Fails the job when more checkpoints failed than tolerated.
    var failJob: ((RillError) -> Void)?
    let expectedTasks: Int

    init(config: CheckpointConfig, storage: CheckpointStorage, jobName: String, plan: ExecutionPlan,
         restoredFrom: CheckpointMetadata?) {
        self.config = config
        self.storage = storage
        self.jobName = jobName
        self.plan = plan
        latestCompleted = restoredFrom?.kind == .checkpoint ? restoredFrom : nil
        nextCheckpointId = (restoredFrom?.checkpointId ?? 0) + 1
        expectedTasks = plan.chains.reduce(0) { $0 + $1.parallelism }
        // Resume numbering after whatever the directory already holds: never overwrite.
        if let newest = storage.listCheckpoints().map(\.checkpointId).max() {
            nextCheckpointId = max(nextCheckpointId, newest + 1)
        }
    }

    private var now: Int64 { SystemClock.shared.currentTimeMillis() }

    /// Starts a checkpoint (or savepoint) now. `completion` gets the path of the completed
    /// checkpoint or savepoint, or the reason it failed.
    /// `periodic` checkpoints respect `maxConcurrentCheckpoints` and the minimum pause;
    /// requested ones (savepoints, `JobClient.triggerCheckpoint()`) start regardless.
    func trigger(type: SnapshotType, periodic: Bool = false, savepointDirectory: String? = nil,
                 completion: ((Result<String, any Error>) -> Void)? = nil) {
        let barrier: CheckpointBarrier? = lock.withLock {
            guard !stopped else { return nil }
            if periodic {
                // A checkpoint is in flight until it is written, not only until every task acknowledged.
                guard pending.count + finalizing < config.maxConcurrentCheckpoints else { return nil }
                guard now - lastCompletedEndMillis >= config.minPauseBetweenCheckpoints.milliseconds else { return nil }
            }
            let barrier = CheckpointBarrier(checkpointId: nextCheckpointId, timestampMillis: now, type: type, unaligned: false)
            nextCheckpointId += 1
            pending[barrier.checkpointId] = Pending(barrier: barrier, startMillis: now,
                                                    savepointDirectory: savepointDirectory, completion: completion)
            return barrier
        }
        guard let barrier else {
            completion?(.failure(RillError(.invalidConfiguration, "a checkpoint could not start now (job stopping, or too many in flight)")))
            return
        }
        do {
            guard let injectBarriers else { throw RillError(.internalError, "no running job attempt to checkpoint") }
            let enumerators = try injectBarriers(barrier)
            lock.withLock { pending[barrier.checkpointId]?.enumerators = enumerators }
        } catch {
            fail(barrier.checkpointId, reason: "barriers could not be injected: \(error)")
        }
        let timeout = config.timeout.milliseconds
        writer.asyncAfter(deadline: .now() + .milliseconds(Int(min(timeout, Int64(Int32.max))))) { [weak self] in
            self?.fail(barrier.checkpointId, reason: "it did not complete within the checkpoint timeout of \(timeout) ms")
        }
    }

    func acknowledge(_ checkpointId: Int64, task: TaskKey, snapshots: [Int: OperatorSnapshot]) {
        let complete: Pending? = lock.withLock {
            guard var entry = pending[checkpointId] else { return nil }
            entry.acks[task] = snapshots
            pending[checkpointId] = entry
            guard entry.acks.count == expectedTasks else { return nil }
            pending[checkpointId] = nil
            finalizing += 1
            return entry
        }
        guard let complete else { return }
        writer.async { [self] in finalize(complete) }
    }

    func decline(_ checkpointId: Int64, reason: TaskCheckpointing.Decline) {
        switch reason {
        case .taskFinished: fail(checkpointId, reason: "a task had already finished", counts: false)
        case .supersededByNewerCheckpoint: fail(checkpointId, reason: "a newer checkpoint overtook it", counts: false)
        case .snapshotFailed(let error): fail(checkpointId, reason: "a snapshot failed: \(error)")
        }
    }

    /// Aborts a pending checkpoint; counted against the tolerable failures when `counts`.
    func fail(_ checkpointId: Int64, reason: String, counts: Bool = true) {
        let (entry, tooMany): (Pending?, Bool) = lock.withLock {
            guard let entry = pending.removeValue(forKey: checkpointId) else { return (nil, false) }
            failedCount += 1
            if counts { consecutiveFailures += 1 }
            return (entry, consecutiveFailures > config.tolerableFailedCheckpoints)
        }
        guard let entry else { return }
        try? storage.discard(checkpointId: checkpointId)
        notifyAborted?(checkpointId)
        let error = RillError(.jobFailed, "checkpoint \(checkpointId) failed: \(reason)")
        entry.completion?(.failure(error))
        if tooMany && counts {
            failJob?(RillError(.jobFailed, "checkpoint \(checkpointId) failed (\(reason)) and more than \(config.tolerableFailedCheckpoints) consecutive checkpoints failed; raise tolerableFailedCheckpoints or fix the cause"))
        }
    }

    func stop() {
        lock.withLock {
            stopped = true
            pending.removeAll()
        }
    }

    /// A job attempt failed: every pending checkpoint is aborted (late acknowledgements from
    /// the failed attempt are ignored), and checkpoints already being written finish first, so
    /// the next attempt restores from a settled latest checkpoint. Without this, a checkpoint of
    /// the failed attempt could complete after the next attempt had aborted its transactions.
    func failover() {
        let aborted = lock.withLock { () -> [Int64] in
            let ids = Array(pending.keys)
            pending.removeAll()
            return ids
        }
        for id in aborted { try? storage.discard(checkpointId: id) }
        writer.sync {}
    }

    // MARK: writing

    private func finalize(_ entry: Pending) {
        let checkpointId = entry.barrier.checkpointId
        defer { lock.withLock { finalizing -= 1 } }
        do {
            let metadata = try write(entry)
            try storage.commit(metadata)
            var path = storage.checkpointDirectory(for: checkpointId)
            if let target = entry.savepointDirectory {
                path = try storage.writeSavepoint(from: metadata, to: target)
            }
            lock.withLock {
                latestCompleted = metadata
                consecutiveFailures = 0
                completedCount += 1
                lastCompletedEndMillis = now
                recent.append(CheckpointStatistics.Completed(
                    checkpointId: checkpointId, durationMillis: now - entry.startMillis,
                    sizeBytes: metadata.stateBytes, writtenBytes: metadata.writtenBytes))
                if recent.count > 1000 { recent.removeFirst(recent.count - 1000) }
            }
            try? storage.retain(latest: config.retainedCheckpoints)
            notifyComplete?(checkpointId)
            entry.completion?(.success(path))
        } catch {
            lock.withLock { pending[checkpointId] = entry }
            fail(checkpointId, reason: "writing it failed: \(error)")
        }
    }

    /// Writes every subtask's state and returns the metadata that describes it.
    private func write(_ entry: Pending) throws -> CheckpointMetadata {
        let checkpointId = entry.barrier.checkpointId
        let previous = lock.withLock { latestCompleted }
        var operators: [OperatorStateMetadata] = []
        for node in plan.graph.nodes {
            let chain = plan.chainOfNode[node.id]
            var subtasks: [SubtaskStateMetadata] = []
            var descriptors: [StateDescriptorMetadata] = []
            let operatorId = Self.operatorId(node)
            let previousOperator = previous?.operatorState(withId: operatorId)
            for subtask in 0..<plan.parallelism[node.id] {
                guard let snapshot = entry.acks[TaskKey(chain: chain, subtask: subtask)]?[node.id] else { continue }
                var extra = snapshot.extra
                if subtask == 0, let enumerator = entry.enumerators[node.id] {
                    extra.append(.init(name: "enumerator", bytes: enumerator))
                }
                if snapshot.isEmpty && extra.isEmpty { continue }
                let file = try storage.stateFileWriter(checkpointId: checkpointId, name: "op-\(node.id)-sub-\(subtask)")
                let keyGroups = try snapshot.keyedState.map {
                    try KeyGroupStateWriter(checkpointId: checkpointId, maxChanges: config.maxIncrementalChanges)
                        .write($0, previous: previousOperator, previousCheckpointId: previous?.checkpointId, to: file)
                } ?? []
                var operatorState: [NamedStateHandle] = []
                for state in snapshot.operatorState {
                    var blob = BinaryWriter(capacity: 64)
                    blob.writeVarUInt(UInt64(state.elements.count))
                    for element in state.elements { blob.writeBytes(element) }
                    operatorState.append(NamedStateHandle(name: state.name, distribution: state.distribution,
                                                          handle: try file.append(blob.bytes)))
                }
                let extraHandles = try extra.map { NamedStateHandle(name: $0.name, handle: try file.append($0.bytes)) }
                try file.finish()
                let range = node.isKeyed
                    ? try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                        maxParallelism: plan.maxParallelism[node.id], parallelism: plan.parallelism[node.id], operatorIndex: subtask)
                    : KeyGroupRange(start: 0, end: plan.maxParallelism[node.id] - 1)
                subtasks.append(SubtaskStateMetadata(subtaskIndex: subtask, keyGroupRange: range, keyGroups: keyGroups,
                                                     operatorState: operatorState, channelState: [], extra: extraHandles))
                if descriptors.isEmpty {
                    descriptors = snapshot.keyedStateDescriptors.map {
                        StateDescriptorMetadata(name: $0.name, kind: $0.kind, valueTypeDescription: $0.valueType)
                    }
                }
            }
            if subtasks.isEmpty { continue }
            operators.append(OperatorStateMetadata(operatorId: operatorId, operatorName: node.name,
                                                   parallelism: plan.parallelism[node.id],
                                                   maxParallelism: plan.maxParallelism[node.id],
                                                   keyedStateDescriptors: descriptors, subtasks: subtasks))
        }
        return CheckpointMetadata(checkpointId: checkpointId, kind: .checkpoint, jobName: jobName,
                                  timestampMillis: entry.barrier.timestampMillis,
                                  isIncremental: operators.contains { $0.referencesEarlierKeyGroups(than: checkpointId) },
                                  operators: operators)
    }

    /// The identity of an operator's state across job versions: its uid, or (without one) its
    /// position and name in the graph, which only an unchanged job reproduces.
    static func operatorId(_ node: StreamNode) -> String {
        node.uid ?? "auto:\(node.id):\(node.name)"
    }
}

/// What a job's checkpoints did so far (``JobClient/checkpointStatistics``).
public struct CheckpointStatistics: Sendable, Equatable {
    /// One completed checkpoint (or savepoint).
    public struct Completed: Sendable, Equatable {
        public var checkpointId: Int64
        /// From trigger to durable `_metadata`.
        public var durationMillis: Int64
        /// The bytes a restore from it reads: its full state, including blobs earlier
        /// checkpoints wrote.
        public var sizeBytes: Int64
        /// The bytes it wrote itself (less than ``sizeBytes`` when incremental).
        public var writtenBytes: Int64

        public init(checkpointId: Int64, durationMillis: Int64, sizeBytes: Int64, writtenBytes: Int64) {
            self.checkpointId = checkpointId
            self.durationMillis = durationMillis
            self.sizeBytes = sizeBytes
            self.writtenBytes = writtenBytes
        }
    }

    /// Checkpoints (and savepoints) completed.
    public var completed = 0
    /// Checkpoints that failed or were aborted.
    public var failed = 0
    /// The last completed checkpoints, oldest first (at most 1,000).
    public var recent: [Completed] = []

    public init(completed: Int = 0, failed: Int = 0, recent: [Completed] = []) {
        self.completed = completed
        self.failed = failed
        self.recent = recent
    }

    /// The duration of the last completed checkpoint (0 before the first).
    public var lastDurationMillis: Int64 { recent.last?.durationMillis ?? 0 }
    /// The state size of the last completed checkpoint (0 before the first).
    public var lastSizeBytes: Int64 { recent.last?.sizeBytes ?? 0 }
}
