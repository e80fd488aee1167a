/// A type that encodes itself into Rill's compact binary format: the fast path for state
/// values, keys and checkpoint data.
///
/// The format is not self-describing: a value is read back with the same type it was
/// written with. Conform your hot state types directly (it is several times faster and
/// smaller than the ``BinaryCodableEncoder`` bridge for `Codable` types):
///
/// ```swift
/// struct Visit: BinaryCodable {
///     var page: String
///     var count: Int64
///     func encode(to writer: inout BinaryWriter) {
///         writer.write(page)
///         writer.write(count)
///     }
///     init(from reader: inout BinaryReader) throws {
///         page = try reader.read()
///         count = try reader.read()
///     }
/// }
/// ```
///
/// Rules for conformances:
/// - `encode` must write at least one byte. Collections refuse element counts larger than
///   the bytes that remain, which keeps corrupted input from allocating without bound.
/// - `init(from:)` must throw (a ``CodecError``) on bad input and never trap.
/// - Mark both requirements `@inlinable` in library code that other modules call, so the
///   caller gets specialized code.
/// - The protocol refines `SendableMetatype`: snapshots encode off the task thread, so a
///   conformance cannot be isolated to an actor.
///
/// Encodings of the standard types (stable; snapshots depend on them):
/// - `Int`, `Int16`, `Int32`, `Int64`: zig-zag LEB128 varint (1–10 bytes);
///   `UInt`, `UInt16`, `UInt32`, `UInt64`: LEB128 varint. The width is not stored, so an
///   integer field may be widened (`Int32` → `Int64`) without breaking stored data, and a
///   stored value that does not fit the type read is `.malformed`.
/// - `Int8`, `UInt8`, `Bool`: one byte. `Int128`, `UInt128`: 16 bytes little-endian.
/// - `Float`, `Double`: 4 / 8 byte little-endian IEEE-754 bit patterns.
/// - `String`: varint UTF-8 byte count + UTF-8. `[UInt8]`, `Data`: varint count + bytes.
/// - `Array`, `ContiguousArray`, `Set`: varint count + elements. `Dictionary`: varint
///   count + key, value pairs. (`Set` and `Dictionary` order is not canonical across
///   processes; do not hash their encodings.)
/// - `Optional`: byte 0 (`nil`) or byte 1 followed by the wrapped value.
public protocol BinaryCodable: SendableMetatype {
    /// Appends this value's encoding to `writer`.
    func encode(to writer: inout BinaryWriter)
    /// Reads a value written by ``encode(to:)``; throws ``CodecError`` on bad input.
    init(from reader: inout BinaryReader) throws
}

// MARK: - Integers

extension Int64: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeVarInt(self) }
    @inlinable
    public init(from reader: inout BinaryReader) throws { self = try reader.readVarInt() }
}

extension Int: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeVarInt(Int64(self)) }
    @inlinable
    public init(from reader: inout BinaryReader) throws {
        let start = reader.offset
        let value = try reader.readVarInt()
        guard let exact = Int(exactly: value) else {
            throw CodecError._outOfRange("\(value)", for: Int.self, at: start)
        }
        self = exact
    }
}

extension Int32: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeVarInt(Int64(self)) }
    @inlinable
    public init(from reader: inout BinaryReader) throws {
        let start = reader.offset
        let value = try reader.readVarInt()
        guard let exact = Int32(exactly: value) else {
            throw CodecError._outOfRange("\(value)", for: Int32.self, at: start)
        }
        self = exact
    }
}

extension Int16: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeVarInt(Int64(self)) }
    @inlinable
    public init(from reader: inout BinaryReader) throws {
        let start = reader.offset
        let value = try reader.readVarInt()
        guard let exact = Int16(exactly: value) else {
            throw CodecError._outOfRange("\(value)", for: Int16.self, at: start)
        }
        self = exact
    }
}

extension Int8: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeByte(UInt8(bitPattern: self)) }
    @inlinable
    public init(from reader: inout BinaryReader) throws {
        self = Int8(bitPattern: try reader.readByte())
    }
}

extension UInt64: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeVarUInt(self) }
    @inlinable
    public init(from reader: inout BinaryReader) throws { self = try reader.readVarUInt() }
}

extension UInt: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeVarUInt(UInt64(self)) }
    @inlinable
    public init(from reader: inout BinaryReader) throws {
        let start = reader.offset
        let value = try reader.readVarUInt()
        guard let exact = UInt(exactly: value) else {
            throw CodecError._outOfRange("\(value)", for: UInt.self, at: start)
        }
        self = exact
    }
}

extension UInt32: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeVarUInt(UInt64(self)) }
    @inlinable
    public init(from reader: inout BinaryReader) throws {
        let start = reader.offset
        let value = try reader.readVarUInt()
        guard let exact = UInt32(exactly: value) else {
            throw CodecError._outOfRange("\(value)", for: UInt32.self, at: start)
        }
        self = exact
    }
}

extension UInt16: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeVarUInt(UInt64(self)) }
    @inlinable
    public init(from reader: inout BinaryReader) throws {
        let start = reader.offset
        let value = try reader.readVarUInt()
        guard let exact = UInt16(exactly: value) else {
            throw CodecError._outOfRange("\(value)", for: UInt16.self, at: start)
        }
        self = exact
    }
}

extension UInt8: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeByte(self) }
    @inlinable
    public init(from reader: inout BinaryReader) throws { self = try reader.readByte() }
}

extension Int128: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeFixedWidth(self) }
    @inlinable
    public init(from reader: inout BinaryReader) throws { self = try reader.readFixedWidth() }
}

extension UInt128: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeFixedWidth(self) }
    @inlinable
    public init(from reader: inout BinaryReader) throws { self = try reader.readFixedWidth() }
}

// MARK: - Bool, floating point, String

extension Bool: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeBool(self) }
    @inlinable
    public init(from reader: inout BinaryReader) throws { self = try reader.readBool() }
}

extension Float: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeFloat(self) }
    @inlinable
    public init(from reader: inout BinaryReader) throws { self = try reader.readFloat() }
}

extension Double: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeDouble(self) }
    @inlinable
    public init(from reader: inout BinaryReader) throws { self = try reader.readDouble() }
}

extension String: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeString(self) }
    @inlinable
    public init(from reader: inout BinaryReader) throws { self = try reader.readString() }
}
