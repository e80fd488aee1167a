/// Whether a snapshot is a periodic checkpoint or a user-requested savepoint.
public enum SnapshotType: Sendable, Equatable {
    case checkpoint
    case savepoint
}

/// The marker a checkpoint travels as: injected at the sources, forwarded by every task once
/// its snapshot is taken.
@usableFromInline
struct CheckpointBarrier: Sendable, Equatable {
    let checkpointId: Int64
    let timestampMillis: Int64
    let type: SnapshotType
    /// Overtakes in-flight data instead of waiting for alignment.
    let unaligned: Bool
    /// For an aligned barrier of a job with unaligned checkpoints enabled: how long after
    /// `timestampMillis` alignment may take before the checkpoint switches to unaligned
    /// (Flink's `alignedCheckpointTimeout`). `nil`: never switches.
    let alignedTimeoutMillis: Int64?

    init(checkpointId: Int64, timestampMillis: Int64, type: SnapshotType, unaligned: Bool = false,
         alignedTimeoutMillis: Int64? = nil) {
        self.checkpointId = checkpointId
        self.timestampMillis = timestampMillis
        self.type = type
        self.unaligned = unaligned
        self.alignedTimeoutMillis = alignedTimeoutMillis
    }

    /// The same checkpoint, now overtaking in-flight data.
    func asUnaligned() -> CheckpointBarrier {
        CheckpointBarrier(checkpointId: checkpointId, timestampMillis: timestampMillis, type: type, unaligned: true)
    }

    /// Whether this aligned barrier's alignment timeout has passed at `nowMillis`.
    func alignmentTimedOut(nowMillis: Int64) -> Bool {
        guard !unaligned, let alignedTimeoutMillis else { return false }
        return nowMillis - timestampMillis >= alignedTimeoutMillis
    }
}

/// What one operator subtask contributes to a checkpoint. Captured on the task thread; keyed
/// state is serialized and everything is written to storage off it.
@usableFromInline
final class OperatorSnapshot: @unchecked Sendable {
    // Filled on the task thread, then handed over whole to the writer.
    struct Blob: @unchecked Sendable {
        // `encode` only reads what it captured: immutable copies (copy-on-write) taken at the barrier.
        let name: String
        /// Produces the blob's bytes; called by the checkpoint writer, off the task thread.
        let encode: () throws -> [UInt8]

        init(name: String, bytes: [UInt8]) {
            self.name = name
            encode = { bytes }
        }

        init(name: String, encode: @escaping () throws -> [UInt8]) {
            self.name = name
            self.encode = encode
        }
    }

    /// Keyed state as it was at the barrier, serialized per key group by the writer.
    var keyedState: (any KeyedStateCapture)?
    /// Keyed state declarations: name, kind and value type (to detect changed state types).
    var keyedStateDescriptors: [(name: String, kind: String, valueType: String)] {
        keyedState?.stateDeclarations ?? []
    }
    /// Operator state, with its redistribution on rescale ("split", "union", "broadcast").
    /// Elements are encoded when the writer asks (off the task thread).
    var operatorState: [(name: String, distribution: String, elements: () throws -> [[UInt8]])] = []
    /// Anything else an operator needs back (timers, source splits, pending transactions).
    var extra: [Blob] = []

    init() {}

    var isEmpty: Bool { keyedState == nil && operatorState.isEmpty && extra.isEmpty }
}

/// What one operator subtask gets back on restore.
@usableFromInline
final class OperatorRestoreState: @unchecked Sendable {
    // Built before the task starts, read-only afterwards.
    /// Keyed state blobs of the key groups this subtask owns (from any former subtask): per key
    /// group its base, then its changes in order.
    var keyGroups: [(keyGroup: Int, bytes: [UInt8])] = []
    var keyedStateDescriptors: [(name: String, kind: String, valueType: String)] = []
    /// Operator state entries for this subtask after redistribution.
    var operatorState: [(name: String, distribution: String, bytes: [[UInt8]])] = []
    /// Extra blobs by name, from the former subtask with the same index (or all former subtasks,
    /// when parallelism changed, in subtask order).
    var extra: [String: [[UInt8]]] = [:]
    /// The checkpoint restored from.
    let checkpointId: Int64

    init(checkpointId: Int64) { self.checkpointId = checkpointId }
}
