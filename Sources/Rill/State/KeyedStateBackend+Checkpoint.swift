// Checkpointing keyed state: one blob per key group, holding every state's entries for the
// keys of that group. Key groups are self-contained, so a restore with another parallelism
// simply hands each subtask the blobs of the key groups it now owns.
//
// At a barrier the task thread only *captures* the state (copy-on-write views of the slot
// columns, see `_SlotColumn.freeze()`, and the lists of changed keys); the checkpoint writer
// serializes the capture on its own thread (`_KeyedStateCapture`).
//
// Blob layout (format 2): byte 0 (a format-1 blob starts with a non-zero state count), byte 2,
// varint section count, then per section: state name, value type, section format byte, and
// the length-prefixed section. A pair section (full blobs, and every section of format-1
// blobs from earlier releases) is a varint count of (key, entry) pairs: every key with a
// value. An item section (change blobs) is a varint count of items: the key, a presence byte
// and (when 1) the entry; a key removed since is absent. Restored sections wait
// until the job registers the state, are then checked against its type, applied in order and
// decoded; sections of states nobody registers are carried into the next snapshot unchanged,
// so an upgrade that stops using a state loses nothing by accident.

/// A keyed state that checkpoints can capture at a barrier and serialize later, elsewhere.
@usableFromInline
protocol _CapturableState: _KeyedStateStorage, KeyedStateSnapshotting {
    /// Every slot's entry as it is now, readable on another thread while the state keeps
    /// changing. Cheap: it freezes copy-on-write pages (O(pages)); it encodes nothing.
    func _captureEntries() -> (Int32) -> SnapshotEntry?
}

/// How blobs and sections are laid out (see the comment at the top of this file).
enum _KeyGroupBlobFormat {
    /// The first byte of a format-2 blob.
    static var marker: UInt8 { 0 }
    static var version: UInt8 { 2 }
    /// A section of (key, entry) pairs: every key with a value.
    static var pairSection: UInt8 { 1 }
    /// A section of (key, presence, entry) items: the keys that changed.
    static var itemSection: UInt8 { 2 }
}

/// What one registered state needs to take part in checkpoints.
struct _StateCheckpointing<K: StableHashable> {
    let kind: String
    let valueType: String
    /// Freezes the state's entries for a snapshot; nil when the key or entry type has no codec.
    let capture: (() -> _CapturedState<K>)?
    /// Applies restored sections (any key groups, in checkpoint order) to the state.
    let restore: (([_PendingStateBlob]) throws -> Void)?
}

/// One state's entries frozen at a barrier, with the codecs to write them.
struct _CapturedState<K> {
    let name: String
    let valueType: String
    /// Writes a section for `items` (keys with their slots at the capture; slot 0 for a key
    /// that has no slot): a pair section of the keys with an entry (`pairs`), or an item
    /// section of every key, present or not.
    let writeSection: (_ items: [(key: K, slot: Int32)], _ pairs: Bool, _ writer: inout BinaryWriter) throws -> Void
}

/// A restored state section waiting for its state to be registered.
struct _PendingStateBlob {
    let keyGroup: Int
    let valueType: String
    /// ``_KeyGroupBlobFormat/pairSection`` or ``_KeyGroupBlobFormat/itemSection``.
    let format: UInt8
    let bytes: [UInt8]
}

extension StateCodec {
    /// The codec for `T` found at run time: its `BinaryCodable` conformance, else its `Codable`
    /// one; `nil` when it has neither.
    static func discovered() -> StateCodec<T>? {
        if let binary = T.self as? any BinaryCodable.Type {
            return _binaryCodec(binary) as? StateCodec<T>
        }
        if let codable = T.self as? any (Codable & SendableMetatype).Type {
            return _codableCodec(codable) as? StateCodec<T>
        }
        return nil
    }
}

private func _binaryCodec<B: BinaryCodable>(_: B.Type) -> Any { StateCodec<B>.binary }
private func _codableCodec<C: Codable & SendableMetatype>(_: C.Type) -> Any { StateCodec<C>.codable }

extension TTLValue: BinaryCodable where Value: BinaryCodable {
    public func encode(to writer: inout BinaryWriter) {
        value.encode(to: &writer)
        lastAccessMillis.encode(to: &writer)
    }

    public init(from reader: inout BinaryReader) throws {
        self.init(value: try Value(from: &reader), lastAccessMillis: try Int64?(from: &reader))
    }
}

