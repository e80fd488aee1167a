/// A growable byte buffer that values encode themselves into: little-endian fixed-width
/// integers, LEB128 varints, IEEE-754 bit patterns and length-prefixed bytes and strings.
///
/// `BinaryWriter` is noncopyable: it uniquely owns its buffer, so a write is a capacity
/// check and a store, with no copy-on-write uniqueness check (that check is a runtime
/// call and measured 2.5x slower per write). Pass it `inout`, move it with `consume`,
/// keep it in a class or a `Mutex` when it must be shared. Reuse one writer across
/// snapshots with ``reset()``: it keeps its capacity, so steady-state encoding does not
/// allocate.
///
/// ```swift
/// var writer = BinaryWriter(capacity: 1 << 16)
/// writer.writeVarInt(-3)
/// writer.writeString("rill")
/// let bytes = writer.bytes
/// ```
public struct BinaryWriter: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: the writer is noncopyable and the only owner of its buffer.

    /// The buffer (bound to `UInt8`); `nil` until the first write or reservation.
    @usableFromInline var _base: UnsafeMutableRawPointer?
    /// Allocated bytes at `_base`.
    @usableFromInline var _capacity: Int
    /// Bytes written so far.
    @usableFromInline var _count: Int

    /// Creates an empty writer; `capacity` bytes are allocated up front when it is not zero.
    @inlinable
    public init(capacity: Int = 0) {
        _base = nil
        _capacity = 0
        _count = 0
        if capacity > 0 { _reallocate(toCapacity: capacity) }
    }

    deinit {
        _base?.deallocate()
    }

    /// The number of bytes written.
    @inlinable
    public var count: Int { _count }

    /// `true` when nothing has been written since creation or the last ``reset()``.
    @inlinable
    public var isEmpty: Bool { _count == 0 }

    /// The number of bytes the writer can hold before it must grow.
    @inlinable
    public var capacity: Int { _capacity }

    /// Makes room for at least `minimumCapacity` bytes in total.
    ///
    /// - Complexity: O(`count`) when the buffer must grow, otherwise O(1).
    @inlinable
    public mutating func reserveCapacity(_ minimumCapacity: Int) {
        if minimumCapacity > _capacity { _reallocate(toCapacity: minimumCapacity) }
    }

    /// Forgets the written bytes but keeps the allocated capacity for reuse.
    ///
    /// - Complexity: O(1).
    @inlinable
    public mutating func reset() {
        _count = 0
    }

    /// A copy of the written bytes.
    ///
    /// - Complexity: O(`count`).
    @inlinable
    public var bytes: [UInt8] {
        guard _count > 0, let base = _base else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: base, count: _count))
    }

    /// Calls `body` with the written bytes, without copying. The pointer is valid only
    /// inside `body`.
    @inlinable
    public func withUnsafeBytes<R, E: Error>(
        _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: _count > 0 ? _base : nil, count: _count))
    }

    // MARK: - Raw writes

    /// Returns a pointer to `count` writable bytes at the end of the buffer, growing it
    /// first when needed. The caller must then advance `_count`.
    @inlinable
    @inline(__always)
    internal mutating func _reserveTail(_ count: Int) -> UnsafeMutableRawPointer {
        if _slowPath(_capacity &- _count < count) {
            _reallocate(toCapacity: Swift.max(_count + count, _capacity &* 2, 64))
        }
        return _base.unsafelyUnwrapped + _count
    }

    /// Moves the bytes into a fresh buffer of `newCapacity` bytes.
    @usableFromInline
    internal mutating func _reallocate(toCapacity newCapacity: Int) {
        let capacity = Swift.max(newCapacity, _count, 1)
        let base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        base.bindMemory(to: UInt8.self, capacity: capacity)
        if let old = _base {
            if _count > 0 { base.copyMemory(from: old, byteCount: _count) }
            old.deallocate()
        }
        _base = base
        _capacity = capacity
    }

    /// Appends one byte.
    @inlinable
    public mutating func writeByte(_ byte: UInt8) {
        let p = _reserveTail(1)
        p.storeBytes(of: byte, as: UInt8.self)
        _count &+= 1
    }

    /// Appends `value` in little-endian byte order, `MemoryLayout<T>.size` bytes.
    @inlinable
    public mutating func writeFixedWidth<T: FixedWidthInteger>(_ value: T) {
        let size = MemoryLayout<T>.size
        let p = _reserveTail(size)
        p.storeBytes(of: value.littleEndian, as: T.self)
        _count &+= size
    }

    /// Appends `value` as an unsigned LEB128 varint: 1 byte below 128, at most 10 bytes.
    @inlinable
    public mutating func writeVarUInt(_ value: UInt64) {
        let p = _reserveTail(10)
        _count &+= _storeVarUInt(value, at: p)
    }

    /// Stores `value` as a LEB128 varint at `p` (which has room for 10 bytes); returns
    /// the number of bytes stored.
    @inlinable
    @inline(__always)
    internal func _storeVarUInt(_ value: UInt64, at p: UnsafeMutableRawPointer) -> Int {
        var v = value
        var i = 0
        while v >= 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: i, as: UInt8.self)
            v &>>= 7
            i &+= 1
        }
        p.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
        return i &+ 1
    }

    /// Appends `value` as a zig-zag LEB128 varint, so small negative numbers stay short
    /// (-1 → 1 byte); at most 10 bytes.
    @inlinable
    public mutating func writeVarInt(_ value: Int64) {
        writeVarUInt(UInt64(bitPattern: (value &<< 1) ^ (value &>> 63)))
    }

    /// Appends `value` as one byte, 0 or 1.
    @inlinable
    public mutating func writeBool(_ value: Bool) {
        writeByte(value ? 1 : 0)
    }

    /// Appends the IEEE-754 bit pattern of `value` (4 bytes, little-endian); NaN payloads
    /// and the sign of zero are preserved.
    @inlinable
    public mutating func writeFloat(_ value: Float) {
        writeFixedWidth(value.bitPattern)
    }

    /// Appends the IEEE-754 bit pattern of `value` (8 bytes, little-endian); NaN payloads
    /// and the sign of zero are preserved.
    @inlinable
    public mutating func writeDouble(_ value: Double) {
        writeFixedWidth(value.bitPattern)
    }

    /// Appends `bytes` as they are, without a length prefix.
    @inlinable
    public mutating func writeRawBytes(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0 else { return }
        let p = _reserveTail(n)
        p.copyMemory(from: bytes.baseAddress.unsafelyUnwrapped, byteCount: n)
        _count &+= n
    }

    /// Appends `bytes` as they are, without a length prefix.
    @inlinable
    public mutating func writeRawBytes<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            writeRawBytes(UnsafeRawBufferPointer(buffer))
        }
        if done == nil {
            let n = bytes.count
            let p = _reserveTail(n)
            var i = 0
            for byte in bytes {
                p.storeBytes(of: byte, toByteOffset: i, as: UInt8.self)
                i &+= 1
            }
            _count &+= n
        }
    }

    /// Appends a varint length followed by `bytes`.
    @inlinable
    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        writeVarUInt(UInt64(bytes.count))
        writeRawBytes(bytes)
    }

    /// Appends a varint length followed by `bytes`.
    @inlinable
    public mutating func writeBytes<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        writeVarUInt(UInt64(bytes.count))
        writeRawBytes(bytes)
    }

    /// Appends a varint byte length followed by the string's UTF-8 bytes.
    @inlinable
    public mutating func writeString(_ string: String) {
        // One reservation for length and bytes; `initialize(from:)` on the UTF-8 view
        // measured faster than `withContiguousStorageIfAvailable` for short strings.
        let utf8 = string.utf8
        let n = utf8.count
        let p = _reserveTail(n &+ 10)
        let i = _storeVarUInt(UInt64(n), at: p)
        // The buffer is bound to UInt8 (see `_reallocate`).
        let target = UnsafeMutableBufferPointer(
            start: (p + i).assumingMemoryBound(to: UInt8.self), count: n)
        let (_, copied) = target.initialize(from: utf8)
        _count &+= i &+ copied
    }

    /// Appends `value` in its ``BinaryCodable`` encoding.
    @inlinable
    public mutating func write<T: BinaryCodable>(_ value: T) {
        value.encode(to: &self)
    }

    // MARK: - Internal helpers for framing and the Codable bridge

    /// Overwrites `MemoryLayout<T>.size` bytes at `offset` (which must already be written)
    /// with `value` in little-endian order.
    @usableFromInline
    internal mutating func _overwriteFixedWidth<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= _count, "offset out of range")
        _base.unsafelyUnwrapped.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }

    /// ORs `bits` into the byte at `offset` (which must already be written).
    @usableFromInline
    internal mutating func _orByte(_ bits: UInt8, at offset: Int) {
        precondition(offset >= 0 && offset < _count, "offset out of range")
        let p = _base.unsafelyUnwrapped + offset
        p.storeBytes(of: p.load(as: UInt8.self) | bits, as: UInt8.self)
    }

    /// Opens a gap of `gap` bytes at `offset` by moving the bytes after it; returns a
    /// pointer to the gap, which the caller must fill before any other write.
    @usableFromInline
    internal mutating func _insertGap(_ gap: Int, at offset: Int) -> UnsafeMutableRawPointer {
        precondition(offset >= 0 && offset <= _count && gap >= 0, "offset out of range")
        _ = _reserveTail(gap)
        let p = _base.unsafelyUnwrapped + offset
        (p + gap).copyMemory(from: p, byteCount: _count - offset)  // memmove semantics
        _count += gap
        return p
    }

    /// Drops every byte after the first `count`.
    @usableFromInline
    internal mutating func _truncate(to count: Int) {
        precondition(count >= 0 && count <= _count, "count out of range")
        _count = count
    }
}
