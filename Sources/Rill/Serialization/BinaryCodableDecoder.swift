/// Decodes `Decodable` values written by ``BinaryCodableEncoder``.
///
/// Fields are looked up by name: in the stored order first (one comparison per field when
/// the type has not changed), else through an index of the container built on demand.
/// What a changed type may and may not read is listed on ``BinaryCodableEncoder``; every
/// mismatch is a ``CodecError`` (`typeMismatch` naming the field, `truncated` or
/// `malformed` for damaged bytes), never a wrong value. `DecodingError`s thrown by a
/// type's own `init(from:)` (for example a raw value no enum case has any more) become
/// `CodecError.typeMismatch`; other errors it throws are rethrown unchanged.
public struct BinaryCodableDecoder {
    /// Contextual information for the values' `init(from:)`.
    public var userInfo: [CodingUserInfoKey: Any]

    /// Creates a decoder.
    public init(userInfo: [CodingUserInfoKey: Any] = [:]) {
        self.userInfo = userInfo
    }

    /// Decodes a `T` at the reader's position and moves the reader past it. On error the
    /// reader's position is unchanged.
    public func decode<T: Decodable>(_ type: T.Type, from reader: inout BinaryReader) throws -> T {
        let state = _DecodingState(reader: reader, userInfo: userInfo)
        do {
            let tagOffset = reader.offset
            let tag = try state.reader._readElementTag()
            guard tag != _CodableTag.end else {
                throw CodecError._malformed("a value starts with an end marker", at: tagOffset)
            }
            let value = try state.decodeValue(T.self, tag: tag, at: tagOffset + 1, depth: 0)
            reader._seek(to: state.valueEnd)
            return value
        } catch {
            throw _decodingError(error, path: state.codingPath)
        }
    }

    /// Decodes a `T` from all of `bytes`; trailing bytes are `.malformed`.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        var reader = BinaryReader(bytes)
        let value = try decode(T.self, from: &reader)
        try reader.expectEnd()
        return value
    }
}

/// Maps `DecodingError` to `CodecError`; other errors pass unchanged.
private func _decodingError(_ error: any Error, path: [any CodingKey]) -> any Error {
    func message(_ context: DecodingError.Context) -> String {
        "at \(_describeCodingPath(context.codingPath)): \(context.debugDescription)"
    }
    switch error {
    case let error as CodecError:
        return error
    case let DecodingError.typeMismatch(type, context):
        return CodecError(.typeMismatch, "\(message(context)) (expected \(type))")
    case let DecodingError.valueNotFound(type, context):
        return CodecError(.typeMismatch, "\(message(context)) (expected \(type))")
    case let DecodingError.keyNotFound(key, context):
        return CodecError(.typeMismatch, "\(message(context)) (missing field '\(key.stringValue)')")
    case let DecodingError.dataCorrupted(context):
        // The bytes passed the format's checks; the type rejected the value they hold.
        return CodecError(.typeMismatch, message(context))
    case let error as DecodingError:
        return CodecError(.typeMismatch, "decoding failed: \(error)")
    default:
        return error
    }
}

// MARK: - State

/// A field of a keyed container, found by scanning it.
private struct _FieldEntry {
    let nameStart: Int
    let nameCount: Int
    let tag: UInt8
    let valueStart: Int
}

/// One open keyed or unkeyed container.
private struct _DecodeFrame {
    enum Kind { case keyed, unkeyed }
    let id: Int32
    let kind: Kind
    /// Offset of the first field or element.
    let start: Int
    /// Offset of the next unread field (keyed, until indexed) or element (unkeyed).
    var cursor: Int
    /// All fields, once a lookup missed the stored order (keyed only).
    var fields: [_FieldEntry]?
    /// Offset just past the end marker, once known.
    var end: Int?
    /// Number of elements (unkeyed), once counted.
    var count: Int?
}

/// Shared by the decoder, its containers and nested decoders during one `decode` call.
///
/// Only the thread running the `decode` call touches it, and never with overlapping
/// accesses, so the stored properties skip dynamic exclusivity checks (they cost ~15%).
private final class _DecodingState {
    @exclusivity(unchecked) var reader: BinaryReader
    @exclusivity(unchecked) var frames: [_DecodeFrame] = []
    @exclusivity(unchecked) var nextID: Int32 = 1
    @exclusivity(unchecked) var codingPath: [any CodingKey] = []
    let userInfo: [CodingUserInfoKey: Any]
    /// Where the value most recently decoded by `decodeValue` ended.
    @exclusivity(unchecked) var valueEnd = 0
    /// Where the last value read through a single value container ended.
    @exclusivity(unchecked) var lastSingleValue: (start: Int, end: Int) = (-1, -1)

