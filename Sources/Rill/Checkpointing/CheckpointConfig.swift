/// Whether a checkpoint aligns barriers (exactly-once state) or not (at-least-once).
public enum CheckpointingMode: Sendable, Equatable {
    case exactlyOnce
    case atLeastOnce
}

/// How checkpoints are taken and kept (Flink's `CheckpointConfig`).
public struct CheckpointConfig: Sendable {
    /// Directory of this job's checkpoints (`chk-N/` inside). Required for checkpoints.
    public var directory: String?
    /// Time between periodic checkpoints; `nil` takes none (savepoints still work).
    public var interval: Duration?
    public var mode: CheckpointingMode = .exactlyOnce
    /// A checkpoint not complete after this long is aborted.
    public var timeout: Duration = .seconds(600)
    /// Least time between the end of one checkpoint and the start of the next.
    public var minPauseBetweenCheckpoints: Duration = .zero
    /// Checkpoints in flight at once.
    public var maxConcurrentCheckpoints = 1
    /// Consecutive failed checkpoints the job survives; one more fails the job (Flink's
    /// default is 0: any failed checkpoint fails the job).
    public var tolerableFailedCheckpoints = 0
    /// Completed checkpoints kept on disk; older ones are deleted (files still referenced by
    /// a kept incremental checkpoint stay).
    public var retainedCheckpoints = 1
    /// Keep checkpoints when the job is cancelled (the default: a cancelled job must never
    /// lose its way back).
    public var retainOnCancellation = true
    /// Write only what changed since the previous checkpoint: per key group, the keys that
    /// changed (a change blob on top of the earlier blobs), nothing for an unchanged key group.
    public var incremental = false
    /// Unaligned checkpoints (Flink's `enableUnalignedCheckpoints`): the first barrier a task
    /// receives overtakes the data queued in front of it, the task snapshots at once, and the
    /// overtaken in-flight records are stored with the checkpoint and replayed before new
    /// input on restore. Checkpoints then complete under backpressure, at the cost of larger
    /// checkpoints. Requires `mode == .exactlyOnce` and one checkpoint in flight at a time;
    /// savepoints are always aligned. Record types crossing between tasks must conform to
    /// `BinaryCodable` or `Codable`.
    public var unalignedCheckpoints = false
    /// With ``unalignedCheckpoints``: checkpoints start aligned and switch to unaligned when a
    /// task's alignment is still going on this long after the checkpoint started (Flink's
    /// `alignedCheckpointTimeout`). `.zero` (the default) starts every checkpoint unaligned.
    public var alignedCheckpointTimeout: Duration = .zero
    /// In incremental checkpoints, the most change blobs a key group's state accumulates on
    /// top of its last full blob; then it is written in full again (compaction). Bounds what a
    /// restore reads; key groups are compacted earlier, a few per checkpoint, when their
    /// changes grow heavy (see `docs/checkpoints.md`).
    public var maxIncrementalChanges = 32

    public init() {}

    func validate() throws {
        func check(_ condition: Bool, _ message: String) throws {
            if !condition { throw RillError(.invalidConfiguration, message) }
        }
        if let interval {
            try check(interval > .zero, "the checkpoint interval must be positive")
            try check(directory != nil, "checkpoints are enabled (interval \(interval)) but no checkpoint directory is set; set configuration.checkpoints.directory")
        }
        try check(timeout > .zero, "the checkpoint timeout must be positive")
        try check(maxConcurrentCheckpoints >= 1, "max concurrent checkpoints must be at least 1")
        try check(tolerableFailedCheckpoints >= 0, "tolerable failed checkpoints cannot be negative")
        try check(maxIncrementalChanges >= 1, "maxIncrementalChanges must be at least 1 (1 writes every changed key group in full)")
        try check(retainedCheckpoints >= 1, "retain at least one checkpoint, or there is nothing to restore from")
        try check(alignedCheckpointTimeout >= .zero, "the aligned checkpoint timeout cannot be negative")
        if unalignedCheckpoints {
            try check(mode == .exactlyOnce, "unaligned checkpoints need checkpoint mode .exactlyOnce (at-least-once never aligns, so there is nothing to overtake); set mode = .exactlyOnce or turn unalignedCheckpoints off")
            try check(maxConcurrentCheckpoints == 1, "unaligned checkpoints allow one checkpoint in flight at a time (as in Flink); set maxConcurrentCheckpoints = 1")
        }
    }
}

/// Where a job starts from.
public enum RestoreSettings: Sendable, Equatable {
    /// Fresh state.
    case none
    /// The newest valid checkpoint in the checkpoint directory; corrupt or incomplete ones are
    /// skipped and reported. No valid checkpoint is an error, never a silent fresh start.
    case latestCheckpoint
    /// A given checkpoint or savepoint directory.
    case path(String, allowNonRestoredState: Bool = false)
}

/// What happens when a task fails (Flink's restart strategies).
public enum RestartStrategy: Sendable, Equatable {
    /// The job fails.
    case none
    /// Restart up to `attempts` times, waiting `delay` before each.
    case fixedDelay(attempts: Int, delay: Duration)
    /// Restart with a delay that doubles (times `multiplier`) up to `maxDelay`; give up after
    /// `maxAttempts` restarts.
    case exponentialDelay(initialDelay: Duration, maxDelay: Duration, multiplier: Double, maxAttempts: Int)
    /// Restart unless more than `maxFailures` failures happened within `interval`.
    case failureRate(maxFailures: Int, interval: Duration, delay: Duration)
}
