import Synchronization

/// A failure inside one operator, annotated where it happened.
@usableFromInline
struct OperatorFailure: Error {
    let operatorName: String
    let error: any Error
}

/// A barrier as it reached a task: its channel and the record batches it overtook there.
struct BarrierArrival {
    let channel: Int
    let overtaken: [AnyObject]
}

/// The in-flight records of one unaligned checkpoint at one task: per input channel, what the
/// barrier overtook, plus what the task took from the channel after its snapshot and before
/// the channel's own barrier. Batches are immutable once pushed, so keeping references
/// captures them; they are serialized off the task thread.
final class InFlightRecorder {
    let checkpointId: Int64
    let snapshots: [Int: OperatorSnapshot]
    private var recording: [Bool]
    private(set) var batches: [Int: [AnyObject]] = [:]

    init(checkpointId: Int64, snapshots: [Int: OperatorSnapshot], awaiting: Set<Int>, channelCount: Int) {
        self.checkpointId = checkpointId
        self.snapshots = snapshots
        recording = (0..<channelCount).map { awaiting.contains($0) }
    }

    func isRecording(_ channel: Int) -> Bool { recording[channel] }

    func stopRecording(_ channel: Int) { recording[channel] = false }

    func add(_ overtaken: [AnyObject], channel: Int) {
        guard !overtaken.isEmpty else { return }
        batches[channel, default: []].append(contentsOf: overtaken)
    }
}

/// One subtask of one chain: a thread running a mailbox loop.
///
/// Each turn of the loop is a ``step()``: run pending mails, fire due processing-time
/// callbacks, then take one unit of input (a source poll or one channel element). A driver
/// calls `step()` until the task finishes, and blocks on the task's gate when a step found no
/// work. Keeping the step separate from the thread lets a future deterministic mode drive
/// every subtask of a job from one thread.
final class StreamTask {
    enum StepResult {
        case didWork
        case idle
        /// Input is waiting but the output is full (backpressure).
        case outputFull
        case finished
    }

    struct ChainMember {
        let name: String
        let control: OperatorControl
    }

    let name: String
    let subtaskIndex: Int
    let gate: InputGate
    let timeService: ProcessingTimeService
    /// Head first, in topological order.
    let members: [ChainMember]
    let sourcePoll: (() throws -> InputStatus)?
    /// Per channel: hands a `RecordBatch` to the head's input.
    let channelInputs: [(AnyObject) throws -> Void]
    let networkOutputs: [NetworkOutput]
    private let valve: StatusWatermarkValve
    /// Node id of each chain member, head first (names state in checkpoints).
    let nodeIds: [Int]
    let checkpointing: TaskCheckpointing?
    private var aligner: BarrierAligner?
    /// The unaligned checkpoint whose in-flight records are being captured, if any.
    private var inFlight: InFlightRecorder?
    private var blockedChannels: [Int] = []
    private var endedChannels = 0
    private var finished = false
    /// End of input was processed; the task may still wait for its final checkpoint.
    private var inputFinished = false
    /// The newest checkpoint triggered directly (not by a barrier) in this task.
    private var lastTriggered: Int64 = 0
    /// Read by the coordinator's thread: triggers go to tasks waiting for a final checkpoint.
    let isAwaitingFinalCheckpoint = Atomic<Bool>(false)
    private var opened = false
    private var clockToken: Int?

    init(name: String, subtaskIndex: Int, gate: InputGate, timeService: ProcessingTimeService,
         members: [ChainMember], sourcePoll: (() throws -> InputStatus)?,
         channelInputs: [(AnyObject) throws -> Void], networkOutputs: [NetworkOutput],
         nodeIds: [Int], checkpointing: TaskCheckpointing?) {
        self.nodeIds = nodeIds
        self.checkpointing = checkpointing
        if let checkpointing, !channelInputs.isEmpty {
            aligner = BarrierAligner(mode: checkpointing.mode, channelCount: channelInputs.count)
        }
        self.name = name
        self.subtaskIndex = subtaskIndex
        self.gate = gate
        self.timeService = timeService
        self.members = members
        self.sourcePoll = sourcePoll
        self.channelInputs = channelInputs
        self.networkOutputs = networkOutputs
        valve = StatusWatermarkValve(channelCount: max(1, channelInputs.count))
    }

    var head: OperatorControl { members[0].control }

