/// A task's link to the checkpoint coordinator: the settings it needs and where it reports.
final class TaskCheckpointing: @unchecked Sendable {
    // Immutable; the closures are thread-safe (they hand off to the coordinator).
    enum Decline {
        case supersededByNewerCheckpoint
        case snapshotFailed(any Error)
    }

    let mode: BarrierAligner.Mode
    let incremental: Bool
    /// Checkpoint id, operator snapshots by node id, and (unaligned checkpoints) the in-flight
    /// record batches by input channel.
    let acknowledge: (Int64, [Int: OperatorSnapshot], [Int: [AnyObject]]) -> Void
    let declined: (Int64, Decline) -> Void
    /// Checkpoints in progress this task has not acknowledged (for a task whose input ended:
    /// their barriers will not come through its inputs).
    let unacknowledged: () -> [CheckpointBarrier]
    /// A task whose input ended waits for a checkpoint: start one soon.
    let requestFinalCheckpoint: () -> Void

    init(mode: BarrierAligner.Mode, incremental: Bool,
         acknowledge: @escaping (Int64, [Int: OperatorSnapshot], [Int: [AnyObject]]) -> Void,
         declined: @escaping (Int64, Decline) -> Void,
         unacknowledged: @escaping () -> [CheckpointBarrier],
         requestFinalCheckpoint: @escaping () -> Void) {
        self.unacknowledged = unacknowledged
        self.requestFinalCheckpoint = requestFinalCheckpoint
        self.mode = mode
        self.incremental = incremental
        self.acknowledge = acknowledge
        self.declined = declined
    }
}
