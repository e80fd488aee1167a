/// Whether a snapshot is a periodic checkpoint, owned by the job and deleted by retention,
/// or a savepoint, owned by the user: self-contained and never deleted by Rill.
public enum CheckpointKind: String, Hashable, Sendable, CustomStringConvertible {
    case checkpoint
    case savepoint

    public var description: String { rawValue }
}

/// What a completed checkpoint or savepoint holds: one entry per operator, with the handles
/// of every blob its subtasks wrote. Stored as `_metadata`, written last: a checkpoint
/// directory without it is not a checkpoint.
///
/// Handles are relative to the base directory of the snapshot (see ``StateHandle``).
public struct CheckpointMetadata: Hashable, Sendable {
    /// The format version this build writes. Version 2 added the change blobs of key groups
    /// (``KeyGroupStateHandle/changes``).
    public static var currentFormatVersion: UInt16 { 2 }
    /// The format versions this build reads.
    public static var readableFormatVersions: ClosedRange<UInt16> { 1...2 }

    /// The format version the metadata was written with (``currentFormatVersion`` for new
    /// metadata).
    public var formatVersion: UInt16
    /// The checkpoint's id, increasing within a job (the `N` of `chk-N`).
    public var checkpointId: Int64
    /// Checkpoint or savepoint.
    public var kind: CheckpointKind
    /// The name of the job that took it.
    public var jobName: String
    /// When the checkpoint was triggered, in milliseconds since 1970.
    public var timestampMillis: Int64
    /// `true` when some key groups reference blobs that earlier checkpoints wrote (a base, or
    /// changes on top of one).
    public var isIncremental: Bool
    /// Every operator with state, in graph order.
    public var operators: [OperatorStateMetadata]

    public init(
        checkpointId: Int64, kind: CheckpointKind = .checkpoint, jobName: String,
        timestampMillis: Int64, isIncremental: Bool = false, operators: [OperatorStateMetadata] = [],
        formatVersion: UInt16 = CheckpointMetadata.currentFormatVersion
    ) {
        self.formatVersion = formatVersion
        self.checkpointId = checkpointId
        self.kind = kind
        self.jobName = jobName
        self.timestampMillis = timestampMillis
        self.isIncremental = isIncremental
        self.operators = operators
    }

    /// Every handle of every operator and subtask: key groups, operator state, channel state
    /// and extra state.
    ///
    /// - Complexity: O(handles).
    public var allHandles: [StateHandle] {
        operators.flatMap { $0.subtasks.flatMap(\.allHandles) }
    }

    /// The files the handles point to, relative to the base directory.
    ///
    /// - Complexity: O(handles).
    public var referencedFiles: Set<String> { Set(allHandles.lazy.map(\.relativePath)) }

    /// The bytes of state this snapshot restores: the sum of its handles' lengths,
    /// including blobs that earlier checkpoints wrote.
    public var stateBytes: Int64 { allHandles.reduce(0) { $0 + $1.length } }

    /// The bytes this checkpoint wrote itself: its handles into its own `chk-N` directory
    /// (for a savepoint, all of them). An incremental checkpoint writes less than
    /// ``stateBytes``.
    public var writtenBytes: Int64 {
        guard kind == .checkpoint else { return stateBytes }
        let own = CheckpointStorage.checkpointDirectoryName(checkpointId) + "/"
        return allHandles.reduce(0) { $0 + ($1.relativePath.hasPrefix(own) ? $1.length : 0) }
    }

    /// The operator with `operatorId`, if any.
    public func operatorState(withId operatorId: String) -> OperatorStateMetadata? {
        operators.first { $0.operatorId == operatorId }
    }
}

// MARK: - Encoding

extension CheckpointKind: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeByte(self == .checkpoint ? 0 : 1)
    }

    public init(from reader: inout BinaryReader) throws {
        let start = reader.offset
        switch try reader.readByte() {
        case 0: self = .checkpoint
        case 1: self = .savepoint
        case let other:
            throw CodecError(.malformed, "unknown checkpoint kind \(other)", offset: start)
        }
    }
}

extension CheckpointMetadata: BinaryCodable {
    /// Writes the format version first, then the fields of that version.
    public func encode(to writer: inout BinaryWriter) {
        writer.writeVarUInt(UInt64(formatVersion))
        writer.writeVarInt(checkpointId)
        kind.encode(to: &writer)
        writer.writeString(jobName)
        writer.writeVarInt(timestampMillis)
        writer.writeBool(isIncremental)
        writer.write(operators)
    }

    /// Reads any version in ``readableFormatVersions``; others are `.versionMismatch`.
    public init(from reader: inout BinaryReader) throws {
        let start = reader.offset
        let version = try reader.readVarUInt()
        guard let readable = UInt16(exactly: version), Self.readableFormatVersions.contains(readable) else {
            throw CodecError(
                .versionMismatch,
                "checkpoint metadata format version \(version) is not one this build reads "
                    + "(\(Self.readableFormatVersions)); use a release that reads it",
                offset: start)
        }
        formatVersion = readable
        checkpointId = try reader.readVarInt()
        kind = try reader.read()
        jobName = try reader.readString()
        timestampMillis = try reader.readVarInt()
        isIncremental = try reader.readBool()
        operators = try reader.readArray { try OperatorStateMetadata(from: &$0, formatVersion: readable) }
    }
}