    /// Opens operators tail first, so each operator's downstream is ready before it emits.
    func open(flushInterval: Int64) throws {
        let clock = timeService.clock
        if !clock.advancesByItself {
            let gate = self.gate
            clockToken = clock.addWakeUp { gate.wakeUp() }
        }
        for member in members.reversed() {
            try attributed(member.name) { try member.control.open() }
        }
        opened = true
        if flushInterval > 0 && !networkOutputs.isEmpty {
            timeService.scheduleAtFixedRate(period: flushInterval) { [unowned self] _ in try self.flushOutputs() }
        }
    }

    /// One unit of work.
    func step() throws -> StepResult {
        if finished { return .finished }
        if gate.isCancelled { throw TaskCancelled() }
        var didWork = false
        for mail in gate.takeMails() {
            try mail()
            didWork = true
        }
        if inputFinished {
            // Only checkpoint mails matter now; the task ends once nothing awaits one.
            if !awaitsFinalCheckpoint {
                finished = true
                return .finished
            }
            return didWork ? .didWork : .idle
        }
        if try timeService.fireDue() { didWork = true }
        if !networkOutputs.allSatisfy(\.isAvailable) {
            // Backpressured: no input, but a barrier that overtook the input still goes through.
            if let (channel, element) = gate.poll(priorityOnly: true) {
                try process(element, channel: channel)
                return .didWork
            }
            return didWork ? .didWork : .outputFull
        }
        if let sourcePoll {
            switch try attributed(members[0].name, sourcePoll) {
            case .moreAvailable: didWork = true
            case .nothingAvailable: break
            case .endOfInput:
                return try finishChain()
            }
        } else if channelInputs.isEmpty {
            return try finishChain()
        } else if let (channel, element) = gate.poll() {
            try process(element, channel: channel)
            didWork = true
            if endedChannels == channelInputs.count {
                return try finishChain()
            }
        }
        return didWork ? .didWork : .idle
    }

    /// Runs steps until the task finishes; blocks while there is nothing to do.
    func run() throws {
        while true {
            switch try step() {
            case .finished: return
            case .didWork: continue
            case .idle:
                try flushOutputs()
                // Waiting for a final checkpoint: only mails wake the task, no timer is due.
                gate.waitForWork(timeoutNanos: inputFinished ? nil : waitTimeout())
            case .outputFull:
                gate.waitForWork(timeoutNanos: waitTimeout(), forInput: false)
            }
        }
    }

    private func waitTimeout() -> Int64? {
        guard timeService.clock.advancesByItself, let deadline = timeService.nextDeadline else { return nil }
        return max(0, deadline - timeService.currentTime) * 1_000_000
    }

    private func process(_ element: ChannelElement, channel: Int) throws {
        switch element {
        case .records(let batch, _):
            if let inFlight, inFlight.isRecording(channel) { inFlight.add([batch], channel: channel) }
            try channelInputs[channel](batch)
        case .watermark(let watermark):
            if let combined = valve.inputWatermark(watermark, channel: channel) {
                try attributed(members[0].name) { try head.processWatermark(combined) }
            }
        case .watermarkStatus(let idle):
            try handleValveUpdate(valve.inputWatermarkStatus(idle ? .idle : .active, channel: channel))
        case .barrier(let barrier):
            try barrierArrived(barrier, channel: channel, overtaken: [])
        case .priorityBarrier(let barrier, let overtaken):
            try barrierArrived(barrier, channel: channel, overtaken: overtaken)
        case .endOfPartition:
            endedChannels += 1
            if let action = aligner?.channelEnded(channel) { try handle(action) }
        }
    }

    // MARK: checkpoints

    private func handle(_ action: BarrierAligner.Action, arrival: BarrierArrival? = nil) throws {
        switch action {
        case .none:
            break
        case .block(let channel):
            gate.setBlocked(true, channel: channel)
            blockedChannels.append(channel)
        case .snapshot(let barrier):
            unblockAll()
            try performCheckpoint(barrier)
        case .snapshotUnaligned(let barrier, let awaiting):
            unblockAll()
            let snapshots = try snapshotOperators(barrier)
            for output in networkOutputs { try output.broadcastPriorityBarrier(barrier) }
            guard let snapshots else { return }
            let recorder = InFlightRecorder(checkpointId: barrier.checkpointId, snapshots: snapshots,
                                            awaiting: awaiting, channelCount: channelInputs.count)
            if let arrival { recorder.add(arrival.overtaken, channel: arrival.channel) }
            inFlight = recorder
            if awaiting.isEmpty {
                finishUnaligned()
            } else {
                try takeQueuedBarriers(barrier, channels: awaiting)
            }
        case .unalignedProgress(let checkpointId, let channel, let complete):
            guard let recorder = inFlight, recorder.checkpointId == checkpointId else { return }
            recorder.stopRecording(channel)
            if let arrival, arrival.channel == channel { recorder.add(arrival.overtaken, channel: channel) }
            if complete { finishUnaligned() }
        case .abort(let checkpointId, let then):
            unblockAll()
            if inFlight?.checkpointId == checkpointId { inFlight = nil }
            checkpointing?.declined(checkpointId, TaskCheckpointing.Decline.supersededByNewerCheckpoint)
            try handle(then, arrival: arrival)
        }
    }

