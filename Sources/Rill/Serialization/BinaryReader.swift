/// A bounds-checked cursor over encoded bytes: the reading side of ``BinaryWriter``.
///
/// Every read checks the remaining length first and throws a ``CodecError`` on truncated
/// or malformed input (`.truncated`, `.malformed`); it never reads outside the buffer and
/// never traps. After a read throws, the reader's position is unspecified: discard the
/// reader (or start a new one) rather than continue.
///
/// The reader keeps a reference to its byte array; readers made from the same array
/// (for example by ``FramedBlob``) share it without copying.
public struct BinaryReader: Sendable {
    @usableFromInline let _bytes: [UInt8]
    /// Index of the next byte to read.
    @usableFromInline var _position: Int
    /// Index one past the last readable byte.
    @usableFromInline let _end: Int

    /// Creates a reader over all of `bytes`.
    @inlinable
    public init(_ bytes: [UInt8]) {
        _bytes = bytes
        _position = 0
        _end = bytes.count
    }

    /// Creates a reader over `range` of `bytes`, sharing the array without copying.
    /// Offsets reported by the reader (``offset``, ``CodecError/offset``) are indices
    /// into `bytes`.
    @inlinable
    public init(_ bytes: [UInt8], range: Range<Int>) {
        precondition(
            range.lowerBound >= 0 && range.upperBound <= bytes.count, "range outside the bytes")
        _bytes = bytes
        _position = range.lowerBound
        _end = range.upperBound
    }

    /// Creates a reader over a copy of `bytes`.
    @inlinable
    public init<C: Collection>(copying bytes: C) where C.Element == UInt8 {
        self.init([UInt8](bytes))
    }

    /// The index of the next byte to read, in the underlying byte array.
    @inlinable
    public var offset: Int { _position }

    /// The number of bytes left to read.
    @inlinable
    public var remaining: Int { _end &- _position }

    /// `true` when every byte has been read.
    @inlinable
    public var isAtEnd: Bool { _position >= _end }

    /// Throws `.malformed` unless every byte has been read; call it after decoding a
    /// top-level value to catch trailing garbage.
    @inlinable
    public func expectEnd() throws {
        if _position != _end {
            throw CodecError._malformed(
                "\(remaining) unexpected byte(s) after the value; the data is corrupted or "
                    + "holds a different type than the one decoded",
                at: _position)
        }
    }

    // MARK: - Reads

    /// Throws `.truncated` unless at least `count` bytes remain.
    @inlinable
    @inline(__always)
    internal func _require(_ count: Int) throws {
        if _slowPath(count > _end &- _position) {
            throw CodecError._truncated(needed: count, available: _end &- _position, at: _position)
        }
    }

    /// Reads one byte.
    @inlinable
    public mutating func readByte() throws -> UInt8 {
        try _require(1)
        let byte = _bytes.withUnsafeBufferPointer { $0[_position] }
        _position &+= 1
        return byte
    }

    /// Returns the next byte without consuming it.
    @inlinable
    public func peekByte() throws -> UInt8 {
        try _require(1)
        return _bytes.withUnsafeBufferPointer { $0[_position] }
    }

