/// The state of one operator in a checkpoint: its identity, its parallelism when the
/// checkpoint was taken, the keyed states it declared, and one entry per subtask.
public struct OperatorStateMetadata: Hashable, Sendable {
    /// The operator's `uid`, or the id Rill generated for it; restore matches operators by
    /// this id.
    public var operatorId: String
    /// The operator's name, for people.
    public var operatorName: String
    /// The number of subtasks that wrote the state.
    public var parallelism: Int
    /// The number of key groups (the maximum parallelism).
    public var maxParallelism: Int
    /// The keyed states the operator declared.
    public var keyedStateDescriptors: [StateDescriptorMetadata]
    /// One entry per subtask.
    public var subtasks: [SubtaskStateMetadata]

    public init(
        operatorId: String, operatorName: String, parallelism: Int, maxParallelism: Int,
        keyedStateDescriptors: [StateDescriptorMetadata] = [], subtasks: [SubtaskStateMetadata] = []
    ) {
        self.operatorId = operatorId
        self.operatorName = operatorName
        self.parallelism = parallelism
        self.maxParallelism = maxParallelism
        self.keyedStateDescriptors = keyedStateDescriptors
        self.subtasks = subtasks
    }
}

/// A keyed state as declared when the checkpoint was taken. A restore compares
/// `kind` and `valueTypeDescription` with the state the operator declares now, and fails
/// with the operator's and the state's names when they differ.
public struct StateDescriptorMetadata: Hashable, Sendable {
    /// The state's name.
    public var name: String
    /// `"value"`, `"list"`, `"map"`, `"reducing"` or `"aggregating"`.
    public var kind: String
    /// The value type (``StateCodec/typeDescription``), for example `"Int64"`.
    public var valueTypeDescription: String

    public init(name: String, kind: String, valueTypeDescription: String) {
        self.name = name
        self.kind = kind
        self.valueTypeDescription = valueTypeDescription
    }
}

/// The state one subtask wrote.
public struct SubtaskStateMetadata: Hashable, Sendable {
    /// The subtask's index, in `0..<parallelism`.
    public var subtaskIndex: Int
    /// The key groups the subtask owned (empty for an operator without keyed state).
    public var keyGroupRange: KeyGroupRange
    /// The keyed state of each key group that holds any, in key-group order (a key group
    /// without an entry holds no state).
    public var keyGroups: [KeyGroupStateHandle]
    /// Operator (non-keyed) state, by name, with its redistribution.
    public var operatorState: [NamedStateHandle]
    /// In-flight input an unaligned checkpoint overtook, per input channel.
    public var channelState: [ChannelStateHandle]
    /// Anything else the operator needs back: source splits, sink transactions, timers.
    public var extra: [NamedStateHandle]

    public init(
        subtaskIndex: Int, keyGroupRange: KeyGroupRange = .empty, keyGroups: [KeyGroupStateHandle] = [],
        operatorState: [NamedStateHandle] = [], channelState: [ChannelStateHandle] = [],
        extra: [NamedStateHandle] = []
    ) {
        self.subtaskIndex = subtaskIndex
        self.keyGroupRange = keyGroupRange
        self.keyGroups = keyGroups
        self.operatorState = operatorState
        self.channelState = channelState
        self.extra = extra
    }

    /// Every handle of the subtask.
    ///
    /// - Complexity: O(handles).
    public var allHandles: [StateHandle] {
        keyGroups.flatMap(\.allHandles) + operatorState.map(\.handle) + channelState.map(\.handle)
            + extra.map(\.handle)
    }
}

extension OperatorStateMetadata {
    /// Whether a key group's state (its base or a change) was written before checkpoint
    /// `checkpointId`.
    func referencesEarlierKeyGroups(than checkpointId: Int64) -> Bool {
        subtasks.contains { $0.keyGroups.contains { $0.writtenInCheckpoint != checkpointId } }
    }
}

// MARK: - Encoding

extension OperatorStateMetadata: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeString(operatorId)
        writer.writeString(operatorName)
        writer.write(parallelism)
        writer.write(maxParallelism)
        writer.write(keyedStateDescriptors)
        writer.write(subtasks)
    }

    public init(from reader: inout BinaryReader) throws {
        try self.init(from: &reader, formatVersion: CheckpointMetadata.currentFormatVersion)
    }

    /// Reads the layout of metadata `formatVersion`.
    init(from reader: inout BinaryReader, formatVersion: UInt16) throws {
        operatorId = try reader.readString()
        operatorName = try reader.readString()
        parallelism = try reader.read()
        maxParallelism = try reader.read()
        keyedStateDescriptors = try reader.read()
        subtasks = try reader.readArray { try SubtaskStateMetadata(from: &$0, formatVersion: formatVersion) }
    }
}

extension StateDescriptorMetadata: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeString(name)
        writer.writeString(kind)
        writer.writeString(valueTypeDescription)
    }

    public init(from reader: inout BinaryReader) throws {
        name = try reader.readString()
        kind = try reader.readString()
        valueTypeDescription = try reader.readString()
    }
}

extension SubtaskStateMetadata: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.write(subtaskIndex)
        writer.write(keyGroupRange.start)
        writer.write(keyGroupRange.end)
        writer.write(keyGroups)
        writer.write(operatorState)
        writer.write(channelState)
        writer.write(extra)
    }

    public init(from reader: inout BinaryReader) throws {
        try self.init(from: &reader, formatVersion: CheckpointMetadata.currentFormatVersion)
    }

    /// Reads the layout of metadata `formatVersion`.
    init(from reader: inout BinaryReader, formatVersion: UInt16) throws {
        subtaskIndex = try reader.read()
        let rangeOffset = reader.offset
        let start: Int = try reader.read()
        let end: Int = try reader.read()
        guard start >= 0, end >= start - 1 else {
            throw CodecError(.malformed, "key-group range \(start)...\(end) is impossible", offset: rangeOffset)
        }
        keyGroupRange = end < start ? .empty : KeyGroupRange(start: start, end: end)
        keyGroups = try reader.readArray { try KeyGroupStateHandle(from: &$0, formatVersion: formatVersion) }
        operatorState = try reader.read()
        channelState = try reader.read()
        extra = try reader.read()
    }
}

extension BinaryReader {
    /// An array written by `BinaryWriter.write(_:)`, each element read by `element` (for
    /// layouts that depend on a format version).
    mutating func readArray<T>(_ element: (inout BinaryReader) throws -> T) throws -> [T] {
        let count = try readLength()
        var result: [T] = []
        result.reserveCapacity(count)
        for _ in 0..<count { result.append(try element(&self)) }
        return result
    }
}
