/// Encodes `Encodable` values into Rill's compact binary format: the bridge for user types
/// that are `Codable` but not ``BinaryCodable``.
///
/// Values are written in one pass, straight into a ``BinaryWriter``: no intermediate tree.
/// Fields are stored in the order `encode(to:)` writes them, each with its name and a
/// 4-bit type tag (see `CodableBridgeFormat.swift`); nested values whose type is
/// ``BinaryCodable`` (including `[Int64]`, `[String: Double]`, `Date`, `UUID`) take their
/// fast path. Compatibility of stored data with a changed type (``BinaryCodableDecoder``):
/// - reordered fields, removed fields and new optional fields are fine;
/// - integers may change width or signedness while the stored values fit, `Float` may
///   become `Double`;
/// - a new non-optional field, a renamed field or a changed field type fail with
///   `CodecError.typeMismatch` naming the field; a type that gains or loses a
///   ``BinaryCodable`` conformance changes its encoding and also fails with `typeMismatch`.
///
/// Limits: containers must be filled in order (a container cannot be written to after a
/// sibling or its parent wrote later data; synthesized `Codable` never does this), and
/// field names cost their UTF-8 length in every record. For hot state, conform to
/// ``BinaryCodable`` instead: it stores no names and no tags.
public struct BinaryCodableEncoder {
    /// Contextual information for the values' `encode(to:)`.
    public var userInfo: [CodingUserInfoKey: Any]

    /// Creates an encoder.
    public init(userInfo: [CodingUserInfoKey: Any] = [:]) {
        self.userInfo = userInfo
    }

    /// Appends the encoding of `value` to `writer`.
    ///
    /// Throws `CodecError.invalidValue` when `value`'s `encode(to:)` fails or misuses the
    /// encoder; the writer is then left as it was. Errors the value throws itself that are
    /// not `EncodingError`s are rethrown unchanged.
    public func encode<T: Encodable>(_ value: T, to writer: inout BinaryWriter) throws {
        let state = _EncodingState(userInfo: userInfo)
        swap(&state.writer, &writer)
        defer { swap(&state.writer, &writer) }
        let start = state.writer.count
        do {
            try state.encodeTopLevel(value)
        } catch {
            state.writer._truncate(to: start)
            throw _encodingError(error, path: state.codingPath)
        }
    }

    /// Returns the encoding of `value`.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        var writer = BinaryWriter()
        try encode(value, to: &writer)
        return writer.bytes
    }
}

/// Maps `EncodingError` to `CodecError.invalidValue`; other errors pass unchanged.
private func _encodingError(_ error: any Error, path: [any CodingKey]) -> any Error {
    switch error {
    case let error as CodecError:
        return error
    case let EncodingError.invalidValue(value, context):
        return CodecError(
            .invalidValue,
            "cannot encode \(type(of: value)) at \(_describeCodingPath(context.codingPath)): "
                + context.debugDescription)
    case let error as EncodingError:
        return CodecError(.invalidValue, "encoding failed: \(error)")
    default:
        return error
    }
}

// MARK: - State

/// One open slot or container on the encoder's stack.
private struct _EncodeFrame {
    enum Kind { case slot, keyed, unkeyed }
    let id: Int
    let kind: Kind
    /// For a slot: the offset of the byte whose low 4 bits receive the value's tag.
    let tagOffset: Int
    /// For a container: the slot it was created for (so a second request returns it).
    let owner: Int
}

/// Shared by the encoder, its containers and nested encoders during one `encode` call.
///
/// Only the thread running the `encode` call touches it, and never with overlapping
/// accesses, so the stored properties skip dynamic exclusivity checks (they cost ~15%).
private final class _EncodingState {
    @exclusivity(unchecked) var writer = BinaryWriter()
    @exclusivity(unchecked) var frames: [_EncodeFrame] = []
    @exclusivity(unchecked) var nextID = 1
    @exclusivity(unchecked) var codingPath: [any CodingKey] = []
    let userInfo: [CodingUserInfoKey: Any]
    /// An error found in a non-throwing API (container creation), reported at the end.
    @exclusivity(unchecked) var deferredError: CodecError?

