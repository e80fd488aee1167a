/// Encodes the in-flight records of an unaligned checkpoint (channel state): a count, then
/// per record its timestamp and value, with the codec the record type discovers
/// (`BinaryCodable` first, then `Codable`). Generic but not inlinable: it runs once per
/// channel and checkpoint, never per record on the hot path.
@usableFromInline
enum InFlightRecordCoding {
    @usableFromInline
    static func isSupported<T>(_: T.Type) -> Bool { StateCodec<T>.discovered() != nil }

    @usableFromInline
    static func encode<T>(_ batches: [AnyObject], _: T.Type, into writer: inout BinaryWriter) throws {
        let codec = try codec(T.self)
        let records = batches.lazy.map { unsafeDowncast($0, to: RecordBatch<T>.self).records }
        writer.writeVarUInt(UInt64(records.reduce(0) { $0 + $1.count }))
        for batch in records {
            for record in batch {
                writer.writeVarInt(record.timestamp)
                try codec.encode(record.value, &writer)
            }
        }
    }

    @usableFromInline
    static func decode<T>(_: T.Type, from reader: inout BinaryReader) throws -> AnyObject {
        let codec = try codec(T.self)
        let count = try reader.readLength()
        var records: [StreamRecord<T>] = []
        records.reserveCapacity(count)
        for _ in 0..<count {
            let timestamp = try reader.readVarInt()
            records.append(StreamRecord(try codec.decode(&reader), timestamp: timestamp))
        }
        return RecordBatch(records)
    }

    private static func codec<T>(_: T.Type) throws -> StateCodec<T> {
        guard let codec = StateCodec<T>.discovered() else {
            throw RillError(.stateError, "unaligned checkpoints store in-flight records, but \(T.self) conforms to neither BinaryCodable nor Codable; add a conformance or turn unalignedCheckpoints off")
        }
        return codec
    }
}

/// Names the input channel whose in-flight records a channel-state blob holds, by what
/// outlives a change of parallelism (the gate's channel index does not).
struct InFlightChannel: Equatable, BinaryCodable {
    /// The upstream operator's id (uid or automatic id).
    var upstreamOperatorId: String
    /// The side output the records came from; empty for the main output.
    var sideOutput: String
    /// Which input of the consuming operator (0, or 1 for the second input).
    var inputIndex: Int
    /// The upstream subtask that sent them.
    var upstreamSubtask: Int

    init(upstreamOperatorId: String, sideOutput: String, inputIndex: Int, upstreamSubtask: Int) {
        self.upstreamOperatorId = upstreamOperatorId
        self.sideOutput = sideOutput
        self.inputIndex = inputIndex
        self.upstreamSubtask = upstreamSubtask
    }

    func encode(to writer: inout BinaryWriter) {
        writer.writeString(upstreamOperatorId)
        writer.writeString(sideOutput)
        writer.write(inputIndex)
        writer.write(upstreamSubtask)
    }

    init(from reader: inout BinaryReader) throws {
        upstreamOperatorId = try reader.readString()
        sideOutput = try reader.readString()
        inputIndex = try reader.read()
        upstreamSubtask = try reader.read()
    }
}