    /// Reads a little-endian `T` of `MemoryLayout<T>.size` bytes.
    @inlinable
    public mutating func readFixedWidth<T: FixedWidthInteger>(_ type: T.Type = T.self) throws -> T {
        let size = MemoryLayout<T>.size
        try _require(size)
        let position = _position
        let raw = _bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: position, as: T.self) }
        _position = position &+ size
        return T(littleEndian: raw)
    }

    /// Reads an unsigned LEB128 varint (at most 10 bytes).
    ///
    /// Throws `.truncated` if the input ends inside the varint and `.malformed` if it is
    /// longer than 10 bytes or overflows 64 bits.
    @inlinable
    public mutating func readVarUInt() throws -> UInt64 {
        let start = _position
        if _fastPath(_end &- start >= 10) {
            // At least 10 bytes remain: no bounds check per byte. (A branch-free decode
            // from one 8-byte load measured slower: most varints are short and the loop's
            // branches predict well.)
            let (value, next) = _bytes.withUnsafeBufferPointer { buffer -> (UInt64, Int) in
                let base = buffer.baseAddress.unsafelyUnwrapped + start
                var byte = UInt64(base[0])
                if byte < 0x80 { return (byte, start &+ 1) }
                var result = byte & 0x7F
                var i = 1
                var shift: UInt64 = 7
                while i < 10 {
                    byte = UInt64(base[i])
                    result |= (byte & 0x7F) &<< shift
                    i &+= 1
                    if byte < 0x80 {
                        // The 10th byte may only carry the top bit of a UInt64.
                        if i == 10 && byte > 1 { return (0, -1) }
                        return (result, start &+ i)
                    }
                    shift &+= 7
                }
                return (0, -1)
            }
            if _slowPath(next < 0) { throw CodecError._varintTooLong(at: start) }
            _position = next
            return value
        }
        return try _readVarUIntNearEnd()
    }

    /// `readVarUInt` when fewer than 10 bytes remain: checks bounds per byte.
    @usableFromInline
    internal mutating func _readVarUIntNearEnd() throws -> UInt64 {
        let start = _position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var p = start
        while true {
            guard p < _end else {
                throw CodecError._truncated(needed: p - start + 1, available: _end - start, at: start)
            }
            let byte = _bytes[p]
            p += 1
            if shift == 63 && byte > 1 { throw CodecError._varintTooLong(at: start) }
            result |= UInt64(byte & 0x7F) &<< shift
            if byte < 0x80 {
                _position = p
                return result
            }
            shift += 7
        }
    }

    /// Reads a zig-zag LEB128 varint written by ``BinaryWriter/writeVarInt(_:)``.
    @inlinable
    public mutating func readVarInt() throws -> Int64 {
        let u = try readVarUInt()
        return Int64(bitPattern: u &>> 1) ^ -Int64(bitPattern: u & 1)
    }

    /// Reads a Bool; any byte other than 0 or 1 is `.malformed`.
    @inlinable
    public mutating func readBool() throws -> Bool {
        let byte = try readByte()
        if _slowPath(byte > 1) { throw CodecError._invalidBool(byte, at: _position &- 1) }
        return byte == 1
    }

    /// Reads a Float from its 4-byte bit pattern.
    @inlinable
    public mutating func readFloat() throws -> Float {
        Float(bitPattern: try readFixedWidth(UInt32.self))
    }

    /// Reads a Double from its 8-byte bit pattern.
    @inlinable
    public mutating func readDouble() throws -> Double {
        Double(bitPattern: try readFixedWidth(UInt64.self))
    }

    /// Reads a varint length and checks that that many bytes remain.
    ///
    /// Use it for any count of elements that each take at least one byte: a count larger
    /// than the remaining bytes cannot be valid, and refusing it early keeps corrupted
    /// input from reserving huge amounts of memory.
    @inlinable
    public mutating func readLength() throws -> Int {
        let start = _position
        let length = try readVarUInt()
        if _slowPath(length > UInt64(_end &- _position)) {
            throw CodecError._lengthBeyondEnd(length, available: _end &- _position, at: start)
        }
        return Int(truncatingIfNeeded: length)
    }

    /// Calls `body` with the next `count` bytes, without copying, and consumes them.
    @inlinable
    public mutating func withRawBytes<R>(
        count: Int, _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        precondition(count >= 0, "negative count")
        try _require(count)
        let start = _position
        let result = try _bytes.withUnsafeBytes { buffer in
            try body(UnsafeRawBufferPointer(rebasing: buffer[start..<(start &+ count)]))
        }
        _position = start &+ count
        return result
    }

    /// Reads `count` bytes as they are (no length prefix).
    @inlinable
    public mutating func readRawBytes(count: Int) throws -> [UInt8] {
        try withRawBytes(count: count) { raw in
            [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                if count > 0 {
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: raw)
                }
                initialized = count
            }
        }
    }

    /// Reads a varint length followed by that many bytes.
    @inlinable
    public mutating func readBytes() throws -> [UInt8] {
        let count = try readLength()
        return try readRawBytes(count: count)
    }

    /// Reads a varint byte length followed by that many bytes of UTF-8.
    ///
    /// Throws `.malformed` if the bytes are not valid UTF-8.
    @inlinable
    public mutating func readString() throws -> String {
        let count = try readLength()
        let start = _position
        // `String(validating:as:)` is ~6x slower than validating here and then decoding.
        let string = _bytes.withUnsafeBufferPointer { buffer -> String? in
            let utf8 = UnsafeBufferPointer(rebasing: buffer[start..<(start &+ count)])
            guard _isValidUTF8(utf8) else { return nil }
            return String(decoding: utf8, as: UTF8.self)
        }
        guard let string else { throw CodecError._invalidUTF8(at: start) }
        _position = start &+ count
        return string
    }

    /// Reads a value in its ``BinaryCodable`` encoding.
    @inlinable
    public mutating func read<T: BinaryCodable>(_ type: T.Type = T.self) throws -> T {
        try T(from: &self)
    }

    // MARK: - Internal helpers for framing and the Codable bridge

    /// A reader over the next `count` bytes (which must remain), sharing the array.
    @usableFromInline
    internal func _subReader(count: Int) -> BinaryReader {
        precondition(count >= 0 && count <= remaining, "count out of range")
        return BinaryReader(_bytes, range: _position..<(_position + count))
    }

    /// Moves the position to `offset`, which must lie within the readable range.
    @usableFromInline
    internal mutating func _seek(to offset: Int) {
        precondition(offset >= 0 && offset <= _end, "offset out of range")
        _position = offset
    }

    /// Skips `count` bytes.
    @usableFromInline
    internal mutating func _skip(_ count: Int) throws {
        try _require(count)
        _position &+= count
    }

    /// Compares the next `count` bytes with `other` without consuming them.
    @usableFromInline
    internal func _bytesEqual(at offset: Int, count: Int, _ other: UnsafeRawBufferPointer) -> Bool {
        guard other.count == count, offset >= 0, count <= _end - offset else { return false }
        guard count > 0 else { return true }
        return _bytes.withUnsafeBytes { buffer in
            let lhs = buffer.baseAddress.unsafelyUnwrapped + offset
            let rhs = other.baseAddress.unsafelyUnwrapped
            var i = 0
            while i &+ 8 <= count {
                if lhs.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    != rhs.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                {
                    return false
                }
                i &+= 8
            }
            while i < count {
                if lhs.load(fromByteOffset: i, as: UInt8.self) != rhs.load(fromByteOffset: i, as: UInt8.self) {
                    return false
                }
                i &+= 1
            }
            return true
        }
    }

    /// The bytes `offset..<offset+count`, which must lie within the readable range.
    @usableFromInline
    internal func _slice(at offset: Int, count: Int) -> ArraySlice<UInt8> {
        _bytes[offset..<(offset + count)]
    }
}

