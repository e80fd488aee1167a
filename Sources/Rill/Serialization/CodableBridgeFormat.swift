// The wire format shared by BinaryCodableEncoder and BinaryCodableDecoder.
//
// Every value carries a 4-bit tag, so values can be skipped without knowing their type and
// a type change is reported instead of misread:
//
//   top level       tag byte, payload
//   keyed field     varint header (nameLength << 4 | tag), name (UTF-8), payload
//   unkeyed element tag byte, payload
//   container end   byte 0x0F (a header/tag with tag `end` and no name)
//
// Payloads by tag:
//   nil             nothing
//   bool            one byte, 0 or 1
//   signed          zig-zag varint     (every signed integer width)
//   unsigned        varint             (every unsigned integer width)
//   float32/64      4/8-byte little-endian bit pattern
//   string          varint byte count, UTF-8
//   keyed           fields, then end
//   unkeyed         elements, then end
//   binary          varint byte count, the value's BinaryCodable encoding
//
// Field names are stored so that fields can be reordered, removed fields skipped, new
// optional fields read as nil, and enums with associated values decoded (their synthesized
// `init(from:)` needs `allKeys`).

internal enum _CodableTag {
    static let unset: UInt8 = 0
    static let null: UInt8 = 1
    static let bool: UInt8 = 2
    static let signed: UInt8 = 3
    static let unsigned: UInt8 = 4
    static let float32: UInt8 = 5
    static let float64: UInt8 = 6
    static let string: UInt8 = 7
    static let keyed: UInt8 = 8
    static let unkeyed: UInt8 = 9
    static let binary: UInt8 = 10
    static let end: UInt8 = 15

    static func isValue(_ tag: UInt8) -> Bool { tag >= null && tag <= binary }

    static func name(_ tag: UInt8) -> String {
        switch tag {
        case null: "nil"
        case bool: "Bool"
        case signed: "signed integer"
        case unsigned: "unsigned integer"
        case float32: "Float"
        case float64: "Double"
        case string: "String"
        case keyed: "keyed container (struct, class or enum)"
        case unkeyed: "unkeyed container (array)"
        case binary: "BinaryCodable value"
        case end: "end of container"
        default: "unknown tag \(tag)"
        }
    }
}

/// The deepest container nesting the decoder accepts; deeper input is `.malformed`
/// (it protects the stack from corrupted or hostile input).
internal let _codableMaximumNestingDepth = 128

// MARK: - Primitives

/// The tag of `T` when it is one of the primitive types the Encoder protocols name
/// (Bool, String, Double, Float and the fixed-width integers up to 64 bits), else `unset`.
@inline(__always)
internal func _codablePrimitiveTag<T>(_ type: T.Type) -> UInt8 {
    if T.self == String.self { return _CodableTag.string }
    if T.self == Int.self || T.self == Int64.self || T.self == Int32.self
        || T.self == Int16.self || T.self == Int8.self
    {
        return _CodableTag.signed
    }
    if T.self == UInt.self || T.self == UInt64.self || T.self == UInt32.self
        || T.self == UInt16.self || T.self == UInt8.self
    {
        return _CodableTag.unsigned
    }
    if T.self == Double.self { return _CodableTag.float64 }
    if T.self == Float.self { return _CodableTag.float32 }
    if T.self == Bool.self { return _CodableTag.bool }
    return _CodableTag.unset
}