    private func unblockAll() {
        for channel in blockedChannels { gate.setBlocked(false, channel: channel) }
        blockedChannels.removeAll()
    }

    /// An unaligned checkpoint started while aligned barriers of it were still queued in
    /// `channels` (its alignment timed out): they are taken out of the queues now, and the
    /// records in front of them become channel state, instead of waiting for the data ahead.
    private func takeQueuedBarriers(_ barrier: CheckpointBarrier, channels: Set<Int>) throws {
        for channel in channels.sorted() {
            guard let (_, overtaken) = gate.extractBarrier(barrier.checkpointId, channel: channel) else { continue }
            try barrierArrived(barrier, channel: channel, overtaken: overtaken)
        }
    }

    private func barrierArrived(_ barrier: CheckpointBarrier, channel: Int, overtaken: [AnyObject]) throws {
        guard let action = aligner?.barrierArrived(barrier, channel: channel, nowMillis: SystemClock.shared.currentTimeMillis()) else { return }
        try handle(action, arrival: BarrierArrival(channel: channel, overtaken: overtaken))
    }

    /// Every input channel delivered the barrier of the unaligned checkpoint in progress (or
    /// ended): its state and the in-flight records are complete.
    private func finishUnaligned() {
        guard let recorder = inFlight else { return }
        inFlight = nil
        checkpointing?.acknowledge(recorder.checkpointId, recorder.snapshots, recorder.batches)
    }

    /// The alignment timeout of checkpoint `checkpointId` passed (a mail from the
    /// coordinator): an alignment in progress continues unaligned, and a barrier of it still
    /// queued behind data overtakes that data.
    func alignmentTimedOut(_ checkpointId: Int64) throws {
        guard !finished, let aligner else { return }
        if aligner.pendingCheckpoint == checkpointId {
            if let action = self.aligner?.alignmentTimedOut(checkpointId) { try handle(action) }
            return
        }
        guard aligner.isUnseen(checkpointId) else { return }
        for channel in 0..<channelInputs.count {
            guard let (barrier, overtaken) = gate.extractBarrier(checkpointId, channel: channel) else { continue }
            // The first barrier found starts the unaligned checkpoint, which takes the others.
            try barrierArrived(barrier.asUnaligned(), channel: channel, overtaken: overtaken)
            return
        }
    }

    /// The coordinator asks for a checkpoint (a mail, between records): source tasks, and
    /// tasks whose input ended that wait for their final checkpoint.
    func triggerCheckpoint(_ barrier: CheckpointBarrier) throws {
        // A finished task takes part as finished: the coordinator learns it when the task ends.
        guard !finished, barrier.checkpointId > lastTriggered else { return }
        lastTriggered = barrier.checkpointId
        try performCheckpoint(barrier)
    }

    /// Snapshots every operator of the chain, forwards the barrier downstream, and reports the
    /// snapshots. State is captured here, on the task thread; the coordinator writes it to
    /// storage elsewhere.
    private func performCheckpoint(_ barrier: CheckpointBarrier) throws {
        guard let checkpointing else { return }
        let snapshots = try snapshotOperators(barrier)
        if inputFinished {
            // Downstream tasks already saw this one end: no barrier follows.
        } else if barrier.unaligned || barrier.alignmentTimedOut(nowMillis: SystemClock.shared.currentTimeMillis()) {
            // Late already: downstream tasks should not wait for the data in front of it.
            for output in networkOutputs { try output.broadcastPriorityBarrier(barrier.asUnaligned()) }
        } else {
            for output in networkOutputs { try output.broadcastControl(.barrier(barrier)) }
        }
        if let snapshots { checkpointing.acknowledge(barrier.checkpointId, snapshots, [:]) }
    }