/// `true` when `bytes` is well-formed UTF-8 (Unicode 15, table 3-7: no overlong forms,
/// no surrogates, nothing above U+10FFFF).
@inlinable
internal func _isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    // ASCII fast path, eight bytes at a time.
    let count = bytes.count
    guard let base = bytes.baseAddress else { return true }
    var i = 0
    while i &+ 8 <= count {
        let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
        if word & 0x8080_8080_8080_8080 != 0 { return _isValidUTF8Slow(bytes, from: i) }
        i &+= 8
    }
    while i < count {
        if base[i] >= 0x80 { return _isValidUTF8Slow(bytes, from: i) }
        i &+= 1
    }
    return true
}

@usableFromInline
internal func _isValidUTF8Slow(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Bool {
    let count = bytes.count
    var i = start
    @inline(__always) func continuation(_ index: Int) -> Bool {
        index < count && bytes[index] & 0xC0 == 0x80
    }
    while i < count {
        let lead = bytes[i]
        if lead < 0x80 {
            i += 1
            continue
        }
        switch lead {
        case 0xC2...0xDF:
            guard continuation(i + 1) else { return false }
            i += 2
        case 0xE0...0xEF:
            guard i + 2 < count, continuation(i + 1), continuation(i + 2) else { return false }
            let second = bytes[i + 1]
            if lead == 0xE0 && second < 0xA0 { return false }  // overlong
            if lead == 0xED && second > 0x9F { return false }  // surrogate
            i += 3
        case 0xF0...0xF4:
            guard i + 3 < count, continuation(i + 1), continuation(i + 2), continuation(i + 3)
            else { return false }
            let second = bytes[i + 1]
            if lead == 0xF0 && second < 0x90 { return false }  // overlong
            if lead == 0xF4 && second > 0x8F { return false }  // above U+10FFFF
            i += 4
        default:
            return false  // continuation byte as lead, C0/C1 (overlong), F5...FF
        }
    }
    return true
}
