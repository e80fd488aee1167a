/// A key whose hash code is the same in every process, so that it always lands in the same
/// key group (Swift's `hashValue` is randomly seeded per process and cannot be used).
///
/// The built-in conformances return Java's `hashCode()` for the corresponding Java type, so a
/// key is assigned to the same key group as in Flink:
///
/// | Swift                               | Java                 | hash code                          |
/// |-------------------------------------|----------------------|------------------------------------|
/// | `Int32`, `Int16`, `Int8`            | `int`/`short`/`byte` | the value                          |
/// | `UInt16`, `UInt8`                   | `char`, `& 0xFF`     | the value, zero-extended           |
/// | `UInt32`                            | `int` (same bits)    | the bit pattern                    |
/// | `Int64`, `Int`, `UInt64`, `UInt`    | `long`               | `(int)(v ^ (v >>> 32))`            |
/// | `Bool`                              | `boolean`            | `1231` / `1237`                    |
/// | `Double`, `Float`                   | `double`, `float`    | of the bits, canonical NaN         |
/// | `String`                            | `String`             | `31*h + c` over UTF-16 code units  |
/// | `Optional`                          | nullable reference   | `nil` → 0                          |
/// | `Array`                             | `List`               | `31*h + e`, starting at 1          |
///
/// A user type conforms by combining the stable hash codes of its fields, Java-style
/// (`31 &* h &+ field.stableHashCode`). The hash code must be consistent with `==`.
///
/// Like Java, `0.0` and `-0.0` are different keys (their hash codes differ), and a NaN key can
/// never be found again (`NaN != NaN` in Swift): do not key by floating-point NaN.
public protocol StableHashable: Hashable {
    /// The Java-compatible hash code; stable across processes and machines.
    var stableHashCode: Int32 { get }
}

extension Int32: StableHashable {
    @inlinable public var stableHashCode: Int32 { self }
}

extension Int16: StableHashable {
    @inlinable public var stableHashCode: Int32 { Int32(self) }
}

extension Int8: StableHashable {
    @inlinable public var stableHashCode: Int32 { Int32(self) }
}

extension UInt32: StableHashable {
    @inlinable public var stableHashCode: Int32 { Int32(bitPattern: self) }
}

extension UInt16: StableHashable {
    @inlinable public var stableHashCode: Int32 { Int32(self) }
}

extension UInt8: StableHashable {
    @inlinable public var stableHashCode: Int32 { Int32(self) }
}

extension Int64: StableHashable {
    /// Java's `Long.hashCode()`: `(int)(value ^ (value >>> 32))`.
    @inlinable public var stableHashCode: Int32 {
        let bits = UInt64(bitPattern: self)
        return Int32(truncatingIfNeeded: bits ^ (bits >> 32))
    }
}

extension UInt64: StableHashable {
    @inlinable public var stableHashCode: Int32 { Int64(bitPattern: self).stableHashCode }
}

extension Int: StableHashable {
    @inlinable public var stableHashCode: Int32 { Int64(self).stableHashCode }
}

extension UInt: StableHashable {
    @inlinable public var stableHashCode: Int32 { UInt64(self).stableHashCode }
}

extension Bool: StableHashable {
    /// Java's `Boolean.hashCode()`.
    @inlinable public var stableHashCode: Int32 { self ? 1231 : 1237 }
}

extension Double: StableHashable {
    /// Java's `Double.hashCode()`: the hash of `doubleToLongBits`, which maps every NaN to the
    /// canonical `0x7ff8000000000000`.
    @inlinable public var stableHashCode: Int32 {
        let bits: UInt64 = isNaN ? 0x7ff8_0000_0000_0000 : bitPattern
        return Int32(truncatingIfNeeded: bits ^ (bits >> 32))
    }
}

extension Float: StableHashable {
    /// Java's `Float.hashCode()`: `floatToIntBits`, canonical NaN `0x7fc00000`.
    @inlinable public var stableHashCode: Int32 {
        Int32(bitPattern: isNaN ? 0x7fc0_0000 : bitPattern)
    }
}

extension String: StableHashable {
    /// Java's `String.hashCode()`: `h = 31 * h + c` over the UTF-16 code units.
    ///
    /// - Complexity: O(n); ASCII text in contiguous UTF-8 storage is hashed byte by byte
    ///   without transcoding.
    @inlinable public var stableHashCode: Int32 {
        if let ascii = utf8.withContiguousStorageIfAvailable({ _StableHash.javaHashIfASCII($0) }),
           let hash = ascii {
            return hash
        }
        return _StableHash.javaHash(utf16CodeUnits: utf16)
    }
}

extension Substring: StableHashable {
    /// Same as `String(self).stableHashCode`.
    @inlinable public var stableHashCode: Int32 {
        if let ascii = utf8.withContiguousStorageIfAvailable({ _StableHash.javaHashIfASCII($0) }),
           let hash = ascii {
            return hash
        }
        return _StableHash.javaHash(utf16CodeUnits: utf16)
    }
}

extension Optional: StableHashable where Wrapped: StableHashable {
    /// A Java `null` hashes to 0 (as in `Objects.hashCode`).
    @inlinable public var stableHashCode: Int32 {
        switch self {
        case .none: 0
        case .some(let wrapped): wrapped.stableHashCode
        }
    }
}

extension Array: StableHashable where Element: StableHashable {
    /// Java's `List.hashCode()`: `h = 31 * h + e.hashCode()`, starting at 1.
    @inlinable public var stableHashCode: Int32 {
        var hash: Int32 = 1
        for element in self { hash = 31 &* hash &+ element.stableHashCode }
        return hash
    }
}

@usableFromInline
enum _StableHash {
    /// Java's string hash of `bytes` if they are all ASCII (then UTF-8 bytes are UTF-16 code
    /// units); `nil` at the first non-ASCII byte.
    @inlinable
    static func javaHashIfASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        var hash: Int32 = 0
        for byte in bytes {
            if byte >= 0x80 { return nil }
            hash = 31 &* hash &+ Int32(byte)
        }
        return hash
    }

    @inlinable
    static func javaHash<C: Collection>(utf16CodeUnits: C) -> Int32 where C.Element == UInt16 {
        var hash: Int32 = 0
        for unit in utf16CodeUnits { hash = 31 &* hash &+ Int32(unit) }
        return hash
    }
}