    init(reader: BinaryReader, userInfo: [CodingUserInfoKey: Any]) {
        self.reader = reader
        self.userInfo = userInfo
    }

    // MARK: Errors

    func mismatch(_ what: String, key: (any CodingKey)? = nil, at offset: Int? = nil) -> CodecError {
        var path = codingPath
        if let key { path.append(key) }
        return CodecError(
            .typeMismatch,
            "at \(_describeCodingPath(path)): \(what); the stored data was written by a different "
                + "version of the type — migrate it, or make the change compatible (see "
                + "BinaryCodableEncoder)",
            offset: offset)
    }

    func stale() -> CodecError {
        CodecError(
            .typeMismatch,
            "at \(_describeCodingPath(codingPath)): a decoding container was used after the value "
                + "it belongs to was finished")
    }

    // MARK: Values

    /// Decodes a `T` stored with `tag` at `start`; sets `valueEnd` to the offset after it.
    func decodeValue<T: Decodable>(_ type: T.Type, tag: UInt8, at start: Int, depth: Int) throws -> T {
        if _codablePrimitiveTag(T.self) != _CodableTag.unset {
            reader._seek(to: start)
            let value: T
            do {
                value = try _readCodablePrimitive(T.self, storedTag: tag, from: &reader)
            } catch is _CodablePrimitiveMismatch {
                throw mismatch("expected \(T.self) but found \(_CodableTag.name(tag))", at: start)
            }
            valueEnd = reader.offset
            return value
        }
        if tag == _CodableTag.binary {
            guard let binaryType = T.self as? any BinaryCodable.Type else {
                throw mismatch(
                    "found a BinaryCodable value but \(T.self) does not conform to BinaryCodable",
                    at: start)
            }
            reader._seek(to: start)
            let length = try reader.readLength()
            var payload = reader._subReader(count: length)
            let end = reader.offset + length
            let value = try _decodeBinary(binaryType, as: T.self, from: &payload)
            guard payload.isAtEnd else {
                throw mismatch(
                    "\(T.self) read \(length - payload.remaining) of its \(length) stored bytes",
                    at: start)
            }
            valueEnd = end
            return value
        }
        guard depth < _codableMaximumNestingDepth else { throw CodecError._tooDeep(at: start) }
        let base = frames.count
        defer { if frames.count > base { frames.removeSubrange(base...) } }
        let value = try T(from: _BinaryDecoding(state: self, tag: tag, start: start, depth: depth))
        valueEnd = try end(ofValueWithTag: tag, at: start, frameBase: base, depth: depth)
        return value
    }

    /// Where the value stored with `tag` at `start` ends, after `init(from:)` read it.
    func end(ofValueWithTag tag: UInt8, at start: Int, frameBase base: Int, depth: Int) throws -> Int {
        if frames.count > base, frames[base].start == start {
            let frame = frames[base]
            if let end = frame.end { return end }
            // Read in stored order: the container ends at the cursor's end marker, after
            // any trailing fields the type no longer has.
            reader._seek(to: frame.cursor)
            if frame.kind == .keyed {
                try reader._skipKeyedFields(depth: depth)
            } else {
                try reader._skipUnkeyedElements(depth: depth)
            }
            return reader.offset
        }
        if lastSingleValue.start == start { return lastSingleValue.end }
        reader._seek(to: start)
        try reader._skipPayload(tag: tag, depth: depth)
        return reader.offset
    }

    /// Skips the value stored with `tag` at `start`; returns the offset after it.
    func skip(tag: UInt8, at start: Int, depth: Int) throws -> Int {
        reader._seek(to: start)
        try reader._skipPayload(tag: tag, depth: depth)
        return reader.offset
    }

    func pushFrame(_ kind: _DecodeFrame.Kind, start: Int, end: Int?) -> (id: Int32, index: Int32) {
        let id = nextID
        nextID &+= 1
        frames.append(_DecodeFrame(id: id, kind: kind, start: start, cursor: start, end: end))
        return (id, Int32(truncatingIfNeeded: frames.count - 1))
    }

