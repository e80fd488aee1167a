/// An operator with state that takes part in checkpoints (Flink's `StreamOperatorStateHandler`
/// hooks). Called on the task thread only.
@usableFromInline
protocol CheckpointedOperator: AnyObject {
    /// Before `open()`: load the state of a restored checkpoint.
    func initializeState(_ restore: OperatorRestoreState) throws
    /// Capture state for checkpoint `checkpointId`. With `incremental`, keyed state may list
    /// unchanged key groups instead of writing them.
    func snapshotState(checkpointId: Int64, into snapshot: OperatorSnapshot, incremental: Bool) throws
    /// Checkpoint `checkpointId` is durable (commit what it covers).
    func notifyCheckpointComplete(_ checkpointId: Int64) throws
    /// Checkpoint `checkpointId` will never complete.
    func notifyCheckpointAborted(_ checkpointId: Int64) throws
}

/// An operator whose work outlives its input: after end of input its task stays alive until a
/// checkpoint covering that work completed (Flink's final checkpoint, FLIP-147) — a
/// transactional sink's last transaction commits with it, never from memory after the fact.
@usableFromInline
protocol FinalCheckpointAwaiting: AnyObject {
    /// Checked after end of input and after each completed checkpoint.
    var awaitsFinalCheckpoint: Bool { get }
}

extension CheckpointedOperator {
    @usableFromInline func notifyCheckpointComplete(_ checkpointId: Int64) throws {}
    @usableFromInline func notifyCheckpointAborted(_ checkpointId: Int64) throws {}
}

/// The zero-size namespace is still one byte on the wire: the codec needs every value to take
/// space so a corrupt element count cannot make a reader loop without consuming input.
extension VoidNamespace: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) { writer.writeByte(0) }
    public init(from reader: inout BinaryReader) throws { _ = try reader.readByte() }
}

extension InternalTimerService {
    /// Timers as one blob: event-time then processing-time (timestamp, key, namespace). The
    /// queues are captured copy-on-write here, on the task thread; the returned blob encodes
    /// them when the checkpoint writer asks, off the task thread.
    func snapshot() throws -> OperatorSnapshot.Blob {
        guard let keyCodec = StateCodec<Key>.discovered(), let namespaceCodec = StateCodec<Namespace>.discovered() else {
            throw RillError(.stateError, "timers cannot be checkpointed: the key type \(Key.self) and namespace \(Namespace.self) must conform to BinaryCodable or Codable")
        }
        let queues = [eventTimers.storage, processingTimers.storage]
        return OperatorSnapshot.Blob(name: "timers") {
            var writer = BinaryWriter(capacity: 64)
            for queue in queues {
                writer.writeVarUInt(UInt64(queue.count))
                for case let timer? in queue.slots {
                    writer.writeVarInt(timer.timestamp)
                    try keyCodec.encode(timer.key, &writer)
                    try namespaceCodec.encode(timer.namespace, &writer)
                }
            }
            return writer.bytes
        }
    }

    /// Re-registers the timers of `blobs` whose key `owns` accepts (after rescaling, a subtask
    /// gets only its key groups' timers).
    func restore(_ blobs: [[UInt8]], owns: (Key) -> Bool) throws {
        guard let keyCodec = StateCodec<Key>.discovered(), let namespaceCodec = StateCodec<Namespace>.discovered() else {
            throw RillError(.stateError, "timers cannot be restored: the key type \(Key.self) and namespace \(Namespace.self) must conform to BinaryCodable or Codable")
        }
        for blob in blobs {
            var reader = BinaryReader(blob)
            for isEventTime in [true, false] {
                let count = try reader.readLength()
                for _ in 0..<count {
                    let timestamp = try reader.readVarInt()
                    let key = try keyCodec.decode(&reader)
                    let namespace = try namespaceCodec.decode(&reader)
                    guard owns(key) else { continue }
                    if isEventTime {
                        registerEventTimeTimer(timestamp, key: key, namespace: namespace)
                    } else {
                        registerProcessingTimeTimer(timestamp, key: key, namespace: namespace)
                    }
                }
            }
        }
    }
}

extension KeyedStateBackend {
    /// Captures keyed state into `snapshot` (serialized later by the checkpoint writer);
    /// `incremental` lets it list the keys changed since the last completed checkpoint.
    func snapshot(into snapshot: OperatorSnapshot, checkpointId: Int64, incremental: Bool) throws {
        snapshot.keyedState = try capture(checkpointId: checkpointId, incremental: incremental)
    }
}

extension KeyedOperatorCore {
    func snapshotState(into snapshot: OperatorSnapshot, checkpointId: Int64, incremental: Bool) throws {
        let timers = try timers.snapshot()
        try backend.snapshot(into: snapshot, checkpointId: checkpointId, incremental: incremental)
        snapshot.extra.append(timers)
    }

    func initializeState(_ restore: OperatorRestoreState) throws {
        try backend.restoreKeyGroups(restore.keyGroups)
        try timers.restore(restore.extra["timers"] ?? [], owns: { backend.owns($0) })
    }
}

extension KeyedProcessOperator: CheckpointedOperator {
    @usableFromInline func initializeState(_ restore: OperatorRestoreState) throws { try core.initializeState(restore) }
    @usableFromInline func snapshotState(checkpointId: Int64, into snapshot: OperatorSnapshot, incremental: Bool) throws {
        try core.snapshotState(into: snapshot, checkpointId: checkpointId, incremental: incremental)
    }
    @usableFromInline func notifyCheckpointComplete(_ checkpointId: Int64) throws {
        core.backend.checkpointCompleted(checkpointId)
    }
}

extension KeyedCoProcessOperator: CheckpointedOperator {
    @usableFromInline func initializeState(_ restore: OperatorRestoreState) throws { try core.initializeState(restore) }
    @usableFromInline func snapshotState(checkpointId: Int64, into snapshot: OperatorSnapshot, incremental: Bool) throws {
        try core.snapshotState(into: snapshot, checkpointId: checkpointId, incremental: incremental)
    }
    @usableFromInline func notifyCheckpointComplete(_ checkpointId: Int64) throws {
        core.backend.checkpointCompleted(checkpointId)
    }
}

extension KeyedReduceOperator: CheckpointedOperator {
    @usableFromInline func initializeState(_ restore: OperatorRestoreState) throws {
        try backend.restoreKeyGroups(restore.keyGroups)
    }
    @usableFromInline func snapshotState(checkpointId: Int64, into snapshot: OperatorSnapshot, incremental: Bool) throws {
        try backend.snapshot(into: snapshot, checkpointId: checkpointId, incremental: incremental)
    }
    @usableFromInline func notifyCheckpointComplete(_ checkpointId: Int64) throws {
        backend.checkpointCompleted(checkpointId)
    }
}
