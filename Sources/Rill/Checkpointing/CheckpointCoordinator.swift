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
        /// Unaligned checkpoints: per task, the in-flight record batches by input channel.
        var inFlight: [TaskKey: [Int: [AnyObject]]] = [:]
        /// Tasks that had finished (their whole input processed) instead of snapshotting.
        var finished: Set<TaskKey> = []
        /// The split enumerators' state by source node, taken with the barriers' injection;
        /// `nil` until the triggering thread has attached it.
        var enumerators: [Int: [UInt8]]?
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
    /// Checkpoints every task acknowledged that are still being written: still in flight for
    /// `maxConcurrentCheckpoints`, or periodic checkpoints would queue up behind a slow disk,
    /// holding their snapshots in memory and delaying every commit.
    private var writing = 0
    private var consecutiveFailures = 0
    private var lastCompletedEndMillis: Int64 = 0
    private(set) var latestCompleted: CheckpointMetadata?
    private var stopped = false
    /// Tasks of the running attempt that finished: they take part in every checkpoint as
    /// finished, so a job whose bounded inputs ended still checkpoints (Flink's FLIP-147).
    private var finishedTasks: Set<TaskKey> = []
    /// Between a failed job attempt and the next: a checkpoint started now would wait for
    /// tasks that are gone, and hold its slot of `maxConcurrentCheckpoints` until it times out.
    private var suspended = false
    /// Statistics, for benchmarks and tests.
    private var completedCount = 0
    private var failedCount = 0
    /// The last completed checkpoints, oldest first (at most 1,000).
    private var recent: [CheckpointStatistics.Completed] = []
    /// Alignment timeouts signalled to the tasks.
    private(set) var alignmentTimeouts = 0

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
    /// Unaligned checkpoints with an aligned start: the alignment of a checkpoint timed out.
    var alignmentTimedOut: ((Int64) -> Void)?
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
            guard !stopped && !suspended else { return nil }
            if periodic {
                guard pending.count + writing < config.maxConcurrentCheckpoints else { return nil }
                guard now - lastCompletedEndMillis >= config.minPauseBetweenCheckpoints.milliseconds else { return nil }
            }
            // Savepoints are always aligned, as in Flink: a savepoint holds no in-flight data.
            let unaligned = config.unalignedCheckpoints && type == .checkpoint
            let alignedTimeout = config.alignedCheckpointTimeout.milliseconds
            let barrier = CheckpointBarrier(checkpointId: nextCheckpointId, timestampMillis: now, type: type,
                                            unaligned: unaligned && alignedTimeout == 0,
                                            alignedTimeoutMillis: unaligned && alignedTimeout > 0 ? alignedTimeout : nil)
            nextCheckpointId += 1
            var entry = Pending(barrier: barrier, startMillis: now, savepointDirectory: savepointDirectory,
                                completion: completion)
            for task in finishedTasks { entry.acks[task] = [:] }
            entry.finished = finishedTasks
            pending[barrier.checkpointId] = entry
            return barrier
        }
        guard let barrier else {
            completion?(.failure(RillError(.invalidConfiguration, "a checkpoint could not start now (job stopping or restarting, or too many in flight)")))
            return
        }
        do {
            guard let injectBarriers else { throw RillError(.internalError, "no running job attempt to checkpoint") }
            let enumerators = try injectBarriers(barrier)
            // The tasks may all have acknowledged already: the checkpoint completes with
            // whichever of the two comes last, never without its enumerators' state.
            let complete = lock.withLock { () -> Pending? in
                pending[barrier.checkpointId]?.enumerators = enumerators
                return takeIfComplete(barrier.checkpointId)
            }
            if let complete { writer.async { [self] in finalize(complete) } }
        } catch {
            fail(barrier.checkpointId, reason: "barriers could not be injected: \(error)")
        }
        if let alignedTimeout = barrier.alignedTimeoutMillis {
            writer.asyncAfter(deadline: .now() + .milliseconds(Int(min(alignedTimeout, Int64(Int32.max))))) { [weak self] in
                guard let self else { return }
                let stillPending = lock.withLock { () -> Bool in
                    guard pending[barrier.checkpointId] != nil else { return false }
                    alignmentTimeouts += 1
                    return true
                }
                if stillPending { alignmentTimedOut?(barrier.checkpointId) }
            }
        }
        let timeout = config.timeout.milliseconds
        writer.asyncAfter(deadline: .now() + .milliseconds(Int(min(timeout, Int64(Int32.max))))) { [weak self] in
            self?.fail(barrier.checkpointId, reason: "it did not complete within the checkpoint timeout of \(timeout) ms")
        }
    }

    func acknowledge(_ checkpointId: Int64, task: TaskKey, snapshots: [Int: OperatorSnapshot],
                     inFlight: [Int: [AnyObject]] = [:]) {
        let complete: Pending? = lock.withLock {
            guard pending[checkpointId] != nil else { return nil }
            pending[checkpointId]!.acks[task] = snapshots
            if !inFlight.isEmpty { pending[checkpointId]!.inFlight[task] = inFlight }
            return takeIfComplete(checkpointId)
        }
        guard let complete else { return }
        writer.async { [self] in finalize(complete) }
    }

    /// Checkpoints in progress that `task` has not acknowledged, oldest first.
    func unacknowledged(by task: TaskKey) -> [CheckpointBarrier] {
        lock.withLock { pending.values.filter { $0.acks[task] == nil }.map(\.barrier).sorted { $0.checkpointId < $1.checkpointId } }
    }

    /// A task waits for a final checkpoint: start one now unless one is running (or may not
    /// start yet; then the periodic trigger starts it).
    func requestFinalCheckpoint() {
        guard config.interval != nil else { return }
        DispatchQueue.global().async { [weak self] in self?.trigger(type: .checkpoint, periodic: true) }
    }

    /// Tasks of the running attempt that have finished.
    var finishedTaskCount: Int { lock.withLock { finishedTasks.count } }

    /// A task processed all its input and ended: it acknowledges every pending checkpoint it
    /// has not acknowledged yet, and every later one, as finished. What it produced is in its
    /// downstream tasks' snapshots (they took its input up to its end before aligning); on
    /// restore it stays finished instead of producing it again.
    func taskFinished(_ task: TaskKey) {
        let completed = lock.withLock { () -> [Pending] in
            finishedTasks.insert(task)
            var completed: [Pending] = []
            for id in pending.keys.sorted() where pending[id]!.acks[task] == nil {
                pending[id]!.acks[task] = [:]
                pending[id]!.finished.insert(task)
                if let entry = takeIfComplete(id) { completed.append(entry) }
            }
            return completed
        }
        for entry in completed { writer.async { [self] in finalize(entry) } }
    }

    /// Takes checkpoint `checkpointId` out of `pending` for writing once every task has
    /// acknowledged it and its enumerators' state is attached. Called under `lock`.
    private func takeIfComplete(_ checkpointId: Int64) -> Pending? {
        guard let entry = pending[checkpointId], entry.enumerators != nil, entry.acks.count == expectedTasks else { return nil }
        pending[checkpointId] = nil
        writing += 1
        return entry
    }

    func decline(_ checkpointId: Int64, reason: TaskCheckpointing.Decline) {
        switch reason {
        case .supersededByNewerCheckpoint: fail(checkpointId, reason: "a newer checkpoint overtook it", counts: false)
        case .snapshotFailed(let error as OperatorFailure):
            fail(checkpointId, reason: "the snapshot of operator '\(error.operatorName)' failed: \(error.error)")
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

    /// The job ended: no checkpoint starts, pending ones are dropped, and one being written is
    /// finished first, so that nothing is still written into the directory once the job has
    /// reported its end (a restore started then would see a half-written checkpoint).
    func stop() {
        lock.withLock {
            stopped = true
            pending.removeAll()
        }
        writer.sync {}
    }

    /// A job attempt failed: every pending checkpoint is aborted (late acknowledgements from
    /// the failed attempt are ignored), and checkpoints already being written finish first, so
    /// the next attempt restores from a settled latest checkpoint. Without this, a checkpoint of
    /// the failed attempt could complete after the next attempt had aborted its transactions.
    /// No checkpoint starts until ``resume()``.
    func failover() {
        let aborted = lock.withLock { () -> [Int64] in
            suspended = true
            let ids = Array(pending.keys)
            pending.removeAll()
            finishedTasks.removeAll()
            return ids
        }
        for id in aborted { try? storage.discard(checkpointId: id) }
        writer.sync {}
    }

    /// The next job attempt is set up: checkpoints may start again.
    func resume() {
        lock.withLock { suspended = false }
    }

    // MARK: writing

    private func finalize(_ entry: Pending) {
        let checkpointId = entry.barrier.checkpointId
        defer { lock.withLock { writing -= 1 } }
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
            let isChainHead = plan.chains[chain].nodes[0] == node.id
            for subtask in 0..<plan.parallelism[node.id] {
                let task = TaskKey(chain: chain, subtask: subtask)
                let inFlight = isChainHead ? entry.inFlight[task] ?? [:] : [:]
                let finished = entry.finished.contains(task)
                guard let snapshot = entry.acks[task]?[node.id] ?? (inFlight.isEmpty && !finished ? nil : OperatorSnapshot()) else { continue }
                var extra = snapshot.extra
                if finished { extra.append(.init(name: RestorePlanner.finishedMarker, bytes: [])) }
                if subtask == 0, let enumerator = entry.enumerators?[node.id] {
                    extra.append(.init(name: "enumerator", bytes: enumerator))
                }
                if snapshot.isEmpty && extra.isEmpty && inFlight.isEmpty { continue }
                let file = try storage.stateFileWriter(checkpointId: checkpointId, name: "op-\(node.id)-sub-\(subtask)")
                let keyGroups = try snapshot.keyedState.map {
                    try KeyGroupStateWriter(checkpointId: checkpointId, maxChanges: config.maxIncrementalChanges)
                        .write($0, previous: previousOperator, previousCheckpointId: previous?.checkpointId, to: file)
                } ?? []
                var operatorState: [NamedStateHandle] = []
                for state in snapshot.operatorState {
                    let elements = try state.elements()
                    var blob = BinaryWriter(capacity: 64)
                    blob.writeVarUInt(UInt64(elements.count))
                    for element in elements { blob.writeBytes(element) }
                    operatorState.append(NamedStateHandle(name: state.name, distribution: state.distribution,
                                                          handle: try file.append(blob.bytes)))
                }
                let extraHandles = try extra.map { NamedStateHandle(name: $0.name, handle: try file.append(try $0.encode())) }
                let channelState = try inFlight.sorted { $0.key < $1.key }.map { channel, batches in
                    ChannelStateHandle(inputChannel: channel, handle: try file.append { writer in
                        try writeInFlight(batches, chain: chain, subtask: subtask, channel: channel, into: &writer)
                    })
                }
                try file.finish()
                let range = node.isKeyed
                    ? try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                        maxParallelism: plan.maxParallelism[node.id], parallelism: plan.parallelism[node.id], operatorIndex: subtask)
                    : KeyGroupRange(start: 0, end: plan.maxParallelism[node.id] - 1)
                subtasks.append(SubtaskStateMetadata(subtaskIndex: subtask, keyGroupRange: range, keyGroups: keyGroups,
                                                     operatorState: operatorState, channelState: channelState, extra: extraHandles))
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

    /// One input channel's in-flight records, after a header naming the channel by what
    /// outlives a change of parallelism: the upstream operator, the side output it came
    /// from, the input it feeds, and the upstream subtask.
    private func writeInFlight(_ batches: [AnyObject], chain: Int, subtask: Int, channel: Int,
                               into writer: inout BinaryWriter) throws {
        let source = plan.channels[chain][subtask][channel]
        let edge = plan.graph.edges[source.edge]
        InFlightChannel(upstreamOperatorId: Self.operatorId(plan.graph.nodes[edge.source.node]),
                        sideOutput: edge.source.sideOutput?.name ?? "", inputIndex: edge.inputIndex,
                        upstreamSubtask: source.upstreamSubtask).encode(to: &writer)
        try edge.typeOps.inFlight.encode(batches, &writer)
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