extension KeyedStateBackend {
    func makeCheckpointing<S: _CapturableState>(for state: S) -> _StateCheckpointing<K> {
        let kind = String(describing: S.self).prefix { $0 != "<" }.replacingOccurrences(of: "State", with: "").lowercased()
        guard let keyCodec, let entryCodec = StateCodec<S.SnapshotEntry>.discovered() else {
            return _StateCheckpointing(kind: kind, valueType: String(reflecting: S.SnapshotEntry.self), capture: nil, restore: nil)
        }
        let name = state.name
        let valueType = entryCodec.typeDescription
        return _StateCheckpointing(
            kind: kind, valueType: valueType,
            capture: {
                let entry = state._captureEntries()
                return _CapturedState(name: name, valueType: valueType) { items, pairs, writer in
                    var entries: [(key: K, entry: S.SnapshotEntry?)] = []
                    entries.reserveCapacity(items.count)
                    for (key, slot) in items {
                        let value = entry(slot)
                        if pairs && value == nil { continue }
                        entries.append((key, value))
                    }
                    writer.writeVarUInt(UInt64(entries.count))
                    for (key, value) in entries {
                        try keyCodec.encode(key, &writer)
                        if !pairs { writer.writeByte(value == nil ? 0 : 1) }
                        if let value { try entryCodec.encode(value, &writer) }
                    }
                }
            },
            restore: { [unowned self] blobs in
                try self.restoreSections(blobs, into: state, keyCodec: keyCodec, entryCodec: entryCodec)
            })
    }

    /// Applies `blobs` (sections of one state) in order: per key group, the last item of each
    /// key wins, and a key whose last item is a removal gets no value.
    private func restoreSections<S: _CapturableState>(
        _ blobs: [_PendingStateBlob], into state: S, keyCodec: StateCodec<K>, entryCodec: StateCodec<S.SnapshotEntry>
    ) throws {
        var order: [Int] = []
        var byGroup: [Int: [_PendingStateBlob]] = [:]
        for blob in blobs {
            if byGroup[blob.keyGroup] == nil { order.append(blob.keyGroup) }
            byGroup[blob.keyGroup, default: []].append(blob)
        }
        for keyGroup in order {
            let sections = byGroup[keyGroup]!
            if sections.count == 1 {
                // A full key group alone: restore as decoded.
                try decodeItems(sections[0], state: state, keyCodec: keyCodec, entryCodec: entryCodec) { key, entry in
                    if let entry { self.restore(entry, into: state, forKey: key) }
                }
                continue
            }
            var latest: [(key: K, entry: S.SnapshotEntry?)] = []
            var position: [K: Int] = [:]
            for section in sections {
                try decodeItems(section, state: state, keyCodec: keyCodec, entryCodec: entryCodec) { key, entry in
                    guard owns(key) else { return }
                    if let index = position[key] {
                        latest[index].entry = entry
                    } else {
                        position[key] = latest.count
                        latest.append((key, entry))
                    }
                }
            }
            for (key, entry) in latest {
                if let entry { restore(entry, into: state, forKey: key) }
            }
        }
    }

    /// Calls `body` with every item of `blob`: a key and its entry, or `nil` for a removal.
    private func decodeItems<S: _CapturableState>(
        _ blob: _PendingStateBlob, state: S, keyCodec: StateCodec<K>, entryCodec: StateCodec<S.SnapshotEntry>,
        _ body: (K, S.SnapshotEntry?) -> Void
    ) throws {
        var reader = BinaryReader(blob.bytes)
        do {
            let count = try reader.readLength()
            for _ in 0..<count {
                let key = try keyCodec.decode(&reader)
                let present = blob.format == _KeyGroupBlobFormat.pairSection ? true : try reader.readBool()
                body(key, present ? try entryCodec.decode(&reader) : nil)
            }
            try reader.expectEnd()
        } catch {
            throw StateError(code: .stateTypeMismatch,
                             message: "restored state '\(state.name)' (key group \(blob.keyGroup)) could not be decoded as \(blob.valueType): \(error)")
        }
    }