    func checkFrame(_ id: Int32, _ index: Int) throws {
        guard index < frames.count, frames[index].id == id else { throw stale() }
    }

    // MARK: Keyed lookup

    /// Finds the field `key` in the keyed container at `index`: in stored order first,
    /// else through the container's field index.
    func locate(_ key: any CodingKey, frame index: Int, depth: Int) throws
        -> (tag: UInt8, valueStart: Int, inOrder: Bool)?
    {
        var name = key.stringValue
        return try name.withUTF8 { utf8 in
            let nameBytes = UnsafeRawBufferPointer(utf8)
            if frames[index].fields == nil {
                reader._seek(to: frames[index].cursor)
                let (tag, nameStart, nameCount) = try reader._readFieldHeader()
                if tag != _CodableTag.end && reader._bytesEqual(at: nameStart, count: nameCount, nameBytes) {
                    return (tag, reader.offset, true)
                }
                try buildIndex(frame: index, depth: depth)
            }
            for field in frames[index].fields! where
                reader._bytesEqual(at: field.nameStart, count: field.nameCount, nameBytes)
            {
                return (field.tag, field.valueStart, false)
            }
            return nil
        }
    }

    func buildIndex(frame index: Int, depth: Int) throws {
        guard depth < _codableMaximumNestingDepth else { throw CodecError._tooDeep(at: frames[index].start) }
        var fields: [_FieldEntry] = []
        reader._seek(to: frames[index].start)
        while true {
            let (tag, nameStart, nameCount) = try reader._readFieldHeader()
            if tag == _CodableTag.end { break }
            let valueStart = reader.offset
            try reader._skipPayload(tag: tag, depth: depth + 1)
            fields.append(_FieldEntry(nameStart: nameStart, nameCount: nameCount, tag: tag, valueStart: valueStart))
        }
        frames[index].fields = fields
        frames[index].end = reader.offset
    }

    /// Decodes the field `key`, found by `locate` at `valueStart` with `tag`, of the keyed
    /// container at `index`.
    func decodeField<T: Decodable>(
        _ type: T.Type, forKey key: any CodingKey, tag: UInt8, valueStart: Int, inOrder: Bool,
        index: Int, depth: Int
    ) throws -> T {
        let value: T
        if _codablePrimitiveTag(T.self) != _CodableTag.unset || tag == _CodableTag.binary {
            do {
                value = try decodeValue(T.self, tag: tag, at: valueStart, depth: depth + 1)
            } catch let error as CodecError where error.code == .typeMismatch {
                throw mismatch(
                    "field '\(key.stringValue)': expected \(T.self) but found \(_CodableTag.name(tag))",
                    at: valueStart)
            }
        } else {
            codingPath.append(key)
            value = try decodeValue(T.self, tag: tag, at: valueStart, depth: depth + 1)
            codingPath.removeLast()
        }
        if inOrder { frames[index].cursor = valueEnd }
        return value
    }
}

/// Thrown by `_readCodablePrimitive` when the stored tag cannot become the requested type.
internal struct _CodablePrimitiveMismatch: Error {}

/// Opens the existential metatype to call the BinaryCodable initializer.
private func _decodeBinary<T>(
    _ binaryType: any BinaryCodable.Type, as type: T.Type, from reader: inout BinaryReader
) throws -> T {
    func open<B: BinaryCodable>(_: B.Type) throws -> T {
        try B(from: &reader) as! T
    }
    return try open(binaryType)
}

// MARK: - Decoder

/// Kept within three words so `any Decoder` holds it without a heap box.
private struct _BinaryDecoding: Decoder {
    let state: _DecodingState
    let start: Int
    private let packedDepth: Int32
    let tag: UInt8
    var depth: Int { Int(packedDepth) }

    init(state: _DecodingState, tag: UInt8, start: Int, depth: Int) {
        self.state = state
        self.start = start
        self.packedDepth = Int32(truncatingIfNeeded: depth)
        self.tag = tag
    }

