// BinaryCodable conformances of the standard collections and Optional.

extension BinaryWriter {
    /// Writes a varint count and the elements, with a bulk copy for element types whose
    /// encoding is their in-memory representation (`UInt8`, `Int8`, `Float`, `Double` on
    /// little-endian hosts).
    @inlinable
    internal mutating func _writeSequence<C: Collection>(_ elements: C)
    where C.Element: BinaryCodable {
        if _isBulkCopyable(C.Element.self) {
            let done: Void? = elements.withContiguousStorageIfAvailable { buffer in
                writeVarUInt(UInt64(buffer.count))
                writeRawBytes(UnsafeRawBufferPointer(buffer))
            }
            if done != nil { return }
        }
        writeVarUInt(UInt64(elements.count))
        for element in elements { element.encode(to: &self) }
    }
}

/// `true` for element types whose BinaryCodable encoding equals their memory layout.
@inlinable
@inline(__always)
internal func _isBulkCopyable<T>(_ type: T.Type) -> Bool {
    #if _endian(little)
        return T.self == UInt8.self || T.self == Int8.self || T.self == Double.self
            || T.self == Float.self
    #else
        return T.self == UInt8.self || T.self == Int8.self
    #endif
}

extension BinaryReader {
    /// Reads `count` bulk-copyable elements (see `_isBulkCopyable`) into an array.
    @inlinable
    internal mutating func _readBulk<T>(_ type: T.Type, count: Int) throws -> [T] {
        let stride = MemoryLayout<T>.stride
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: stride)
        if overflow || byteCount > remaining {
            throw CodecError._lengthBeyondEnd(
                UInt64(count) &* UInt64(stride), available: remaining, at: offset)
        }
        return try withRawBytes(count: byteCount) { raw in
            [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                if byteCount > 0 {
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                }
                initialized = count
            }
        }
    }

    /// Reads a count and that many elements into an array.
    @inlinable
    internal mutating func _readArray<T: BinaryCodable>(of type: T.Type) throws -> [T] {
        let count = try readLength()
        if _isBulkCopyable(T.self) { return try _readBulk(T.self, count: count) }
        var result = [T]()
        result.reserveCapacity(count)
        for _ in 0..<count { result.append(try T(from: &self)) }
        return result
    }
}

extension Array: BinaryCodable where Element: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) {
        // Common element types get a concrete loop even where this body runs unspecialized
        // (called through `any BinaryCodable`, as the Codable bridge does). In specialized
        // code the checks fold away.
        if Element.self == String.self {
            writer._writeSequence(unsafeBitCast(self, to: [String].self))
        } else if Element.self == Int64.self {
            writer._writeSequence(unsafeBitCast(self, to: [Int64].self))
        } else if Element.self == Int.self {
            writer._writeSequence(unsafeBitCast(self, to: [Int].self))
        } else {
            writer._writeSequence(self)
        }
    }

    @inlinable
    public init(from reader: inout BinaryReader) throws {
        if Element.self == String.self {
            self = unsafeBitCast(try reader._readArray(of: String.self), to: [Element].self)
        } else if Element.self == Int64.self {
            self = unsafeBitCast(try reader._readArray(of: Int64.self), to: [Element].self)
        } else if Element.self == Int.self {
            self = unsafeBitCast(try reader._readArray(of: Int.self), to: [Element].self)
        } else {
            self = try reader._readArray(of: Element.self)
        }
    }
}

extension ContiguousArray: BinaryCodable where Element: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer._writeSequence(self) }

    @inlinable
    public init(from reader: inout BinaryReader) throws {
        let count = try reader.readLength()
        if _isBulkCopyable(Element.self) {
            self = ContiguousArray(try reader._readBulk(Element.self, count: count))
            return
        }
        self.init()
        reserveCapacity(count)
        for _ in 0..<count { append(try Element(from: &reader)) }
    }
}

extension Set: BinaryCodable where Element: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) {
        writer.writeVarUInt(UInt64(count))
        for element in self { element.encode(to: &writer) }
    }

    /// Throws `.malformed` if the stored set holds an element twice.
    @inlinable
    public init(from reader: inout BinaryReader) throws {
        let count = try reader.readLength()
        self.init(minimumCapacity: count)
        for _ in 0..<count {
            let start = reader.offset
            if !insert(try Element(from: &reader)).inserted {
                throw CodecError._duplicate("set element", at: start)
            }
        }
    }
}

extension Dictionary: BinaryCodable where Key: BinaryCodable, Value: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) {
        writer.writeVarUInt(UInt64(count))
        for (key, value) in self {
            key.encode(to: &writer)
            value.encode(to: &writer)
        }
    }

    /// Throws `.malformed` if the stored dictionary holds a key twice.
    @inlinable
    public init(from reader: inout BinaryReader) throws {
        // Each entry takes at least two bytes, so the count can be bounded tighter.
        let count = try reader.readLength()
        self.init(minimumCapacity: Swift.min(count, reader.remaining / 2))
        for _ in 0..<count {
            let start = reader.offset
            let key = try Key(from: &reader)
            let value = try Value(from: &reader)
            if updateValue(value, forKey: key) != nil {
                throw CodecError._duplicate("dictionary key", at: start)
            }
        }
    }
}

extension Optional: BinaryCodable where Wrapped: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) {
        switch self {
        case .none:
            writer.writeByte(0)
        case .some(let wrapped):
            writer.writeByte(1)
            wrapped.encode(to: &writer)
        }
    }

    @inlinable
    public init(from reader: inout BinaryReader) throws {
        let tag = try reader.readByte()
        switch tag {
        case 0: self = .none
        case 1: self = .some(try Wrapped(from: &reader))
        default: throw CodecError._invalidOptionalTag(tag, at: reader.offset - 1)
        }
    }
}