    /// Captures keyed state at the barrier of checkpoint `checkpointId`, to be serialized
    /// later off the task thread: O(pages of the state columns + changes logged), no
    /// encoding. With `incremental`, the capture also lists the keys changed since the last
    /// completed checkpoint (when one is known), so the writer can write only those. Throws if
    /// a state's type cannot be serialized, naming the state and the type; then nothing is
    /// captured and the changes stay logged.
    func capture(checkpointId: Int64, incremental: Bool) throws -> _KeyedStateCapture<K> {
        if let restoreError { throw restoreError }
        let names = registry.keys.sorted()
        var states: [_CapturedState<K>] = []
        for name in names {
            guard let capture = registry[name]!.checkpointing.capture else {
                throw RillError(.stateError,
                                "state '\(name)' (\(registry[name]!.checkpointing.valueType)) cannot be checkpointed: make its key and value types conform to BinaryCodable or Codable")
            }
            states.append(capture())
        }
        let changed = changes.closeEpoch(checkpointId: checkpointId, context: ctx, incremental: incremental,
                                         liveKeys: liveKeyCount)
        return _KeyedStateCapture(
            keyGroupRange: keyGroupRange, stateDeclarations: stateDeclarations, keys: slotKeys.freeze(), next: slotNext.freeze(), slotGroupIndex: ctx.slotKeyGroupIndex.freeze(),
            groupHeads: groupHeads, groupCounts: groupCounts, states: states, pending: pendingRestore,
            changesSince: changed?.since, epochs: changed?.epochs ?? [])
    }

    /// Checkpoint `checkpointId` completed: later incremental checkpoints may list changes
    /// since it.
    func checkpointCompleted(_ checkpointId: Int64) {
        changes.checkpointCompleted(checkpointId)
    }

    /// The declarations of the registered states, for checkpoint metadata.
    var stateDeclarations: [(name: String, kind: String, valueType: String)] {
        registry.keys.sorted().map { name in
            let checkpointing = registry[name]!.checkpointing
            return (name, checkpointing.kind, checkpointing.valueType)
        }
    }

    /// Loads key-group blobs (a key group's base first, then its changes in order); their
    /// states fill in as the job registers them. Blobs of key groups outside this subtask's
    /// range are ignored.
    func restoreKeyGroups(_ groups: [(keyGroup: Int, bytes: [UInt8])]) throws {
        for (keyGroup, bytes) in groups where keyGroupRange.contains(keyGroup) {
            var reader = BinaryReader(bytes)
            var sectionFormat: UInt8?
            if try reader.peekByte() == _KeyGroupBlobFormat.marker {
                _ = try reader.readByte()
                let version = try reader.readByte()
                guard version == _KeyGroupBlobFormat.version else {
                    throw RillError(.stateError,
                                    "key group \(keyGroup) was written in state format \(version), which this build does not read; restore with the release that wrote it")
                }
            } else {
                sectionFormat = _KeyGroupBlobFormat.pairSection
            }
            let count = try reader.readLength()
            for _ in 0..<count {
                let name = try reader.readString()
                let valueType = try reader.readString()
                let format = try sectionFormat ?? reader.readByte()
                guard format == _KeyGroupBlobFormat.pairSection || format == _KeyGroupBlobFormat.itemSection else {
                    throw RillError(.stateError, "state '\(name)' in key group \(keyGroup) has an unknown section format \(format)")
                }
                let section = try reader.readBytes()
                pendingRestore[name, default: []].append(
                    _PendingStateBlob(keyGroup: keyGroup, valueType: valueType, format: format, bytes: section))
            }
        }
        // A state registered before restore (unusual) claims its blobs now.
        for (name, registration) in registry { try claimPendingRestore(name, registration.checkpointing) }
    }

    func claimPendingRestore(_ name: String, _ checkpointing: _StateCheckpointing<K>) throws(StateError) {
        guard let blobs = pendingRestore.removeValue(forKey: name) else { return }
        for blob in blobs where blob.valueType != checkpointing.valueType {
            throw StateError(code: .stateTypeMismatch,
                             message: "restored state '\(name)' holds \(blob.valueType), but the job now declares \(checkpointing.valueType); keep the old type, migrate through a new state name, or restore with allowNonRestoredState after renaming")
        }
        guard let restore = checkpointing.restore else {
            throw StateError(code: .stateTypeMismatch,
                             message: "restored state '\(name)' cannot be read: its type \(checkpointing.valueType) is not BinaryCodable or Codable")
        }
        do {
            try restore(blobs)
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError(code: .stateTypeMismatch, message: "restored state '\(name)' could not be restored: \(error)")
        }
    }
}

/// Entries of a state stored in a value column with optional TTL timestamps (value, reducing
/// and aggregating states), frozen for a snapshot.
func _captureTTLValues<V>(_ values: _SlotColumn<V?>, stamps: _SlotColumn<Int64>, hasTTL: Bool) -> (Int32) -> TTLValue<V>? {
    let frozen = values.freeze()
    guard hasTTL else { return { slot in frozen[slot].map { TTLValue(value: $0) } } }
    let times = stamps.freeze()
    return { slot in frozen[slot].map { TTLValue(value: $0, lastAccessMillis: times[slot]) } }
}