/// Writes the payload of a primitive `value` (see `_codablePrimitiveTag`); `tag` must be its tag.
@inline(__always)
internal func _writeCodablePrimitive<T>(_ value: T, tag: UInt8, to writer: inout BinaryWriter) {
    switch tag {
    case _CodableTag.string:
        writer.writeString(unsafeBitCast(value, to: String.self))
    case _CodableTag.signed:
        let wide: Int64
        if T.self == Int.self {
            wide = Int64(unsafeBitCast(value, to: Int.self))
        } else if T.self == Int64.self {
            wide = unsafeBitCast(value, to: Int64.self)
        } else if T.self == Int32.self {
            wide = Int64(unsafeBitCast(value, to: Int32.self))
        } else if T.self == Int16.self {
            wide = Int64(unsafeBitCast(value, to: Int16.self))
        } else {
            wide = Int64(unsafeBitCast(value, to: Int8.self))
        }
        writer.writeVarInt(wide)
    case _CodableTag.unsigned:
        let wide: UInt64
        if T.self == UInt.self {
            wide = UInt64(unsafeBitCast(value, to: UInt.self))
        } else if T.self == UInt64.self {
            wide = unsafeBitCast(value, to: UInt64.self)
        } else if T.self == UInt32.self {
            wide = UInt64(unsafeBitCast(value, to: UInt32.self))
        } else if T.self == UInt16.self {
            wide = UInt64(unsafeBitCast(value, to: UInt16.self))
        } else {
            wide = UInt64(unsafeBitCast(value, to: UInt8.self))
        }
        writer.writeVarUInt(wide)
    case _CodableTag.float64:
        writer.writeDouble(unsafeBitCast(value, to: Double.self))
    case _CodableTag.float32:
        writer.writeFloat(unsafeBitCast(value, to: Float.self))
    default:
        writer.writeBool(unsafeBitCast(value, to: Bool.self))
    }
}

/// Reads a primitive payload stored with `tag` as a `T` (a type with a primitive tag).
/// Integers convert between widths and signedness when the value fits; a Float widens to
/// Double. Throws `_CodablePrimitiveMismatch` when the stored tag cannot become a `T`.
internal func _readCodablePrimitive<T>(
    _ type: T.Type, storedTag tag: UInt8, from reader: inout BinaryReader
) throws -> T {
    switch _codablePrimitiveTag(T.self) {
    case _CodableTag.string:
        guard tag == _CodableTag.string else { throw _CodablePrimitiveMismatch() }
        return unsafeBitCast(try reader.readString(), to: T.self)
    case _CodableTag.signed, _CodableTag.unsigned:
        let start = reader.offset
        if tag == _CodableTag.signed {
            let value = try reader.readVarInt()
            guard let exact = _exactCodableInteger(value, as: T.self) else {
                throw CodecError._outOfRange("\(value)", for: T.self, at: start)
            }
            return exact
        } else if tag == _CodableTag.unsigned {
            let value = try reader.readVarUInt()
            guard let exact = _exactCodableInteger(value, as: T.self) else {
                throw CodecError._outOfRange("\(value)", for: T.self, at: start)
            }
            return exact
        }
        throw _CodablePrimitiveMismatch()
    case _CodableTag.float64:
        if tag == _CodableTag.float64 { return unsafeBitCast(try reader.readDouble(), to: T.self) }
        if tag == _CodableTag.float32 { return unsafeBitCast(Double(try reader.readFloat()), to: T.self) }
        throw _CodablePrimitiveMismatch()
    case _CodableTag.float32:
        guard tag == _CodableTag.float32 else { throw _CodablePrimitiveMismatch() }
        return unsafeBitCast(try reader.readFloat(), to: T.self)
    case _CodableTag.bool:
        guard tag == _CodableTag.bool else { throw _CodablePrimitiveMismatch() }
        return unsafeBitCast(try reader.readBool(), to: T.self)
    default:
        throw _CodablePrimitiveMismatch()
    }
}

/// `value` converted to the integer type `T` if it fits exactly.
@inline(__always)
private func _exactCodableInteger<T, I: BinaryInteger>(_ value: I, as type: T.Type) -> T? {
    if T.self == Int.self { return Int(exactly: value).map { unsafeBitCast($0, to: T.self) } }
    if T.self == Int64.self { return Int64(exactly: value).map { unsafeBitCast($0, to: T.self) } }
    if T.self == Int32.self { return Int32(exactly: value).map { unsafeBitCast($0, to: T.self) } }
    if T.self == Int16.self { return Int16(exactly: value).map { unsafeBitCast($0, to: T.self) } }
    if T.self == Int8.self { return Int8(exactly: value).map { unsafeBitCast($0, to: T.self) } }
    if T.self == UInt.self { return UInt(exactly: value).map { unsafeBitCast($0, to: T.self) } }
    if T.self == UInt64.self { return UInt64(exactly: value).map { unsafeBitCast($0, to: T.self) } }
    if T.self == UInt32.self { return UInt32(exactly: value).map { unsafeBitCast($0, to: T.self) } }
    if T.self == UInt16.self { return UInt16(exactly: value).map { unsafeBitCast($0, to: T.self) } }
    if T.self == UInt8.self { return UInt8(exactly: value).map { unsafeBitCast($0, to: T.self) } }
    return nil
}