    init(userInfo: [CodingUserInfoKey: Any]) {
        self.userInfo = userInfo
    }

    func makeID() -> Int {
        defer { nextID += 1 }
        return nextID
    }

    func misuse(_ what: String) -> CodecError {
        CodecError(
            .invalidValue,
            "at \(_describeCodingPath(codingPath)): \(what); BinaryCodableEncoder writes in one pass, "
                + "so each container must be filled before its parent or a sibling writes again")
    }

    func encodeTopLevel<T: Encodable>(_ value: T) throws {
        let tagOffset = writer.count
        writer.writeByte(_CodableTag.unset)
        let slot = openSlot(tagOffset: tagOffset)
        try encodeValue(value, slot: slot, depth: 0)
        if let deferredError { throw deferredError }
    }

    /// Pushes a slot whose tag goes into the byte at `tagOffset`; returns its id.
    func openSlot(tagOffset: Int) -> Int {
        let id = makeID()
        frames.append(_EncodeFrame(id: id, kind: .slot, tagOffset: tagOffset, owner: 0))
        return id
    }

    /// Closes every frame above `depth`, after checking that `id` is the frame at `depth`.
    func activate(_ id: Int, depth: Int) throws {
        guard depth < frames.count, frames[depth].id == id else {
            throw misuse("a container was used after its value was finished")
        }
        while frames.count > depth + 1 { closeTop() }
    }

    /// Pops the top frame, writing what it still owes: an end marker for a container, an
    /// empty keyed container for a slot nobody filled.
    func closeTop() {
        let frame = frames.removeLast()
        switch frame.kind {
        case .keyed, .unkeyed:
            writer.writeByte(_CodableTag.end)
        case .slot:
            writer._orByte(_CodableTag.keyed, at: frame.tagOffset)
            writer.writeByte(_CodableTag.end)
        }
    }

    /// Writes `value` into the open slot `slot` at `depth`, then closes it.
    func encodeValue<T: Encodable>(_ value: T, slot: Int, depth: Int) throws {
        let tag = _codablePrimitiveTag(T.self)
        if tag != _CodableTag.unset {
            try fill(slot: slot, depth: depth, tag: tag)
            _writeCodablePrimitive(value, tag: tag, to: &writer)
            return
        }
        if let binary = value as? any BinaryCodable {
            try fill(slot: slot, depth: depth, tag: _CodableTag.binary)
            writeBinary(binary)
            return
        }
        try value.encode(to: _BinaryEncoding(state: self, slot: slot, depth: depth))
        try finish(slot: slot, depth: depth)
    }

    /// Sets the tag of the open slot `slot` and pops it: its payload follows.
    func fill(slot: Int, depth: Int, tag: UInt8) throws {
        guard depth < frames.count, frames[depth].id == slot, frames[depth].kind == .slot else {
            throw misuse("a single value container was written twice or after its value finished")
        }
        while frames.count > depth + 1 { closeTop() }
        let frame = frames.removeLast()
        writer._orByte(tag, at: frame.tagOffset)
    }

    /// Closes whatever the value in slot `slot` left open at and above `depth`.
    func finish(slot: Int, depth: Int) throws {
        guard depth < frames.count else { return }  // filled by a single value
        guard frames[depth].id == slot || frames[depth].owner == slot else {
            throw misuse("a container was left open out of order")
        }
        while frames.count > depth { closeTop() }
    }

    /// Writes a BinaryCodable payload: varint length, then the value's encoding.
    func writeBinary(_ value: some BinaryCodable) {
        // Reserve one length byte; open a gap for a longer length after encoding.
        let lengthOffset = writer.count
        writer.writeByte(0)
        value.encode(to: &writer)
        let length = writer.count - lengthOffset - 1
        if length < 0x80 {
            writer._orByte(UInt8(length), at: lengthOffset)
        } else {
            var lengthSize = 1
            while UInt64(length) >> (7 * lengthSize) != 0 { lengthSize += 1 }
            let gap = writer._insertGap(lengthSize - 1, at: lengthOffset + 1)
            _ = writer._storeVarUInt(UInt64(length), at: gap - 1)
        }
    }

