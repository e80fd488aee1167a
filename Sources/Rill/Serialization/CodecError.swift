/// An error from Rill's binary codec: truncated or malformed bytes, a value of the wrong
/// type or format version, or a checksum that does not match.
///
/// Match on ``code``; ``message`` is for people and says what is wrong and what to do.
public struct CodecError: Error, CustomStringConvertible, Sendable {
    /// A stable error code. New codes may be added in later releases, so a `switch` over
    /// codes needs a `default` branch.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case truncated
            case malformed
            case versionMismatch
            case typeMismatch
            case checksumMismatch
            case invalidValue
        }

        private let value: Value

        private init(_ value: Value) { self.value = value }

        /// The input ended before the value did (a partial file or a cut-off buffer).
        public static var truncated: Code { Code(.truncated) }
        /// The bytes are not a valid encoding (bad varint, invalid UTF-8, impossible length, ...).
        public static var malformed: Code { Code(.malformed) }
        /// The data was written in a format version this build does not read.
        public static var versionMismatch: Code { Code(.versionMismatch) }
        /// The stored value does not have the shape of the type asked for (a field was
        /// added, renamed or changed type since the data was written).
        public static var typeMismatch: Code { Code(.typeMismatch) }
        /// The stored checksum does not match the data: the bytes were corrupted.
        public static var checksumMismatch: Code { Code(.checksumMismatch) }
        /// A value could not be encoded (its `encode(to:)` failed or misused the encoder).
        public static var invalidValue: Code { Code(.invalidValue) }

        public var description: String {
            switch value {
            case .truncated: "truncated"
            case .malformed: "malformed"
            case .versionMismatch: "versionMismatch"
            case .typeMismatch: "typeMismatch"
            case .checksumMismatch: "checksumMismatch"
            case .invalidValue: "invalidValue"
            }
        }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// What is wrong and what to do about it.
    public let message: String
    /// The byte offset in the input where the problem was found, when there is one.
    public let offset: Int?

    /// Creates an error; custom ``BinaryCodable`` conformances throw these for bad input.
    public init(_ code: Code, _ message: String, offset: Int? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
    }

    public var description: String {
        if let offset {
            return "CodecError.\(code) at byte \(offset): \(message)"
        }
        return "CodecError.\(code): \(message)"
    }
}

// Error constructors for the inlinable hot paths: kept out of line so the fast paths stay small.
extension CodecError {
    @usableFromInline
    @inline(never)
    static func _truncated(needed: Int, available: Int, at offset: Int) -> CodecError {
        CodecError(
            .truncated,
            "needed \(needed) more byte(s) but only \(available) remain; the data is cut off "
                + "(a partial write or a wrong length) — restore from an earlier, complete copy",
            offset: offset)
    }

    @usableFromInline
    @inline(never)
    static func _lengthBeyondEnd(_ length: UInt64, available: Int, at offset: Int) -> CodecError {
        CodecError(
            .truncated,
            "a length prefix of \(length) exceeds the \(available) byte(s) that remain; the data "
                + "is cut off or corrupted",
            offset: offset)
    }

    @usableFromInline
    @inline(never)
    static func _malformed(_ what: String, at offset: Int) -> CodecError {
        CodecError(.malformed, what, offset: offset)
    }

    @usableFromInline
    @inline(never)
    static func _varintTooLong(at offset: Int) -> CodecError {
        CodecError(
            .malformed,
            "varint is longer than 10 bytes or overflows 64 bits; the data is corrupted or was "
                + "not written by this codec",
            offset: offset)
    }

    @usableFromInline
    @inline(never)
    static func _outOfRange(_ value: String, for type: Any.Type, at offset: Int) -> CodecError {
        CodecError(
            .malformed,
            "value \(value) does not fit in \(type); the data is corrupted or the state's type "
                + "was narrowed since it was written",
            offset: offset)
    }

    @usableFromInline
    @inline(never)
    static func _invalidUTF8(at offset: Int) -> CodecError {
        CodecError(
            .malformed, "string is not valid UTF-8; the data is corrupted", offset: offset)
    }

    @usableFromInline
    @inline(never)
    static func _invalidBool(_ byte: UInt8, at offset: Int) -> CodecError {
        CodecError(
            .malformed, "expected a Bool (0 or 1) but found byte \(byte); the data is corrupted",
            offset: offset)
    }

    @usableFromInline
    @inline(never)
    static func _duplicate(_ what: String, at offset: Int) -> CodecError {
        CodecError(
            .malformed,
            "duplicate \(what) in a stored collection; the data is corrupted or a key type's "
                + "equality changed since it was written",
            offset: offset)
    }

    @usableFromInline
    @inline(never)
    static func _invalidOptionalTag(_ byte: UInt8, at offset: Int) -> CodecError {
        CodecError(
            .malformed,
            "expected an Optional tag (0 or 1) but found byte \(byte); the data is corrupted or "
                + "the state's type changed",
            offset: offset)
    }
}
