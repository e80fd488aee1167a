/// How the engine encodes and decodes the values of one state (or one key type): the pair
/// of closures it stores, plus a description that a restore compares with the one stored
/// in a checkpoint or savepoint to detect that the state's type changed.
///
/// Build one with ``binary`` (for ``BinaryCodable`` types: fastest, smallest) or
/// ``codable`` (any `Codable` type, through ``BinaryCodableEncoder``), or supply your own
/// closures. Both constructors are `@inlinable`, so the closures are specialized for `T` in
/// the module that names `T`.
public struct StateCodec<T>: Sendable {
    /// The value's type as written in checkpoints, `String(reflecting: T.self)` by default
    /// (for example `Swift.Dictionary<Swift.String, Swift.Int64>`).
    public let typeDescription: String
    /// The encoding, e.g. ``binaryFormat`` or ``codableFormat``: the same type encoded
    /// another way cannot be read back.
    public let format: String
    /// Appends the encoding of a value. It throws only for values that cannot be encoded
    /// (a `Codable` type whose `encode(to:)` fails); ``binary`` never throws.
    public let encode: @Sendable (T, inout BinaryWriter) throws -> Void
    /// Reads a value, throwing ``CodecError`` on bad or mismatched input.
    public let decode: @Sendable (inout BinaryReader) throws -> T

    /// The ``format`` of ``binary`` codecs.
    public static var binaryFormat: String { "rill.binary/1" }
    /// The ``format`` of ``codable`` codecs.
    public static var codableFormat: String { "rill.codable/1" }

    /// Creates a codec from closures.
    @inlinable
    public init(
        typeDescription: String = String(reflecting: T.self),
        format: String,
        encode: @escaping @Sendable (T, inout BinaryWriter) throws -> Void,
        decode: @escaping @Sendable (inout BinaryReader) throws -> T
    ) {
        self.typeDescription = typeDescription
        self.format = format
        self.encode = encode
        self.decode = decode
    }

    /// The encoding of `value` as a new byte array.
    @inlinable
    public func encodedBytes(_ value: T) throws -> [UInt8] {
        var writer = BinaryWriter()
        try encode(value, &writer)
        return writer.bytes
    }

    /// Decodes a value from all of `bytes`; trailing bytes are `.malformed`.
    @inlinable
    public func decodeValue(from bytes: [UInt8]) throws -> T {
        var reader = BinaryReader(bytes)
        let value = try decode(&reader)
        try reader.expectEnd()
        return value
    }

    /// Throws `CodecError.typeMismatch` unless data stored with `typeDescription` and
    /// `format` can be read by this codec. `stateName` names the state in the message.
    public func checkCanRead(
        storedTypeDescription: String, storedFormat: String, stateName: String
    ) throws {
        guard storedTypeDescription == typeDescription, storedFormat == format else {
            throw CodecError(
                .typeMismatch,
                "state '\(stateName)' was stored as \(storedTypeDescription) (\(storedFormat)) but "
                    + "the job now declares \(typeDescription) (\(format)); restore with the "
                    + "original type, or migrate the state (read it with the old codec and "
                    + "write it with the new one)")
        }
    }
}

extension StateCodec where T: BinaryCodable {
    /// Encodes with `T`'s ``BinaryCodable`` conformance.
    @inlinable
    public static var binary: StateCodec<T> {
        StateCodec(
            format: binaryFormat,
            encode: { value, writer in value.encode(to: &writer) },
            decode: { reader in try T(from: &reader) })
    }
}

extension StateCodec where T: Codable & SendableMetatype {
    /// Encodes with `T`'s `Codable` conformance through ``BinaryCodableEncoder`` (field
    /// names and type tags are stored, so compatible type changes are tolerated and
    /// incompatible ones detected; see ``BinaryCodableEncoder``).
    @inlinable
    public static var codable: StateCodec<T> {
        StateCodec(
            format: codableFormat,
            encode: { value, writer in try BinaryCodableEncoder().encode(value, to: &writer) },
            decode: { reader in try BinaryCodableDecoder().decode(T.self, from: &reader) })
    }
}