    var codingPath: [any CodingKey] { state.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard tag == _CodableTag.keyed else {
            throw state.mismatch("expected a keyed container but found \(_CodableTag.name(tag))", at: start)
        }
        let (id, index) = state.pushFrame(.keyed, start: start, end: nil)
        return KeyedDecodingContainer(
            _KeyedDecoding<Key>(state: state, id: id, index: Int(index), depth: depth))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard tag == _CodableTag.unkeyed else {
            throw state.mismatch("expected an unkeyed container but found \(_CodableTag.name(tag))", at: start)
        }
        let (id, index) = state.pushFrame(.unkeyed, start: start, end: nil)
        return _UnkeyedDecoding(state: state, id: id, index: Int(index), depth: depth)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        _SingleValueDecoding(state: state, tag: tag, start: start, depth: depth)
    }
}

// MARK: - Keyed

private struct _KeyedDecoding<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let state: _DecodingState
    let id: Int32
    let index: Int
    let depth: Int

    var codingPath: [any CodingKey] { state.codingPath }

    var allKeys: [Key] {
        guard (try? state.checkFrame(id, index)) != nil else { return [] }
        if state.frames[index].fields == nil {
            guard (try? state.buildIndex(frame: index, depth: depth)) != nil else { return [] }
        }
        return state.frames[index].fields!.compactMap { field in
            let name = state.reader._slice(at: field.nameStart, count: field.nameCount)
            return Key(stringValue: String(decoding: name, as: UTF8.self))
        }
    }

    func contains(_ key: Key) -> Bool {
        guard (try? state.checkFrame(id, index)) != nil else { return false }
        return ((try? state.locate(key, frame: index, depth: depth)) ?? nil) != nil
    }

    private func missing(_ key: Key) -> CodecError {
        state.mismatch(
            "the stored value has no field '\(key.stringValue)' (added or renamed since it was "
                + "written? make the field Optional or give init(from:) a default)")
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        try state.checkFrame(id, index)
        guard let (tag, valueStart, inOrder) = try state.locate(key, frame: index, depth: depth) else {
            throw missing(key)
        }
        guard tag == _CodableTag.null else { return false }
        if inOrder { state.frames[index].cursor = valueStart }
        return true
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try field(type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try field(type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try field(type, key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try field(type, key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try field(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try field(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try field(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try field(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try field(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try field(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try field(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try field(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try field(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try field(type, key) }
    func decode(_ type: Int128.Type, forKey key: Key) throws -> Int128 { try field(type, key) }
    func decode(_ type: UInt128.Type, forKey key: Key) throws -> UInt128 { try field(type, key) }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try field(type, key) }

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try optional(type, key) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try optional(type, key) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try optional(type, key) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try optional(type, key) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try optional(type, key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try optional(type, key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try optional(type, key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try optional(type, key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try optional(type, key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try optional(type, key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try optional(type, key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try optional(type, key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try optional(type, key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try optional(type, key) }
    func decodeIfPresent(_ type: Int128.Type, forKey key: Key) throws -> Int128? { try optional(type, key) }
    func decodeIfPresent(_ type: UInt128.Type, forKey key: Key) throws -> UInt128? { try optional(type, key) }
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try optional(type, key)
    }

    @inline(__always)
    private func field<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        try state.checkFrame(id, index)
        guard let (tag, valueStart, inOrder) = try state.locate(key, frame: index, depth: depth) else {
            throw missing(key)
        }
        return try state.decodeField(
            T.self, forKey: key, tag: tag, valueStart: valueStart, inOrder: inOrder, index: index,
            depth: depth)
    }

    /// A missing field or a stored nil is `nil`.
    @inline(__always)
    private func optional<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
        try state.checkFrame(id, index)
        guard let (tag, valueStart, inOrder) = try state.locate(key, frame: index, depth: depth) else {
            return nil
        }
        if tag == _CodableTag.null {
            if inOrder { state.frames[index].cursor = valueStart }
            return nil
        }
        return try state.decodeField(
            T.self, forKey: key, tag: tag, valueStart: valueStart, inOrder: inOrder, index: index,
            depth: depth)
    }

    /// Locates the field `key`, requires `expectedTag`, and moves past it.
    private func nested(_ key: Key, expectedTag: UInt8) throws -> (valueStart: Int, end: Int) {
        try state.checkFrame(id, index)
        guard let (tag, valueStart, inOrder) = try state.locate(key, frame: index, depth: depth) else {
            throw missing(key)
        }
        if expectedTag != _CodableTag.unset && tag != expectedTag {
            throw state.mismatch(
                "field '\(key.stringValue)': expected \(_CodableTag.name(expectedTag)) but found \(_CodableTag.name(tag))",
                at: valueStart)
        }
        let end = try state.skip(tag: tag, at: valueStart, depth: depth + 1)
        if inOrder { state.frames[index].cursor = end }
        return (valueStart, end)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let (valueStart, end) = try nested(key, expectedTag: _CodableTag.keyed)
        let (nestedID, nestedIndex) = state.pushFrame(.keyed, start: valueStart, end: end)
        return KeyedDecodingContainer(
            _KeyedDecoding<NestedKey>(state: state, id: nestedID, index: Int(nestedIndex), depth: depth + 1))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let (valueStart, end) = try nested(key, expectedTag: _CodableTag.unkeyed)
        let (nestedID, nestedIndex) = state.pushFrame(.unkeyed, start: valueStart, end: end)
        return _UnkeyedDecoding(state: state, id: nestedID, index: Int(nestedIndex), depth: depth + 1)
    }

    func superDecoder() throws -> any Decoder { try superDecoder(key: _CodableSuperKey()) }

    func superDecoder(forKey key: Key) throws -> any Decoder { try superDecoder(key: key) }

    private func superDecoder(key: some CodingKey) throws -> any Decoder {
        try state.checkFrame(id, index)
        guard let (tag, valueStart, inOrder) = try state.locate(key, frame: index, depth: depth) else {
            throw state.mismatch("the stored value has no field '\(key.stringValue)'")
        }
        let end = try state.skip(tag: tag, at: valueStart, depth: depth + 1)
        if inOrder { state.frames[index].cursor = end }
        return _BinaryDecoding(state: state, tag: tag, start: valueStart, depth: depth + 1)
    }
}

// MARK: - Unkeyed

/// Kept within three words so `any UnkeyedDecodingContainer` holds it without a heap box.
private struct _UnkeyedDecoding: UnkeyedDecodingContainer {
    let state: _DecodingState
    let id: Int32
    private let packedIndex: Int32
    private let packedDepth: Int32
    private var packedCurrentIndex: Int32 = 0

    var index: Int { Int(packedIndex) }
    var depth: Int { Int(packedDepth) }
    var currentIndex: Int { Int(packedCurrentIndex) }

    init(state: _DecodingState, id: Int32, index: Int, depth: Int) {
        self.state = state
        self.id = id
        self.packedIndex = Int32(truncatingIfNeeded: index)
        self.packedDepth = Int32(truncatingIfNeeded: depth)
    }

    var codingPath: [any CodingKey] { state.codingPath }

    var count: Int? {
        guard (try? state.checkFrame(id, index)) != nil else { return nil }
        if let count = state.frames[index].count { return count }
        state.reader._seek(to: state.frames[index].start)
        var count = 0
        do {
            while true {
                let tag = try state.reader._readElementTag()
                if tag == _CodableTag.end { break }
                try state.reader._skipPayload(tag: tag, depth: depth + 1)
                count += 1
            }
        } catch {
            return nil
        }
        state.frames[index].count = count
        state.frames[index].end = state.reader.offset
        return count
    }

    var isAtEnd: Bool {
        guard (try? state.checkFrame(id, index)) != nil else { return true }
        state.reader._seek(to: state.frames[index].cursor)
        return ((try? state.reader.peekByte()) ?? _CodableTag.end) == _CodableTag.end
    }

    /// Reads the next element's tag; throws at the end of the container.
    private func nextTag<T>(for type: T.Type) throws -> (tag: UInt8, valueStart: Int) {
        try state.checkFrame(id, index)
        state.reader._seek(to: state.frames[index].cursor)
        let tag = try state.reader._readElementTag()
        guard tag != _CodableTag.end else {
            throw state.mismatch(
                "expected \(T.self) at element \(currentIndex) but the stored array has only "
                    + "\(currentIndex) element(s)",
                key: _CodableIndexKey(intValue: currentIndex))
        }
        return (tag, state.reader.offset)
    }

    mutating func decodeNil() throws -> Bool {
        let (tag, valueStart) = try nextTag(for: Never?.self)
        guard tag == _CodableTag.null else { return false }
        state.frames[index].cursor = valueStart
        packedCurrentIndex &+= 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try element(type) }
    mutating func decode(_ type: String.Type) throws -> String { try element(type) }
    mutating func decode(_ type: Double.Type) throws -> Double { try element(type) }
    mutating func decode(_ type: Float.Type) throws -> Float { try element(type) }
    mutating func decode(_ type: Int.Type) throws -> Int { try element(type) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try element(type) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try element(type) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try element(type) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try element(type) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try element(type) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try element(type) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try element(type) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try element(type) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try element(type) }
    mutating func decode(_ type: Int128.Type) throws -> Int128 { try element(type) }
    mutating func decode(_ type: UInt128.Type) throws -> UInt128 { try element(type) }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try element(type) }

    @inline(__always)
    private mutating func element<T: Decodable>(_ type: T.Type) throws -> T {
        let (tag, valueStart) = try nextTag(for: T.self)
        let value: T
        if _codablePrimitiveTag(T.self) != _CodableTag.unset || tag == _CodableTag.binary {
            value = try state.decodeValue(T.self, tag: tag, at: valueStart, depth: depth + 1)
        } else {
            state.codingPath.append(_CodableIndexKey(intValue: currentIndex))
            value = try state.decodeValue(T.self, tag: tag, at: valueStart, depth: depth + 1)
            state.codingPath.removeLast()
        }
        state.frames[index].cursor = state.valueEnd
        packedCurrentIndex &+= 1
        return value
    }

    private mutating func nested(expectedTag: UInt8) throws -> (valueStart: Int, end: Int) {
        let (tag, valueStart) = try nextTag(for: Any.self)
        if expectedTag != _CodableTag.unset && tag != expectedTag {
            throw state.mismatch(
                "element \(currentIndex): expected \(_CodableTag.name(expectedTag)) but found \(_CodableTag.name(tag))",
                at: valueStart)
        }
        let end = try state.skip(tag: tag, at: valueStart, depth: depth + 1)
        state.frames[index].cursor = end
        packedCurrentIndex &+= 1
        return (valueStart, end)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let (valueStart, end) = try nested(expectedTag: _CodableTag.keyed)
        let (nestedID, nestedIndex) = state.pushFrame(.keyed, start: valueStart, end: end)
        return KeyedDecodingContainer(
            _KeyedDecoding<NestedKey>(state: state, id: nestedID, index: Int(nestedIndex), depth: depth + 1))
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let (valueStart, end) = try nested(expectedTag: _CodableTag.unkeyed)
        let (nestedID, nestedIndex) = state.pushFrame(.unkeyed, start: valueStart, end: end)
        return _UnkeyedDecoding(state: state, id: nestedID, index: Int(nestedIndex), depth: depth + 1)
    }

    mutating func superDecoder() throws -> any Decoder {
        let (tag, valueStart) = try nextTag(for: Any.self)
        let end = try state.skip(tag: tag, at: valueStart, depth: depth + 1)
        state.frames[index].cursor = end
        packedCurrentIndex &+= 1
        return _BinaryDecoding(state: state, tag: tag, start: valueStart, depth: depth + 1)
    }
}

// MARK: - Single value

/// Kept within three words so `any SingleValueDecodingContainer` holds it without a box.
private struct _SingleValueDecoding: SingleValueDecodingContainer {
    let state: _DecodingState
    let start: Int
    private let packedDepth: Int32
    let tag: UInt8
    var depth: Int { Int(packedDepth) }

    init(state: _DecodingState, tag: UInt8, start: Int, depth: Int) {
        self.state = state
        self.start = start
        self.packedDepth = Int32(truncatingIfNeeded: depth)
        self.tag = tag
    }

    var codingPath: [any CodingKey] { state.codingPath }

    func decodeNil() -> Bool { tag == _CodableTag.null }

    func decode(_ type: Bool.Type) throws -> Bool { try single(type) }
    func decode(_ type: String.Type) throws -> String { try single(type) }
    func decode(_ type: Double.Type) throws -> Double { try single(type) }
    func decode(_ type: Float.Type) throws -> Float { try single(type) }
    func decode(_ type: Int.Type) throws -> Int { try single(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try single(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try single(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try single(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try single(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try single(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try single(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try single(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try single(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try single(type) }
    func decode(_ type: Int128.Type) throws -> Int128 { try single(type) }
    func decode(_ type: UInt128.Type) throws -> UInt128 { try single(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try single(type) }

    @inline(__always)
    private func single<T: Decodable>(_ type: T.Type) throws -> T {
        // The value shares this container's tag and position (a wrapper costs no bytes).
        let value = try state.decodeValue(T.self, tag: tag, at: start, depth: depth)
        state.lastSingleValue = (start, state.valueEnd)
        return value
    }
}
