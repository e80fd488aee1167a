// Hooks for checkpoints and tests: enumerate per key group, read typed entries, restore, and
// see which key groups changed. (Checkpoints themselves capture copy-on-write views: see
// KeyedStateBackend+Checkpoint.)

extension KeyedStateBackend {
    /// The keys of `keyGroup` that hold a value in at least one state.
    ///
    /// - Complexity: O(keys in the group).
    public func keys(inKeyGroup keyGroup: Int) -> [K] {
        slots(inKeyGroup: keyGroup).map(\.key)
    }

    /// The keys of `keyGroup` with their slots, to read entries with
    /// ``KeyedStateSnapshotting/snapshotEntry(at:)``. The slots are valid until state changes.
    ///
    /// - Complexity: O(keys in the group).
    public func slots(inKeyGroup keyGroup: Int) -> [(key: K, slot: KeyedStateSlot)] {
        guard keyGroupRange.contains(keyGroup) else { return [] }
        let groupIndex = keyGroup - keyGroupRange.start
        var result: [(key: K, slot: KeyedStateSlot)] = []
        result.reserveCapacity(groupCounts[groupIndex])
        var slot = groupHeads[groupIndex]
        while slot != 0 {
            if let key = slotKeys[unchecked: slot] { result.append((key, KeyedStateSlot(raw: slot))) }
            slot = slotNext[unchecked: slot]
        }
        return result
    }

    /// The number of live keys in `keyGroup`.
    public func keyCount(inKeyGroup keyGroup: Int) -> Int {
        keyGroupRange.contains(keyGroup) ? groupCounts[keyGroup - keyGroupRange.start] : 0
    }

    /// Every (key, stored entry) of `state` in `keyGroup`, timestamps included, without TTL side
    /// effects.
    ///
    /// - Precondition: `state` belongs to this backend.
    public func entries<S: KeyedStateSnapshotting>(
        of state: S, inKeyGroup keyGroup: Int
    ) -> [(key: K, entry: S.SnapshotEntry)] {
        precondition(registry[state.name]?.state === state, "state '\(state.name)' is not from this backend")
        return slots(inKeyGroup: keyGroup).compactMap { key, slot in
            state.snapshotEntry(at: slot).map { (key, $0) }
        }
    }

    /// Restores `entry` into `state` for `key`, unless the key belongs to another subtask's
    /// key groups (after rescaling): then nothing is stored and the result is `false`.
    /// Leaves `key` as the current key when it is stored.
    @discardableResult
    public func restore<S: KeyedStateSnapshotting>(_ entry: S.SnapshotEntry, into state: S, forKey key: K) -> Bool {
        precondition(registry[state.name]?.state === state, "state '\(state.name)' is not from this backend")
        guard owns(key) else { return false }
        setCurrentKey(key)
        state.restoreEntry(entry)
        return true
    }

    /// The key groups in which any state changed since the last snapshot or
    /// ``clearDirtyKeyGroups()``, ascending.
    ///
    /// - Complexity: O(keys changed since then).
    public var dirtyKeyGroups: [Int] {
        if changes.overflowed { return Array(keyGroupRange) }
        var groups = Set(changes.removed.map { Int($0.groupIndex) })
        for slot in ctx.changedSlots {
            let index = ctx.slotKeyGroupIndex[unchecked: slot]
            if index >= 0 { groups.insert(Int(index)) }
        }
        return groups.sorted().map { $0 + keyGroupRange.start }
    }

    /// Forgets what changed. The next checkpoint then writes every key group in full, since
    /// what changed before this call is no longer known.
    public func clearDirtyKeyGroups() {
        changes.forget(ctx)
    }
}
