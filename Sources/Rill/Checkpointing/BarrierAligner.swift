/// Barrier handling of one task with input channels, as a pure state machine: each input is a
/// `mutating` call returning what the task must do; the task performs it.
///
/// - Exactly-once (aligned): a channel that delivered barrier n is blocked until every open
///   channel has delivered it; then the task snapshots and forwards the barrier.
/// - At-least-once: nothing is blocked; the snapshot happens when the last barrier arrives
///   (records that overtook it are replayed after a restore, hence "at least once").
/// - A newer barrier while aligning aborts the older checkpoint.
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
        /// Alignment of the given checkpoint was given up (a newer one started); unblock all,
        /// then handle `then`.
        indirect case abort(checkpointId: Int64, then: Action)
    }

    private enum State {
        case idle
        case aligning(barrier: CheckpointBarrier, arrived: Set<Int>)
    }

    let mode: Mode
    private let channelCount: Int
    private var ended: Set<Int> = []
    private var state = State.idle
    private var lastCompleted: Int64 = 0

    init(mode: Mode, channelCount: Int) {
        self.mode = mode
        self.channelCount = channelCount
    }

    /// The checkpoint currently being aligned, if any.
    var pendingCheckpoint: Int64? {
        if case .aligning(let barrier, _) = state { return barrier.checkpointId }
        return nil
    }

    mutating func barrierArrived(_ barrier: CheckpointBarrier, channel: Int) -> Action {
        switch state {
        case .idle:
            guard barrier.checkpointId > lastCompleted else { return .none }
            return start(barrier, channel: channel)
        case .aligning(let current, var arrived):
            if barrier.checkpointId < current.checkpointId { return .none }
            if barrier.checkpointId > current.checkpointId {
                state = .idle
                return .abort(checkpointId: current.checkpointId, then: start(barrier, channel: channel))
            }
            arrived.insert(channel)
            state = .aligning(barrier: current, arrived: arrived)
            return completeIfAligned(blocking: channel)
        }
    }

    /// A channel ended: it will deliver no more barriers, so it no longer holds alignment up.
    mutating func channelEnded(_ channel: Int) -> Action {
        ended.insert(channel)
        guard case .aligning = state else { return .none }
        return completeIfAligned(blocking: nil)
    }

    private mutating func start(_ barrier: CheckpointBarrier, channel: Int) -> Action {
        state = .aligning(barrier: barrier, arrived: [channel])
        return completeIfAligned(blocking: channel)
    }

    private mutating func completeIfAligned(blocking channel: Int?) -> Action {
        guard case .aligning(let barrier, let arrived) = state else { return .none }
        if arrived.union(ended).count >= channelCount {
            state = .idle
            lastCompleted = barrier.checkpointId
            return .snapshot(barrier)
        }
        if mode == .exactlyOnce, let channel { return .block(channel: channel) }
        return .none
    }
}
