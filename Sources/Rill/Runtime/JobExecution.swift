import Synchronization

/// The lifecycle state of a job (Flink's `JobStatus`, reduced to what an embedded job has).
public enum JobStatus: String, Sendable {
    case running = "RUNNING"
    case finished = "FINISHED"
    case failed = "FAILED"
    case cancelling = "CANCELLING"
    case cancelled = "CANCELED"

    /// Whether the job will not change state any more.
    public var isTerminal: Bool { self == .finished || self == .failed || self == .cancelled }
}

/// Record counts of one operator, summed over its subtasks.
public struct OperatorRecordCounts: Sendable, Equatable {
    public let operatorName: String
    public let recordsIn: Int
    public let recordsOut: Int
    /// Elements a window operator dropped because they were late (Flink's
    /// `numLateRecordsDropped`); 0 for other operators.
    public var numLateRecordsDropped: Int = 0
}

/// What a finished job reports.
public struct JobExecutionResult: Sendable {
    public let jobName: String
    /// Wall-clock run time in milliseconds.
    public let durationMillis: Int64
    /// Per operator, in the order the job declared them.
    public let operators: [OperatorRecordCounts]

    /// Counts of the first operator with this name.
    public func counts(_ operatorName: String) -> OperatorRecordCounts? {
        operators.first { $0.operatorName == operatorName }
    }
}

/// Runs one job attempt: a thread per subtask, failure propagation, cancellation.
final class JobExecution: @unchecked Sendable {
    // Mutable state is guarded by `lock`; tasks touch only their own objects.
    let jobName: String
    let plan: ExecutionPlan
    let configuration: StreamEnvironment.Configuration
    private let lock = ConditionLock()
    private var status = JobStatus.running
    private var firstFailure: RillError?
    private var runningTasks = 0
    private var outcome: Result<JobExecutionResult, RillError>?
    private var waiters: [CheckedContinuation<JobExecutionResult, any Error>] = []
    private let gates: [[InputGate]]
    /// `channelIndex[chain][subtask][edge << 32 | upstream]`
    private let channelIndex: [[[Int: Int]]]
    /// Read by the job master for the sinks' final commits.
    let shared = JobShared()
    /// Per node, per subtask.
    let metrics: [[OperatorMetrics]]
    private let startMillis: Int64
    let checkpoints: CheckpointCoordinator?
    let restore: RestorePlanner?
    /// Running tasks, for checkpoint barriers and notifications.
    private var tasks: [[StreamTask?]]

    init(jobName: String, plan: ExecutionPlan, configuration: StreamEnvironment.Configuration,
         checkpoints: CheckpointCoordinator? = nil, restore: RestorePlanner? = nil) {
        self.checkpoints = checkpoints
        self.restore = restore
        tasks = plan.chains.map { Array(repeating: nil, count: $0.parallelism) }
        self.jobName = jobName
        self.plan = plan
        self.configuration = configuration
        gates = plan.chains.map { chain in
            (0..<chain.parallelism).map { subtask in
                InputGate(channelCount: plan.channels[chain.index][subtask].count, capacity: configuration.channelCapacity)
            }
        }
        channelIndex = plan.channels.map { perSubtask in
            perSubtask.map { sources in
                var index: [Int: Int] = [:]
                for (channel, source) in sources.enumerated() { index[source.edge << 32 | source.upstreamSubtask] = channel }
                return index
            }
        }
        metrics = plan.graph.nodes.map { node in (0..<plan.parallelism[node.id]).map { _ in OperatorMetrics() } }
        startMillis = SystemClock.shared.currentTimeMillis()
    }

    // MARK: control

    func start() {
        lock.withLock { runningTasks = plan.chains.reduce(0) { $0 + $1.parallelism } }
        for chain in plan.chains {
            for subtask in 0..<chain.parallelism {
                startThread(name: "rill-task-\(chain.index).\(subtask)") { [self] in runTask(chain: chain, subtask: subtask) }
            }
        }
    }

    var currentStatus: JobStatus { lock.withLock { status } }

    func cancel() {
        let shouldCancel = lock.withLock { () -> Bool in
            guard status == .running else { return false }
            status = .cancelling
            return true
        }
        guard shouldCancel else { return }
        cancelAllGates()
        let timeout = configuration.cancellationTimeout.milliseconds
        startThread(name: "rill-cancel") { [self] in
            // A task stuck in user code that ignores cancellation cannot be stopped from outside;
            // after the timeout the job reports cancelled and names the stuck tasks.
            let done = lock.withLock { () -> Bool in
                if runningTasks > 0 { lock.waitConsumer(timeoutNanos: timeout * 1_000_000) }
                return runningTasks == 0
            }
            if !done { complete(stuck: true) }
        }
    }