    /// The chain's operator snapshots, or `nil` when one failed: a snapshot failure declines
    /// the checkpoint (the coordinator counts it), it does not fail the job.
    private func snapshotOperators(_ barrier: CheckpointBarrier) throws -> [Int: OperatorSnapshot]? {
        guard let checkpointing else { return nil }
        var snapshots: [Int: OperatorSnapshot] = [:]
        for (index, member) in members.enumerated() {
            guard let stateful = member.control.instance as? any CheckpointedOperator else { continue }
            let snapshot = OperatorSnapshot()
            do {
                try attributed(member.name) {
                    try stateful.snapshotState(checkpointId: barrier.checkpointId, into: snapshot,
                                               incremental: checkpointing.incremental && barrier.type == .checkpoint)
                }
            } catch let error as TaskCancelled {
                throw error
            } catch {
                checkpointing.declined(barrier.checkpointId, .snapshotFailed(error))
                return nil
            }
            snapshots[nodeIds[index]] = snapshot
        }
        return snapshots
    }

    /// A checkpoint is durable: operators may commit what it covers.
    func notifyCheckpointComplete(_ checkpointId: Int64) throws {
        for member in members {
            guard let stateful = member.control.instance as? any CheckpointedOperator else { continue }
            try attributed(member.name) { try stateful.notifyCheckpointComplete(checkpointId) }
        }
    }

    func notifyCheckpointAborted(_ checkpointId: Int64) throws {
        for member in members {
            guard let stateful = member.control.instance as? any CheckpointedOperator else { continue }
            try attributed(member.name) { try stateful.notifyCheckpointAborted(checkpointId) }
        }
    }

    /// Loads restored state into the chain's operators, before they open.
    func initializeState(_ restore: [Int: OperatorRestoreState]) throws {
        for (index, member) in members.enumerated() {
            guard let state = restore[nodeIds[index]] else { continue }
            guard let stateful = member.control.instance as? any CheckpointedOperator else { continue }
            try attributed(member.name) { try stateful.initializeState(state) }
        }
    }

    private func handleValveUpdate(_ update: StatusWatermarkValve.Update) throws {
        if let watermark = update.watermark {
            try attributed(members[0].name) { try head.processWatermark(watermark) }
        }
        if let status = update.status {
            try attributed(members[0].name) { try head.processWatermarkStatus(status == .idle) }
        }
    }

    /// A task restored as finished: it only tells downstream tasks that it is done; its
    /// operators never open.
    func endRestoredAsFinished() throws {
        for output in networkOutputs { try output.broadcastControl(.endOfPartition) }
        finished = true
    }

    /// End of input: each operator, head first, learns that its input ended and emits what it
    /// buffered; then downstream tasks learn that this one is done. A chain whose operators
    /// still have work for a checkpoint (a transactional sink's last transaction) stays alive
    /// until a checkpoint covering it completed (Flink's final checkpoint, FLIP-147).
    private func finishChain() throws -> StepResult {
        for member in members {
            try attributed(member.name) {
                try member.control.endInput()
                try member.control.finish()
            }
        }
        for output in networkOutputs { try output.broadcastControl(.endOfPartition) }
        inputFinished = true
        guard awaitsFinalCheckpoint, let checkpointing else {
            finished = true
            return .finished
        }
        isAwaitingFinalCheckpoint.store(true, ordering: .releasing)
        // Checkpoints already running never reach this task through its inputs any more.
        for barrier in checkpointing.unacknowledged() { try triggerCheckpoint(barrier) }
        checkpointing.requestFinalCheckpoint()
        return .didWork
    }

    /// Whether an operator of the chain waits for a checkpoint to complete before the task may
    /// end (checked after end of input).
    private var awaitsFinalCheckpoint: Bool {
        checkpointing != nil && members.contains { ($0.control.instance as? any FinalCheckpointAwaiting)?.awaitsFinalCheckpoint == true }
    }

    /// Pushes partial batches downstream, except into full channels: a flush must not block
    /// the task (they go when there is room, or when the next batch fills).
    func flushOutputs() throws {
        for output in networkOutputs where output.isAvailable { try output.flush() }
    }

    /// Closes every opened operator, keeping the first error.
    func close() throws {
        if let clockToken { timeService.clock.removeWakeUp(clockToken) }
        var firstError: (any Error)?
        for member in members {
            do { try attributed(member.name) { try member.control.close() } } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }

    private func attributed<R>(_ name: String, _ body: () throws -> R) throws -> R {
        try attributing(name, body)
    }
}

/// Runs `body`, naming `operatorName` in any error that does not yet name an operator.
@usableFromInline
func attributing<R>(_ operatorName: String, _ body: () throws -> R) throws -> R {
    do {
        return try body()
    } catch let error as OperatorFailure {
        throw error
    } catch let error as TaskCancelled {
        throw error
    } catch {
        throw OperatorFailure(operatorName: operatorName, error: error)
    }
}