    /// Creates (or returns again) the container of slot `slot` at `depth`.
    func container(_ kind: _EncodeFrame.Kind, slot: Int, depth: Int) -> Int {
        if depth < frames.count {
            let frame = frames[depth]
            if frame.id == slot, frame.kind == .slot {
                while frames.count > depth + 1 { closeTop() }
                frames.removeLast()
                writer._orByte(kind == .keyed ? _CodableTag.keyed : _CodableTag.unkeyed, at: frame.tagOffset)
                let id = makeID()
                frames.append(_EncodeFrame(id: id, kind: kind, tagOffset: 0, owner: slot))
                return id
            }
            if frame.owner == slot, frame.kind == kind {
                while frames.count > depth + 1 { closeTop() }
                return frame.id
            }
        }
        if deferredError == nil {
            deferredError = misuse(
                "a container was requested twice with different kinds, or after its value finished")
        }
        return -1
    }

    /// Pushes a nested container at `depth`; the caller wrote its header.
    func pushContainer(_ kind: _EncodeFrame.Kind) -> Int {
        let id = makeID()
        frames.append(_EncodeFrame(id: id, kind: kind, tagOffset: 0, owner: 0))
        return id
    }

    // MARK: Field and element headers

    func writeFieldHeader(_ key: any CodingKey, tag: UInt8) {
        var name = key.stringValue
        name.withUTF8 { utf8 in
            writer.writeVarUInt(UInt64(utf8.count) << 4 | UInt64(tag))
            writer.writeRawBytes(UnsafeRawBufferPointer(utf8))
        }
    }

    /// Encodes `value` as the field `key` of the keyed container `id` at `depth`.
    func encodeField<T: Encodable>(_ value: T, forKey key: any CodingKey, id: Int, depth: Int) throws {
        try activate(id, depth: depth)
        let tag = _codablePrimitiveTag(T.self)
        if tag != _CodableTag.unset {
            writeFieldHeader(key, tag: tag)
            _writeCodablePrimitive(value, tag: tag, to: &writer)
            return
        }
        if let binary = value as? any BinaryCodable {
            writeFieldHeader(key, tag: _CodableTag.binary)
            writeBinary(binary)
            return
        }
        let tagOffset = writer.count
        writeFieldHeader(key, tag: _CodableTag.unset)
        let slot = openSlot(tagOffset: tagOffset)
        codingPath.append(key)
        defer { codingPath.removeLast() }
        try encodeValue(value, slot: slot, depth: depth + 1)
    }

    /// Encodes `value` as the next element of the unkeyed container `id` at `depth`.
    func encodeElement<T: Encodable>(_ value: T, index: Int, id: Int, depth: Int) throws {
        try activate(id, depth: depth)
        let tag = _codablePrimitiveTag(T.self)
        if tag != _CodableTag.unset {
            writer.writeByte(tag)
            _writeCodablePrimitive(value, tag: tag, to: &writer)
            return
        }
        if let binary = value as? any BinaryCodable {
            writer.writeByte(_CodableTag.binary)
            writeBinary(binary)
            return
        }
        let tagOffset = writer.count
        writer.writeByte(_CodableTag.unset)
        let slot = openSlot(tagOffset: tagOffset)
        codingPath.append(_CodableIndexKey(intValue: index))
        defer { codingPath.removeLast() }
        try encodeValue(value, slot: slot, depth: depth + 1)
    }

    func recordDeferred(_ error: any Error) {
        if deferredError == nil {
            deferredError = (error as? CodecError) ?? misuse("\(error)")
        }
    }
}

// MARK: - Encoder

private struct _BinaryEncoding: Encoder {
    let state: _EncodingState
    let slot: Int
    let depth: Int

    var codingPath: [any CodingKey] { state.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let id = state.container(.keyed, slot: slot, depth: depth)
        return KeyedEncodingContainer(_KeyedEncoding<Key>(state: state, id: id, depth: depth))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let id = state.container(.unkeyed, slot: slot, depth: depth)
        return _UnkeyedEncoding(state: state, id: id, depth: depth)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        _SingleValueEncoding(state: state, slot: slot, depth: depth)
    }
}

