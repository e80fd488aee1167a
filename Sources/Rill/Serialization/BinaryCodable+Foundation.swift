#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

// BinaryCodable conformances of Foundation value types.

extension Date: BinaryCodable {
    /// Encoded as the 8-byte bit pattern of `timeIntervalSinceReferenceDate`, so every
    /// `Date` round-trips exactly (milliseconds would lose sub-millisecond precision).
    @inlinable
    public func encode(to writer: inout BinaryWriter) {
        writer.writeDouble(timeIntervalSinceReferenceDate)
    }

    @inlinable
    public init(from reader: inout BinaryReader) throws {
        self.init(timeIntervalSinceReferenceDate: try reader.readDouble())
    }
}

extension UUID: BinaryCodable {
    /// Encoded as its 16 bytes in RFC 4122 order.
    @inlinable
    public func encode(to writer: inout BinaryWriter) {
        withUnsafeBytes(of: uuid) { writer.writeRawBytes($0) }
    }

    @inlinable
    public init(from reader: inout BinaryReader) throws {
        var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        try reader.withRawBytes(count: 16) { raw in
            withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: raw) }
        }
        self.init(uuid: value)
    }
}

extension Data: BinaryCodable {
    /// Encoded like `[UInt8]`: a varint count followed by the bytes.
    @inlinable
    public func encode(to writer: inout BinaryWriter) {
        writer.writeVarUInt(UInt64(count))
        withUnsafeBytes { writer.writeRawBytes($0) }
    }

    @inlinable
    public init(from reader: inout BinaryReader) throws {
        let count = try reader.readLength()
        self = try reader.withRawBytes(count: count) { Data($0) }
    }
}
