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

    init(mode: BarrierAligner.Mode, incremental: Bool,
         acknowledge: @escaping (Int64, [Int: OperatorSnapshot], [Int: [AnyObject]]) -> Void,
         declined: @escaping (Int64, Decline) -> Void) {
        self.mode = mode
        self.incremental = incremental
        self.acknowledge = acknowledge
        self.declined = declined
    }
}