// MARK: - Keyed

private struct _KeyedEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: _EncodingState
    let id: Int
    let depth: Int

    var codingPath: [any CodingKey] { state.codingPath }

    mutating func encodeNil(forKey key: Key) throws {
        try state.activate(id, depth: depth)
        state.writeFieldHeader(key, tag: _CodableTag.null)
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: String, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: Int128, forKey key: Key) throws { try field(value, key) }
    mutating func encode(_ value: UInt128, forKey key: Key) throws { try field(value, key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try field(value, key) }

    // Optional fields are written as an explicit nil rather than left out, so decoding
    // stays positional (left-out fields force a scan for the others).
    mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: Int128?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent(_ value: UInt128?, forKey key: Key) throws { try optional(value, key) }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        try optional(value, key)
    }

    @inline(__always)
    private func field<T: Encodable>(_ value: T, _ key: Key) throws {
        try state.encodeField(value, forKey: key, id: id, depth: depth)
    }

    @inline(__always)
    private mutating func optional<T: Encodable>(_ value: T?, _ key: Key) throws {
        if let value {
            try state.encodeField(value, forKey: key, id: id, depth: depth)
        } else {
            try encodeNil(forKey: key)
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        do {
            try state.activate(id, depth: depth)
        } catch {
            state.recordDeferred(error)
            return KeyedEncodingContainer(_KeyedEncoding<NestedKey>(state: state, id: -1, depth: depth + 1))
        }
        state.writeFieldHeader(key, tag: _CodableTag.keyed)
        let nested = state.pushContainer(.keyed)
        return KeyedEncodingContainer(_KeyedEncoding<NestedKey>(state: state, id: nested, depth: depth + 1))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        do {
            try state.activate(id, depth: depth)
        } catch {
            state.recordDeferred(error)
            return _UnkeyedEncoding(state: state, id: -1, depth: depth + 1)
        }
        state.writeFieldHeader(key, tag: _CodableTag.unkeyed)
        let nested = state.pushContainer(.unkeyed)
        return _UnkeyedEncoding(state: state, id: nested, depth: depth + 1)
    }

    mutating func superEncoder() -> any Encoder { superEncoder(key: _CodableSuperKey()) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(key: key) }

    private func superEncoder(key: some CodingKey) -> any Encoder {
        do {
            try state.activate(id, depth: depth)
        } catch {
            state.recordDeferred(error)
            return _BinaryEncoding(state: state, slot: -1, depth: depth + 1)
        }
        let tagOffset = state.writer.count
        state.writeFieldHeader(key, tag: _CodableTag.unset)
        let slot = state.openSlot(tagOffset: tagOffset)
        return _BinaryEncoding(state: state, slot: slot, depth: depth + 1)
    }
}

// MARK: - Unkeyed

/// Kept within three words so `any UnkeyedEncodingContainer` holds it without a heap box.
private struct _UnkeyedEncoding: UnkeyedEncodingContainer {
    let state: _EncodingState
    let id: Int
    private let packedDepth: Int32
    private var packedCount: Int32 = 0

    var depth: Int { Int(packedDepth) }
    var count: Int { Int(packedCount) }

    init(state: _EncodingState, id: Int, depth: Int) {
        self.state = state
        self.id = id
        self.packedDepth = Int32(truncatingIfNeeded: depth)
    }

    var codingPath: [any CodingKey] { state.codingPath }

    mutating func encodeNil() throws {
        try state.activate(id, depth: depth)
        state.writer.writeByte(_CodableTag.null)
        packedCount &+= 1
    }