    private func cancelAllGates() {
        for perChain in gates { for gate in perChain { gate.cancel() } }
    }

    func result() async throws -> JobExecutionResult {
        try await withCheckedThrowingContinuation { continuation in
            let ready = lock.withLock { () -> Result<JobExecutionResult, RillError>? in
                if let outcome { return outcome }
                waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(with: ready.mapError { $0 as any Error }) }
        }
    }

    /// Blocks the calling thread until the job ends.
    func waitForResult() throws -> JobExecutionResult {
        let outcome = lock.withLock { () -> Result<JobExecutionResult, RillError> in
            while self.outcome == nil { lock.waitProducer(timeoutNanos: nil) }
            return self.outcome!
        }
        return try outcome.get()
    }

    func operatorCounts() -> [OperatorRecordCounts] {
        plan.graph.nodes.map { node in
            OperatorRecordCounts(operatorName: node.name,
                                 recordsIn: metrics[node.id].reduce(0) { $0 + $1.recordsIn },
                                 recordsOut: metrics[node.id].reduce(0) { $0 + $1.recordsOut },
                                 numLateRecordsDropped: metrics[node.id].reduce(0) { $0 + $1.lateRecordsDropped })
        }
    }

    // MARK: tasks

    private func runTask(chain: ExecutionPlan.Chain, subtask: Int) {
        var failure: (any Error)?
        var task: StreamTask?
        do {
            let built = try buildTask(chain: chain, subtask: subtask)
            if restore?.isFinished(chain: chain) == true {
                // It had processed all its input when the checkpoint was taken, and its output
                // is in its downstream tasks' state: running it again would repeat that output.
                lock.withLock { tasks[chain.index][subtask] = built }
                try built.endRestoredAsFinished()
                taskEnded(chain: chain, subtask: subtask, failure: nil)
                return
            }
            task = built
            if let restore {
                var states: [Int: OperatorRestoreState] = [:]
                for nodeId in chain.nodes {
                    let node = plan.graph.nodes[nodeId]
                    let range = node.isKeyed
                        ? try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                            maxParallelism: plan.maxParallelism[nodeId], parallelism: plan.parallelism[nodeId], operatorIndex: subtask)
                        : KeyGroupRange(start: 0, end: plan.maxParallelism[nodeId] - 1)
                    states[nodeId] = try restore.restoreState(node: node, subtask: subtask, keyGroupRange: range)
                }
                try built.initializeState(states)
            }
            lock.withLock {
                tasks[chain.index][subtask] = built
                lock.signalConsumer()
            }
            try built.open(flushInterval: configuration.bufferTimeout.milliseconds)
            try built.run()
        } catch {
            failure = error
        }
        if let task {
            do { try task.close() } catch { failure = failure ?? error }
        }
        taskEnded(chain: chain, subtask: subtask, failure: failure)
    }

    private func taskEnded(chain: ExecutionPlan.Chain, subtask: Int, failure: (any Error)?) {
        if failure == nil { checkpoints?.taskFinished(.init(chain: chain.index, subtask: subtask)) }
        var mustCancel = false
        let last = lock.withLock { () -> Bool in
            if let failure, !(failure is TaskCancelled), firstFailure == nil, status == .running || status == .cancelling {
                firstFailure = describe(failure, chain: chain, subtask: subtask)
                if status == .running {
                    status = .failed
                    mustCancel = true
                }
            }
            runningTasks -= 1
            lock.signalConsumer()
            return runningTasks == 0
        }
        if mustCancel { cancelAllGates() }
        if last { complete(stuck: false) }
    }

    private func describe(_ error: any Error, chain: ExecutionPlan.Chain, subtask: Int) -> RillError {
        var operatorName = plan.graph.nodes[chain.nodes[0]].name
        var cause = error
        if let failure = error as? OperatorFailure {
            operatorName = failure.operatorName
            cause = failure.error
        }
        let node = plan.graph.nodes.first { $0.name == operatorName && chain.nodes.contains($0.id) }
        let code: RillError.Code
        if let rill = cause as? RillError {
            code = rill.code
        } else {
            switch node?.kind {
            case .source: code = .sourceFailed
            case .sink: code = .sinkFailed
            default: code = .userFunctionFailed
            }
        }
        return RillError(code, "operator '\(operatorName)' (subtask \(subtask + 1) of \(chain.parallelism)) failed: \(cause)",
                         operatorName: operatorName, subtaskIndex: subtask, underlying: cause)
    }

    private func complete(stuck: Bool) {
        let (outcome, waiters) = lock.withLock { () -> (Result<JobExecutionResult, RillError>?, [CheckedContinuation<JobExecutionResult, any Error>]) in
            guard self.outcome == nil else { return (nil, []) }
            let result: Result<JobExecutionResult, RillError>
            switch status {
            case .running, .finished:
                status = .finished
                result = .success(JobExecutionResult(jobName: jobName,
                                                     durationMillis: SystemClock.shared.currentTimeMillis() - startMillis,
                                                     operators: operatorCounts()))
            case .failed:
                result = .failure(firstFailure ?? RillError(.jobFailed, "job '\(jobName)' failed"))
            case .cancelling, .cancelled:
                status = .cancelled
                let note = stuck ? "; \(runningTasks) task(s) did not stop within the cancellation timeout and were abandoned (a user function ignored cancellation)" : ""
                result = .failure(RillError(.jobCancelled, "job '\(jobName)' was cancelled\(note)"))
            }
            self.outcome = result
            let taken = self.waiters
            self.waiters = []
            lock.signalProducers()
            return (result, taken)
        }
        guard let outcome else { return }
        for waiter in waiters { waiter.resume(with: outcome.mapError { $0 as any Error }) }
    }

    private func buildTask(chain: ExecutionPlan.Chain, subtask: Int) throws -> StreamTask {
        let graph = plan.graph
        let gate = gates[chain.index][subtask]
        let timeService = ProcessingTimeService(clock: configuration.clock)
        var outputs: [Int: AnyObject] = [:]
        var built: [Int: BuiltOperator] = [:]
        for nodeId in chain.nodes {
            let node = graph.nodes[nodeId]
            let parallelism = plan.parallelism[nodeId]
            let maxParallelism = plan.maxParallelism[nodeId]
            let range = node.isKeyed
                ? try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                    maxParallelism: maxParallelism, parallelism: parallelism, operatorIndex: subtask)
                : KeyGroupRange(start: 0, end: maxParallelism - 1)
            let setup = OperatorSetup(operatorName: node.name, nodeId: node.id, uid: node.uid, subtaskIndex: subtask, parallelism: parallelism,
                                      maxParallelism: maxParallelism, keyGroupRange: range, configuration: configuration,
                                      timeService: timeService, gate: gate, job: shared, metrics: metrics[nodeId][subtask])
            let output = node.outputOps?.makeOutput(configuration.batchSize)
            (output as? SideOutputAttaching)?.attachMetrics(metrics[nodeId][subtask])
            outputs[nodeId] = output
            built[nodeId] = try attributing(node.name) { try node.build(setup, output) }
        }

        var sideOutputs: [String: AnyObject] = [:]
        var networkOutputs: [NetworkOutput] = []
        for (edgeIndex, edge) in graph.edges.enumerated() where chain.nodes.contains(edge.source.node) {
            var source: AnyObject = outputs[edge.source.node]!
            if let tag = edge.source.sideOutput {
                let key = "\(edge.source.node)/\(ObjectIdentifier(tag).hashValue)"
                if let existing = sideOutputs[key] {
                    source = existing
                } else {
                    let side = edge.typeOps.makeOutput(configuration.batchSize)
                    edge.typeOps.attachSideOutput(source, tag, side)
                    sideOutputs[key] = side
                    source = side
                }
            }
            if plan.isChained[edgeIndex] {
                let target = graph.nodes[edge.target]
                let targetOperator = built[edge.target]!
                let consumer = edge.typeOps.instrument(targetOperator.inputs[edge.inputIndex],
                                                       metrics[edge.target][subtask], target.name)
                let control = targetOperator.control
                edge.typeOps.connect(source, consumer, WatermarkTarget(
                    processWatermark: { watermark in try attributing(target.name) { try control.processWatermark(watermark) } },
                    processWatermarkStatus: { idle in try attributing(target.name) { try control.processWatermarkStatus(idle) } }))
            } else {
                let targetChain = plan.chainOfNode[edge.target]
                let targets = plan.targets(edge: edgeIndex, upstream: subtask).map { downstream in
                    let target = ChannelTarget(gate: gates[targetChain][downstream],
                                               channel: channelIndex[targetChain][downstream][edgeIndex << 32 | subtask]!)
                    target.gate.setProducer(gate, channel: target.channel)
                    return target
                }
                let (consumer, writer) = edge.writers.make(plan.partitioner[edgeIndex], targets, configuration.batchSize,
                                                           subtask, plan.maxParallelism[edge.target])
                edge.typeOps.connect(source, consumer, WatermarkTarget(
                    processWatermark: { try writer.broadcastControl(.watermark($0)) },
                    processWatermarkStatus: { try writer.broadcastControl(.watermarkStatus(idle: $0)) }))
                networkOutputs.append(writer)
            }
        }

        let headId = chain.nodes[0]
        let head = built[headId]!
        let headName = graph.nodes[headId].name
        let channelInputs = plan.channels[chain.index][subtask].map { source -> (AnyObject) throws -> Void in
            let edge = graph.edges[source.edge]
            return edge.typeOps.channelInput(edge.typeOps.instrument(head.inputs[edge.inputIndex],
                                                                     metrics[headId][subtask], headName))
        }
        let members = chain.nodes.map { StreamTask.ChainMember(name: graph.nodes[$0].name, control: built[$0]!.control) }
        var taskCheckpointing: TaskCheckpointing?
        if let checkpoints {
            let key = CheckpointCoordinator.TaskKey(chain: chain.index, subtask: subtask)
            taskCheckpointing = TaskCheckpointing(
                mode: checkpoints.config.mode == .exactlyOnce ? .exactlyOnce : .atLeastOnce,
                incremental: checkpoints.config.incremental,
                acknowledge: { id, snapshots, inFlight in
                    checkpoints.acknowledge(id, task: key, snapshots: snapshots, inFlight: inFlight)
                },
                declined: { id, reason in checkpoints.decline(id, reason: reason) },
                unacknowledged: { checkpoints.unacknowledged(by: key) },
                requestFinalCheckpoint: { checkpoints.requestFinalCheckpoint() })
        }
        return StreamTask(name: chain.name, subtaskIndex: subtask, gate: gate, timeService: timeService, members: members,
                          sourcePoll: head.pollNext, channelInputs: channelInputs, networkOutputs: networkOutputs,
                          nodeIds: chain.nodes, checkpointing: taskCheckpointing)
    }

    // MARK: checkpoints

    /// Unaligned checkpoints: puts the in-flight records the restored checkpoint holds into the
    /// input channels, ahead of anything the upstream tasks will send. At unchanged parallelism
    /// each channel gets back exactly its records; otherwise they are partitioned again as the
    /// edge partitions (by key group for keyed edges), from the upstream subtask that sent them.
    func restoreInFlightRecords() throws {
        guard let restore else { return }
        let allGates = gates.joined()
        for gate in allGates { gate.setRestoringInFlightRecords(true) }
        defer { for gate in allGates { gate.setRestoringInFlightRecords(false) } }
        for chain in plan.chains {
            let head = plan.graph.nodes[chain.nodes[0]]
            for var restored in try restore.inFlightRecords(node: head) {
                let channel = restored.channel
                guard let edgeIndex = plan.graph.edges.indices.first(where: { index in
                    let edge = plan.graph.edges[index]
                    return edge.target == head.id && edge.inputIndex == channel.inputIndex
                        && (edge.source.sideOutput?.name ?? "") == channel.sideOutput
                        && CheckpointCoordinator.operatorId(plan.graph.nodes[edge.source.node]) == channel.upstreamOperatorId
                }), !plan.isChained[edgeIndex] else {
                    if restore.allowNonRestoredState { continue }
                    throw RillError(.stateError, "the checkpoint holds in-flight records from operator id '\(channel.upstreamOperatorId)' into input \(channel.inputIndex + 1) of '\(head.name)', and this job has no such connection between tasks; restore with the original job graph, or with allowNonRestoredState to drop those records")
                }
                let edge = plan.graph.edges[edgeIndex]
                let batch = try attributing(head.name) { try edge.typeOps.inFlight.decode(&restored.records) }
                let upstream = channel.upstreamSubtask % plan.parallelism[edge.source.node]
                let formerChannel = channelIndex[chain.index].indices.contains(restored.formerSubtask)
                    ? channelIndex[chain.index][restored.formerSubtask][edgeIndex << 32 | upstream] : nil
                let layoutUnchanged = restored.formerParallelism == chain.parallelism
                    && channel.upstreamSubtask < plan.parallelism[edge.source.node]
                let targets: [ChannelTarget]
                let partitioner: PartitionerKind
                if layoutUnchanged, let formerChannel {
                    targets = [ChannelTarget(gate: gates[chain.index][restored.formerSubtask], channel: formerChannel)]
                    partitioner = .forward
                } else {
                    targets = plan.targets(edge: edgeIndex, upstream: upstream).map { downstream in
                        ChannelTarget(gate: gates[chain.index][downstream],
                                      channel: channelIndex[chain.index][downstream][edgeIndex << 32 | upstream]!)
                    }
                    partitioner = plan.partitioner[edgeIndex]
                }
                let (consumer, output) = edge.writers.make(partitioner, targets, configuration.batchSize, upstream,
                                                           plan.maxParallelism[edge.target])
                try edge.typeOps.inFlight.replay(batch, consumer)
                try output.flush()
            }
        }
    }

    /// Sends barrier `barrier` into every source subtask, snapshotting each source's split
    /// enumerator atomically with the injection. Returns the enumerator states by node id.
    func injectBarriers(_ barrier: CheckpointBarrier) throws -> [Int: [UInt8]] {
        // A checkpoint requested right after start waits (briefly) for the tasks to come up.
        let running = lock.withLock { () -> [[StreamTask?]] in
            let deadline = SystemClock.shared.currentTimeMillis() + 10_000
            while status == .running && tasks.contains(where: { $0.contains { $0 == nil } })
                && SystemClock.shared.currentTimeMillis() < deadline {
                lock.waitConsumer(timeoutNanos: 10_000_000)
            }
            return tasks
        }
        var enumerators: [Int: [UInt8]] = [:]
        for chain in plan.chains where plan.graph.nodes[chain.nodes[0]].kind == .source {
            let headId = chain.nodes[0]
            let sourceTasks = running[chain.index].compactMap { $0 }
            guard sourceTasks.count == chain.parallelism else {
                throw RillError(.jobFailed, "not every source subtask is running yet")
            }
            let inject = {
                for task in sourceTasks {
                    task.gate.enqueueMail { try task.triggerCheckpoint(barrier) }
                }
            }
            if let coordinator = shared.existingObject("source-coordinator-\(headId)") as? any SourceCoordinating {
                enumerators[headId] = try coordinator.snapshot(whileInjecting: inject)
            } else {
                inject()
            }
        }
        // Tasks whose input ended and that wait for a final checkpoint get no barrier through
        // their inputs any more: they are triggered like sources.
        for task in running.joined().compactMap({ $0 }) where task.isAwaitingFinalCheckpoint.load(ordering: .acquiring) {
            task.gate.enqueueMail { try task.triggerCheckpoint(barrier) }
        }
        return enumerators
    }

    /// Tells every running task that a checkpoint completed (or was aborted).
    func notifyCheckpoint(_ checkpointId: Int64, completed: Bool) {
        for task in builtTasks {
            task.gate.enqueueMail {
                if completed { try task.notifyCheckpointComplete(checkpointId) } else { try task.notifyCheckpointAborted(checkpointId) }
            }
        }
    }

    /// The tasks built so far (they get mails until the attempt ends).
    private var builtTasks: [StreamTask] { lock.withLock { tasks.joined().compactMap { $0 } } }

    /// Tells every running task that checkpoint `checkpointId` is past its alignment timeout.
    func alignmentTimedOut(_ checkpointId: Int64) {
        for task in builtTasks where !task.channelInputs.isEmpty {
            task.gate.enqueueMail { try task.alignmentTimedOut(checkpointId) }
        }
    }

    /// Fails the job from outside the tasks (e.g. too many failed checkpoints).
    func fail(_ error: RillError) {
        let mustCancel = lock.withLock { () -> Bool in
            guard status == .running else { return false }
            firstFailure = error
            status = .failed
            return true
        }
        if mustCancel { cancelAllGates() }
    }

    /// The gate of one subtask, for tests that look at queue sizes.
    func gate(chain: Int, subtask: Int) -> InputGate { gates[chain][subtask] }
}