// MARK: - Skipping

extension BinaryReader {
    /// Reads a keyed-field header: the field's tag, and the offset and length of its name.
    /// For the end marker, `tag` is `_CodableTag.end`.
    internal mutating func _readFieldHeader() throws -> (tag: UInt8, nameStart: Int, nameCount: Int) {
        let start = offset
        let header = try readVarUInt()
        let tag = UInt8(truncatingIfNeeded: header & 0x0F)
        let nameLength = header >> 4
        if tag == _CodableTag.end {
            if nameLength != 0 { throw CodecError._malformed("end marker with a name", at: start) }
            return (tag, offset, 0)
        }
        guard _CodableTag.isValue(tag) else {
            throw CodecError._malformed("invalid value tag \(tag) in a keyed field", at: start)
        }
        guard nameLength <= UInt64(remaining) else {
            throw CodecError._lengthBeyondEnd(nameLength, available: remaining, at: start)
        }
        let nameStart = offset
        _position = nameStart + Int(nameLength)
        return (tag, nameStart, Int(nameLength))
    }

    /// Reads an unkeyed-element or top-level tag byte; `_CodableTag.end` is returned as is.
    internal mutating func _readElementTag() throws -> UInt8 {
        let tag = try readByte()
        guard _CodableTag.isValue(tag) || tag == _CodableTag.end else {
            throw CodecError._malformed("invalid value tag \(tag)", at: offset - 1)
        }
        return tag
    }

    /// Skips one payload stored with `tag`.
    internal mutating func _skipPayload(tag: UInt8, depth: Int) throws {
        switch tag {
        case _CodableTag.null:
            return
        case _CodableTag.bool:
            _ = try readBool()
        case _CodableTag.signed, _CodableTag.unsigned:
            _ = try readVarUInt()
        case _CodableTag.float32:
            try _skip(4)
        case _CodableTag.float64:
            try _skip(8)
        case _CodableTag.string, _CodableTag.binary:
            try _skip(try readLength())
        case _CodableTag.keyed:
            try _skipKeyedFields(depth: depth)
        case _CodableTag.unkeyed:
            try _skipUnkeyedElements(depth: depth)
        default:
            throw CodecError._malformed("invalid value tag \(tag)", at: offset)
        }
    }

    /// Skips keyed fields up to and including the end marker.
    internal mutating func _skipKeyedFields(depth: Int) throws {
        guard depth < _codableMaximumNestingDepth else { throw CodecError._tooDeep(at: offset) }
        while true {
            let (tag, _, _) = try _readFieldHeader()
            if tag == _CodableTag.end { return }
            try _skipPayload(tag: tag, depth: depth + 1)
        }
    }

    /// Skips unkeyed elements up to and including the end marker.
    internal mutating func _skipUnkeyedElements(depth: Int) throws {
        guard depth < _codableMaximumNestingDepth else { throw CodecError._tooDeep(at: offset) }
        while true {
            let tag = try _readElementTag()
            if tag == _CodableTag.end { return }
            try _skipPayload(tag: tag, depth: depth + 1)
        }
    }
}

extension CodecError {
    static func _tooDeep(at offset: Int) -> CodecError {
        CodecError(
            .malformed,
            "containers nested deeper than \(_codableMaximumNestingDepth) levels; the data is corrupted",
            offset: offset)
    }
}

// MARK: - Coding paths

/// The key of an unkeyed-container element in a coding path.
internal struct _CodableIndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { return nil }
}

/// The key `superEncoder()` and `superDecoder()` use, as in Foundation's coders.
internal struct _CodableSuperKey: CodingKey {
    var stringValue: String { "super" }
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { if stringValue != "super" { return nil } }
    init?(intValue: Int) { return nil }
}

/// `a.b[3].c`, for messages.
internal func _describeCodingPath(_ path: [any CodingKey]) -> String {
    if path.isEmpty { return "<root>" }
    var result = ""
    for key in path {
        if key is _CodableIndexKey {
            result += "[\(key.intValue ?? 0)]"
        } else {
            if !result.isEmpty { result += "." }
            result += key.stringValue
        }
    }
    return result
}