    mutating func encode(_ value: Bool) throws { try element(value) }
    mutating func encode(_ value: String) throws { try element(value) }
    mutating func encode(_ value: Double) throws { try element(value) }
    mutating func encode(_ value: Float) throws { try element(value) }
    mutating func encode(_ value: Int) throws { try element(value) }
    mutating func encode(_ value: Int8) throws { try element(value) }
    mutating func encode(_ value: Int16) throws { try element(value) }
    mutating func encode(_ value: Int32) throws { try element(value) }
    mutating func encode(_ value: Int64) throws { try element(value) }
    mutating func encode(_ value: UInt) throws { try element(value) }
    mutating func encode(_ value: UInt8) throws { try element(value) }
    mutating func encode(_ value: UInt16) throws { try element(value) }
    mutating func encode(_ value: UInt32) throws { try element(value) }
    mutating func encode(_ value: UInt64) throws { try element(value) }
    mutating func encode(_ value: Int128) throws { try element(value) }
    mutating func encode(_ value: UInt128) throws { try element(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try element(value) }

    @inline(__always)
    private mutating func element<T: Encodable>(_ value: T) throws {
        try state.encodeElement(value, index: count, id: id, depth: depth)
        packedCount &+= 1
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type
    ) -> KeyedEncodingContainer<NestedKey> {
        do {
            try state.activate(id, depth: depth)
        } catch {
            state.recordDeferred(error)
            return KeyedEncodingContainer(_KeyedEncoding<NestedKey>(state: state, id: -1, depth: depth + 1))
        }
        state.writer.writeByte(_CodableTag.keyed)
        packedCount &+= 1
        let nested = state.pushContainer(.keyed)
        return KeyedEncodingContainer(_KeyedEncoding<NestedKey>(state: state, id: nested, depth: depth + 1))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        do {
            try state.activate(id, depth: depth)
        } catch {
            state.recordDeferred(error)
            return _UnkeyedEncoding(state: state, id: -1, depth: depth + 1)
        }
        state.writer.writeByte(_CodableTag.unkeyed)
        packedCount &+= 1
        let nested = state.pushContainer(.unkeyed)
        return _UnkeyedEncoding(state: state, id: nested, depth: depth + 1)
    }

    mutating func superEncoder() -> any Encoder {
        do {
            try state.activate(id, depth: depth)
        } catch {
            state.recordDeferred(error)
            return _BinaryEncoding(state: state, slot: -1, depth: depth + 1)
        }
        let tagOffset = state.writer.count
        state.writer.writeByte(_CodableTag.unset)
        packedCount &+= 1
        let slot = state.openSlot(tagOffset: tagOffset)
        return _BinaryEncoding(state: state, slot: slot, depth: depth + 1)
    }
}

// MARK: - Single value

private struct _SingleValueEncoding: SingleValueEncodingContainer {
    let state: _EncodingState
    let slot: Int
    let depth: Int

    var codingPath: [any CodingKey] { state.codingPath }

    mutating func encodeNil() throws {
        try state.fill(slot: slot, depth: depth, tag: _CodableTag.null)
    }

    mutating func encode(_ value: Bool) throws { try single(value) }
    mutating func encode(_ value: String) throws { try single(value) }
    mutating func encode(_ value: Double) throws { try single(value) }
    mutating func encode(_ value: Float) throws { try single(value) }
    mutating func encode(_ value: Int) throws { try single(value) }
    mutating func encode(_ value: Int8) throws { try single(value) }
    mutating func encode(_ value: Int16) throws { try single(value) }
    mutating func encode(_ value: Int32) throws { try single(value) }
    mutating func encode(_ value: Int64) throws { try single(value) }
    mutating func encode(_ value: UInt) throws { try single(value) }
    mutating func encode(_ value: UInt8) throws { try single(value) }
    mutating func encode(_ value: UInt16) throws { try single(value) }
    mutating func encode(_ value: UInt32) throws { try single(value) }
    mutating func encode(_ value: UInt64) throws { try single(value) }
    mutating func encode(_ value: Int128) throws { try single(value) }
    mutating func encode(_ value: UInt128) throws { try single(value) }
    mutating func encode<T: Encodable>(_ value: T) throws { try single(value) }

    @inline(__always)
    private func single<T: Encodable>(_ value: T) throws {
        // The value takes over this container's slot (a wrapper costs no bytes).
        guard depth < state.frames.count, state.frames[depth].id == slot,
            state.frames[depth].kind == .slot
        else {
            throw state.misuse("a single value container was written twice or after its value finished")
        }
        try state.encodeValue(value, slot: slot, depth: depth)
    }
}
