/// Where one blob of checkpointed state is stored: a byte range of a file, with its length
/// and CRC-32C, so a read can prove it got back exactly what was written.
///
/// `relativePath` is relative to the *base directory* of the checkpoint or savepoint that
/// holds the handle: for a checkpoint, the job's checkpoint directory (the parent of
/// `chk-N/`), for example `"chk-7/op-3-sub-1.state"`, which lets an incremental checkpoint
/// point into an earlier checkpoint's files; for a savepoint, the savepoint directory
/// itself, so a savepoint can be moved as a whole.
public struct StateHandle: Hashable, Sendable, CustomStringConvertible {
    /// The file, relative to the base directory, with `/` separators.
    public var relativePath: String
    /// The first byte of the blob in the file.
    public var offset: Int64
    /// The blob's length in bytes.
    public var length: Int64
    /// CRC-32C of the blob's bytes.
    public var crc32c: UInt32

    public init(relativePath: String, offset: Int64, length: Int64, crc32c: UInt32) {
        self.relativePath = relativePath
        self.offset = offset
        self.length = length
        self.crc32c = crc32c
    }

    /// The byte after the blob: the file must be at least this long.
    public var endOffset: Int64 { offset + length }

    public var description: String {
        "\(relativePath)[\(offset)..<\(endOffset)] crc32c=0x\(String(crc32c, radix: 16))"
    }
}

/// The state of one key group, for every keyed state of an operator subtask: a base blob with
/// every key's entries and, in incremental checkpoints, the change blobs written on top of it.
public struct KeyGroupStateHandle: Hashable, Sendable {
    /// The key group, in `0..<maxParallelism`.
    public var keyGroup: Int
    /// Where the base blob's bytes are.
    public var handle: StateHandle
    /// The checkpoint that wrote the base blob. In an incremental checkpoint, a key group whose
    /// base was written earlier keeps that handle, and this id is older than the checkpoint
    /// that holds the handle.
    public var writtenInCheckpoint: Int64
    /// Changes on top of the base, oldest first, each written by a later incremental
    /// checkpoint: the entries of the keys that changed (removed keys included). A restore
    /// reads the base and applies every change in order. Empty for a full key group.
    public var changes: [KeyGroupChangeHandle]

    public init(keyGroup: Int, handle: StateHandle, writtenInCheckpoint: Int64, changes: [KeyGroupChangeHandle] = []) {
        self.keyGroup = keyGroup
        self.handle = handle
        self.writtenInCheckpoint = writtenInCheckpoint
        self.changes = changes
    }

    /// The base blob's handle, then every change's.
    public var allHandles: [StateHandle] { [handle] + changes.map(\.handle) }
}

/// A blob of changes to a key group's state (Flink's state changelog, per key group).
public struct KeyGroupChangeHandle: Hashable, Sendable {
    /// Where its bytes are.
    public var handle: StateHandle
    /// The checkpoint that wrote it.
    public var writtenInCheckpoint: Int64

    public init(handle: StateHandle, writtenInCheckpoint: Int64) {
        self.handle = handle
        self.writtenInCheckpoint = writtenInCheckpoint
    }
}

/// A named blob: operator state (with its redistribution) or an operator's extra state
/// (source splits, sink transactions, timers, ...).
public struct NamedStateHandle: Hashable, Sendable {
    /// The state's name, unique within its list.
    public var name: String
    /// How operator state is redistributed when the parallelism changes: `"split"`,
    /// `"union"` or `"broadcast"` (see ``OperatorStateDistribution``); empty for extra state.
    public var distribution: String
    /// Where its bytes are.
    public var handle: StateHandle

    public init(name: String, distribution: String = "", handle: StateHandle) {
        self.name = name
        self.distribution = distribution
        self.handle = handle
    }

    /// Operator state with a typed distribution.
    public init(name: String, distribution: OperatorStateDistribution, handle: StateHandle) {
        self.init(name: name, distribution: Self.distributionName(distribution), handle: handle)
    }

    /// The distribution as a ``OperatorStateDistribution``, or `nil` when it is empty or
    /// unknown.
    public var operatorStateDistribution: OperatorStateDistribution? { Self.distribution(named: distribution) }

    /// The distribution stored as `name`, or `nil` when it is unknown.
    public static func distribution(named name: String) -> OperatorStateDistribution? {
        switch name {
        case "split": .splitDistribute
        case "union": .union
        case "broadcast": .broadcast
        default: nil
        }
    }

    /// The stored name of `distribution`: `"split"`, `"union"` or `"broadcast"`.
    public static func distributionName(_ distribution: OperatorStateDistribution) -> String {
        switch distribution {
        case .splitDistribute: "split"
        case .union: "union"
        case .broadcast: "broadcast"
        }
    }
}

/// In-flight data of one input channel that an unaligned checkpoint overtook; replayed
/// before new input on restore.
public struct ChannelStateHandle: Hashable, Sendable {
    /// The input channel's index within the subtask's inputs.
    public var inputChannel: Int
    /// Where its bytes are.
    public var handle: StateHandle

    public init(inputChannel: Int, handle: StateHandle) {
        self.inputChannel = inputChannel
        self.handle = handle
    }
}

// MARK: - Encoding

extension StateHandle: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeString(relativePath)
        writer.writeVarInt(offset)
        writer.writeVarInt(length)
        writer.writeFixedWidth(crc32c)
    }

    public init(from reader: inout BinaryReader) throws {
        let start = reader.offset
        relativePath = try reader.readString()
        offset = try reader.readVarInt()
        length = try reader.readVarInt()
        crc32c = try reader.readFixedWidth(UInt32.self)
        guard offset >= 0, length >= 0, offset <= Int64.max - length else {
            throw CodecError(.malformed, "a state handle with offset \(offset) and length \(length)", offset: start)
        }
    }
}

extension KeyGroupStateHandle: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.write(keyGroup)
        handle.encode(to: &writer)
        writer.writeVarInt(writtenInCheckpoint)
        writer.write(changes)
    }

    public init(from reader: inout BinaryReader) throws {
        try self.init(from: &reader, formatVersion: CheckpointMetadata.currentFormatVersion)
    }

    /// Reads the layout of metadata `formatVersion` (version 1 has no changes).
    init(from reader: inout BinaryReader, formatVersion: UInt16) throws {
        keyGroup = try reader.read()
        handle = try reader.read()
        writtenInCheckpoint = try reader.readVarInt()
        changes = formatVersion >= 2 ? try reader.read() : []
    }
}

extension KeyGroupChangeHandle: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        handle.encode(to: &writer)
        writer.writeVarInt(writtenInCheckpoint)
    }

    public init(from reader: inout BinaryReader) throws {
        handle = try reader.read()
        writtenInCheckpoint = try reader.readVarInt()
    }
}

extension NamedStateHandle: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.writeString(name)
        writer.writeString(distribution)
        handle.encode(to: &writer)
    }

    public init(from reader: inout BinaryReader) throws {
        name = try reader.readString()
        distribution = try reader.readString()
        handle = try reader.read()
    }
}

extension ChannelStateHandle: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        writer.write(inputChannel)
        handle.encode(to: &writer)
    }

    public init(from reader: inout BinaryReader) throws {
        inputChannel = try reader.read()
        handle = try reader.read()
    }
}
