/// Barrier handling of one task with input channels, as a pure state machine: each input is a
/// `mutating` call returning what the task must do; the task performs it.
///
/// - Exactly-once, aligned: a channel that delivered barrier n is blocked until every open
///   channel has delivered it; then the task snapshots and forwards the barrier.
/// - Exactly-once, unaligned: the first barrier n (which overtook the queued data) makes the
///   task snapshot at once and forward the barrier ahead of its output; until every other
///   channel has delivered barrier n, the records the task takes from those channels belong
///   to the checkpoint as channel state ("awaiting" channels). An aligned barrier whose
///   alignment timeout passed, or a timeout signalled while aligning, switches to this mode.
/// - At-least-once: nothing is blocked; the snapshot happens when the last barrier arrives
///   (records that overtook it are replayed after a restore, hence "at least once").
/// - A newer barrier while a checkpoint is in progress aborts the older checkpoint.
struct BarrierAligner {
    enum Mode {
        case exactlyOnce
        case atLeastOnce
    }

    enum Action: Equatable {
        case none
        /// Stop taking input from this channel until alignment ends.
        case block(channel: Int)
        /// All barriers are in: snapshot, forward the barrier, unblock every channel.
        case snapshot(CheckpointBarrier)
        /// Snapshot now, forward `barrier` ahead of the output, unblock every channel, and
        /// record what the `awaiting` channels deliver until their barrier arrives. With no
        /// awaiting channel the checkpoint is complete for this task.
        case snapshotUnaligned(CheckpointBarrier, awaiting: Set<Int>)
        /// Unaligned checkpoint `checkpointId`: `channel` delivered its barrier (or ended), so
        /// its recording stops; `complete` when no channel is awaited any more.
        case unalignedProgress(checkpointId: Int64, channel: Int, complete: Bool)
        /// The given checkpoint was given up (a newer one started); unblock all, drop what was
        /// recorded for it, then handle `then`.
        indirect case abort(checkpointId: Int64, then: Action)
    }

    private enum State {
        case idle
        case aligning(barrier: CheckpointBarrier, arrived: Set<Int>)
        case unaligned(barrier: CheckpointBarrier, arrived: Set<Int>)
    }

    let mode: Mode
    private let channelCount: Int
    private var ended: Set<Int> = []
    private var state = State.idle
    /// The newest checkpoint this task snapshotted (or gave up): older barriers are stale.
    private var lastStarted: Int64 = 0

    init(mode: Mode, channelCount: Int) {
        self.mode = mode
        self.channelCount = channelCount
    }

    /// The checkpoint currently being aligned or recorded, if any.
    var pendingCheckpoint: Int64? { pendingBarrier?.checkpointId }

    private var pendingBarrier: CheckpointBarrier? {
        switch state {
        case .idle: nil
        case .aligning(let barrier, _), .unaligned(let barrier, _): barrier
        }
    }

    /// Whether barrier `checkpointId` has not reached this task's alignment yet.
    func isUnseen(_ checkpointId: Int64) -> Bool {
        checkpointId > lastStarted && checkpointId != pendingCheckpoint
    }

    mutating func barrierArrived(_ barrier: CheckpointBarrier, channel: Int, nowMillis: Int64) -> Action {
        let switchesToUnaligned = mode == .exactlyOnce
            && (barrier.unaligned || barrier.alignmentTimedOut(nowMillis: nowMillis))
        guard let current = pendingBarrier else {
            guard barrier.checkpointId > lastStarted else { return .none }
            return start(barrier, channel: channel, unaligned: switchesToUnaligned)
        }
        if barrier.checkpointId < current.checkpointId { return .none }
        if barrier.checkpointId > current.checkpointId {
            state = .idle
            return .abort(checkpointId: current.checkpointId,
                          then: start(barrier, channel: channel, unaligned: switchesToUnaligned))
        }
        switch state {
        case .idle:
            return .none
        case .aligning(_, var arrived):
            arrived.insert(channel)
            if switchesToUnaligned { return switchToUnaligned(current, arrived: arrived) }
            state = .aligning(barrier: current, arrived: arrived)
            return completeIfAligned(blocking: channel)
        case .unaligned(_, var arrived):
            arrived.insert(channel)
            return progressUnaligned(current, arrived: arrived, channel: channel)
        }
    }

    /// A channel ended: it will deliver no more barriers, so it no longer holds alignment up.
    mutating func channelEnded(_ channel: Int) -> Action {
        ended.insert(channel)
        switch state {
        case .idle: return .none
        case .aligning: return completeIfAligned(blocking: nil)
        case .unaligned(let current, let arrived):
            return progressUnaligned(current, arrived: arrived, channel: channel)
        }
    }

    /// The alignment timeout of `checkpointId` passed: if this task is aligning it, the
    /// checkpoint continues unaligned.
    mutating func alignmentTimedOut(_ checkpointId: Int64) -> Action {
        guard mode == .exactlyOnce, case .aligning(let current, let arrived) = state,
              current.checkpointId == checkpointId else { return .none }
        return switchToUnaligned(current, arrived: arrived)
    }

    private mutating func start(_ barrier: CheckpointBarrier, channel: Int, unaligned: Bool) -> Action {
        lastStarted = barrier.checkpointId
        if unaligned { return switchToUnaligned(barrier, arrived: [channel]) }
        state = .aligning(barrier: barrier, arrived: [channel])
        return completeIfAligned(blocking: channel)
    }

    private mutating func switchToUnaligned(_ barrier: CheckpointBarrier, arrived: Set<Int>) -> Action {
        let awaiting = awaitedChannels(arrived: arrived)
        state = awaiting.isEmpty ? .idle : .unaligned(barrier: barrier, arrived: arrived)
        return .snapshotUnaligned(barrier.asUnaligned(), awaiting: awaiting)
    }

    private mutating func progressUnaligned(_ barrier: CheckpointBarrier, arrived: Set<Int>, channel: Int) -> Action {
        let complete = awaitedChannels(arrived: arrived).isEmpty
        state = complete ? .idle : .unaligned(barrier: barrier, arrived: arrived)
        return .unalignedProgress(checkpointId: barrier.checkpointId, channel: channel, complete: complete)
    }

    private func awaitedChannels(arrived: Set<Int>) -> Set<Int> {
        Set(0..<channelCount).subtracting(arrived).subtracting(ended)
    }

    private mutating func completeIfAligned(blocking channel: Int?) -> Action {
        guard case .aligning(let barrier, let arrived) = state else { return .none }
        if arrived.union(ended).count >= channelCount {
            state = .idle
            return .snapshot(barrier)
        }
        if mode == .exactlyOnce, let channel { return .block(channel: channel) }
        return .none
    }
}
