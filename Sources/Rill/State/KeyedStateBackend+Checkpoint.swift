// Checkpointing keyed state: one blob per key group, holding every state's entries for the
// keys of that group. Key groups are self-contained, so a restore with another parallelism
// simply hands each subtask the blobs of the key groups it now owns.
//
// Blob layout: varint state count, then per state: name, value type, and a length-prefixed
// section of (key, entry) pairs encoded with codecs found at run time (BinaryCodable first,
// then Codable). Restored sections wait until the job registers the state, are then checked
// against its type and decoded; sections of states nobody registers are carried into the
// next snapshot unchanged, so an upgrade that stops using a state loses nothing by accident.

/// What one registered state needs to take part in checkpoints.
struct _StateCheckpointing {
    let kind: String
    let valueType: String
    /// Writes the (key, entry) pairs of one key group; nil when the entry type has no codec.
    let writeGroup: ((Int, inout BinaryWriter) throws -> Int)?
    /// Reads pairs written by `writeGroup` and stores them.
    let readGroup: ((inout BinaryReader) throws -> Void)?
}

/// A restored state section waiting for its state to be registered.
struct _PendingStateBlob {
    let keyGroup: Int
    let valueType: String
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
    func makeCheckpointing<S: _KeyedStateStorage & KeyedStateSnapshotting>(for state: S) -> _StateCheckpointing {
        let kind = String(describing: S.self).prefix { $0 != "<" }.replacingOccurrences(of: "State", with: "").lowercased()
        guard let keyCodec, let entryCodec = StateCodec<S.SnapshotEntry>.discovered() else {
            return _StateCheckpointing(kind: kind, valueType: String(reflecting: S.SnapshotEntry.self), writeGroup: nil, readGroup: nil)
        }
        return _StateCheckpointing(
            kind: kind, valueType: entryCodec.typeDescription,
            writeGroup: { [unowned self] keyGroup, writer in
                let entries = self.entries(of: state, inKeyGroup: keyGroup)
                writer.writeVarUInt(UInt64(entries.count))
                for (key, entry) in entries {
                    try keyCodec.encode(key, &writer)
                    try entryCodec.encode(entry, &writer)
                }
                return entries.count
            },
            readGroup: { [unowned self] reader in
                let count = try reader.readLength()
                for _ in 0..<count {
                    let key = try keyCodec.decode(&reader)
                    let entry = try entryCodec.decode(&reader)
                    self.restore(entry, into: state, forKey: key)
                }
            })
    }

    /// Serializes keyed state: every key group of this subtask's range (`changedOnly == false`)
    /// or only those changed since ``clearDirtyKeyGroups()``. Throws if a state's type cannot
    /// be serialized, naming the state and the type.
    func snapshotKeyGroups(changedOnly: Bool) throws -> (groups: [(keyGroup: Int, bytes: [UInt8])], unchanged: [Int]) {
        if let restoreError { throw restoreError }
        for (name, registration) in registry where registration.checkpointing.writeGroup == nil {
            throw RillError(.stateError,
                            "state '\(name)' (\(registration.checkpointing.valueType)) cannot be checkpointed: make its key and value types conform to BinaryCodable or Codable")
        }
        let dirty = Set(dirtyKeyGroups)
        var groups: [(keyGroup: Int, bytes: [UInt8])] = []
        var unchanged: [Int] = []
        let names = registry.keys.sorted()
        for keyGroup in keyGroupRange {
            if changedOnly && !dirty.contains(keyGroup) {
                unchanged.append(keyGroup)
                continue
            }
            let pending = pendingRestore.mapValues { $0.filter { $0.keyGroup == keyGroup } }.filter { !$0.value.isEmpty }
            if keyCount(inKeyGroup: keyGroup) == 0 && pending.isEmpty { continue }
            var writer = BinaryWriter(capacity: 256)
            writer.writeVarUInt(UInt64(names.count + pending.count))
            for name in names {
                let checkpointing = registry[name]!.checkpointing
                writer.writeString(name)
                writer.writeString(checkpointing.valueType)
                var section = BinaryWriter(capacity: 256)
                _ = try checkpointing.writeGroup!(keyGroup, &section)
                writer.writeBytes(section.bytes)
            }
            for (name, blobs) in pending.sorted(by: { $0.key < $1.key }) {
                for blob in blobs {
                    writer.writeString(name)
                    writer.writeString(blob.valueType)
                    writer.writeBytes(blob.bytes)
                }
            }
            groups.append((keyGroup, writer.bytes))
        }
        return (groups, unchanged)
    }

    /// The declarations of the registered states, for checkpoint metadata.
    var stateDeclarations: [(name: String, kind: String, valueType: String)] {
        registry.keys.sorted().map { name in
            let checkpointing = registry[name]!.checkpointing
            return (name, checkpointing.kind, checkpointing.valueType)
        }
    }

    /// Loads key-group blobs; their states fill in as the job registers them. Blobs of key
    /// groups outside this subtask's range are ignored.
    func restoreKeyGroups(_ groups: [(keyGroup: Int, bytes: [UInt8])]) throws {
        for (keyGroup, bytes) in groups where keyGroupRange.contains(keyGroup) {
            var reader = BinaryReader(bytes)
            let count = try reader.readLength()
            for _ in 0..<count {
                let name = try reader.readString()
                let valueType = try reader.readString()
                let section = try reader.readBytes()
                pendingRestore[name, default: []].append(_PendingStateBlob(keyGroup: keyGroup, valueType: valueType, bytes: section))
            }
        }
        // A state registered before restore (unusual) claims its blobs now.
        for (name, registration) in registry { try claimPendingRestore(name, registration.checkpointing) }
    }

    func claimPendingRestore(_ name: String, _ checkpointing: _StateCheckpointing) throws(StateError) {
        guard let blobs = pendingRestore.removeValue(forKey: name) else { return }
        for blob in blobs {
            guard blob.valueType == checkpointing.valueType else {
                throw StateError(code: .stateTypeMismatch,
                                 message: "restored state '\(name)' holds \(blob.valueType), but the job now declares \(checkpointing.valueType); keep the old type, migrate through a new state name, or restore with allowNonRestoredState after renaming")
            }
            guard let readGroup = checkpointing.readGroup else {
                throw StateError(code: .stateTypeMismatch,
                                 message: "restored state '\(name)' cannot be read: its type \(checkpointing.valueType) is not BinaryCodable or Codable")
            }
            var reader = BinaryReader(blob.bytes)
            do {
                try readGroup(&reader)
            } catch {
                throw StateError(code: .stateTypeMismatch,
                                 message: "restored state '\(name)' (key group \(blob.keyGroup)) could not be decoded as \(checkpointing.valueType): \(error)")
            }
        }
    }
}
