/// A map per key (Flink's `MapState`). With TTL every entry carries its own last-access time
/// and expires on its own, as in Flink.
public final class MapState<UK: Hashable, UV>: _KeyedStateStorage, KeyedStateSnapshotting, _CapturableState {
    public let name: String
    @usableFromInline let ctx: _KeyContext
    /// Per slot; an empty dictionary means "no value".
    @usableFromInline @exclusivity(unchecked) var maps: _SlotColumn<[UK: UV]>
    /// Per slot, same keys as `maps`; allocated only with TTL.
    @usableFromInline @exclusivity(unchecked) var stamps: _SlotColumn<[UK: Int64]>
    @usableFromInline let ttl: _TTLPolicy
    @usableFromInline let hasTTL: Bool

    init(name: String, context: _KeyContext, slotCapacity: Int, ttl: StateTTLConfig?) throws(StateError) {
        self.name = name
        ctx = context
        self.ttl = try _TTLPolicy(ttl)
        hasTTL = ttl != nil
        maps = _SlotColumn(capacity: slotCapacity, repeating: [:])
        stamps = hasTTL ? _SlotColumn(capacity: slotCapacity, repeating: [:]) : .none()
    }

    deinit {
        maps.destroy()
        stamps.destroy()
    }

    /// The value of `key` in the current key's map.
    ///
    /// - Complexity: O(1) expected.
    @inlinable
    public func get(_ key: UK) -> UV? {
        let slot = ctx.slot
        guard let value = maps[unchecked: slot][key] else { return nil }
        if !hasTTL { return value }
        let now = ctx.now()
        if ttl.isExpired(lastAccess: stamps[unchecked: slot][key] ?? 0, now: now) {
            removeEntry(key, slot: slot)
            return ttl.returnExpired ? value : nil
        }
        if ttl.updateOnRead {
            stamps[unchecked: slot][key] = now
            ctx.markDirty()
        }
        return value
    }

    /// Sets `key` to `value` in the current key's map.
    @inlinable
    public func put(_ key: UK, _ value: UV) {
        var slot = ctx.slot
        if maps[unchecked: slot].isEmpty { slot = ctx.acquireSlot() }
        maps[unchecked: slot][key] = value
        if hasTTL { stamps[unchecked: slot][key] = ctx.now() }
        ctx.markDirty()
    }

    /// Puts every entry of `entries`.
    @inlinable
    public func putAll(_ entries: [UK: UV]) {
        if entries.isEmpty { return }
        var slot = ctx.slot
        if maps[unchecked: slot].isEmpty { slot = ctx.acquireSlot() }
        maps[unchecked: slot].merge(entries) { _, new in new }
        if hasTTL {
            let now = ctx.now()
            for key in entries.keys { stamps[unchecked: slot][key] = now }
        }
        ctx.markDirty()
    }

    /// Removes `key` from the current key's map.
    @inlinable
    public func remove(_ key: UK) {
        let slot = ctx.slot
        if maps[unchecked: slot][key] == nil { return }
        removeEntry(key, slot: slot)
    }

    /// Whether the current key's map has a (visible) value for `key`.
    @inlinable
    public func contains(_ key: UK) -> Bool { get(key) != nil }

    /// The current key's (visible) entries.
    ///
    /// - Complexity: O(1) without TTL (the dictionary is shared copy-on-write); O(n) with TTL.
    @inlinable
    public func entries() -> [UK: UV] {
        if hasTTL { return entriesWithTTL() }
        return maps[unchecked: ctx.slot]
    }

    /// The current key's (visible) map keys.
    @inlinable
    public func keys() -> Dictionary<UK, UV>.Keys { entries().keys }

    /// The current key's (visible) map values.
    @inlinable
    public func values() -> Dictionary<UK, UV>.Values { entries().values }

    /// Whether the current key's map has no (visible) entries.
    @inlinable
    public func isEmpty() -> Bool {
        if hasTTL { return entriesWithTTL().isEmpty }
        return maps[unchecked: ctx.slot].isEmpty
    }

    /// Removes the current key's map.
    @inlinable
    public func clear() {
        let slot = ctx.slot
        if maps[unchecked: slot].isEmpty { return }
        maps[unchecked: slot] = [:]
        if hasTTL { stamps[unchecked: slot] = [:] }
        ctx.markDirty()
        ctx.releaseSlot(slot)
    }

    @inlinable
    func removeEntry(_ key: UK, slot: Int32) {
        maps[unchecked: slot][key] = nil
        if hasTTL { stamps[unchecked: slot][key] = nil }
        ctx.markDirty(slot: slot)
        if maps[unchecked: slot].isEmpty {
            if hasTTL { stamps[unchecked: slot] = [:] }
            ctx.releaseSlot(slot)
        }
    }

    @inlinable
    func entriesWithTTL() -> [UK: UV] {
        let slot = ctx.slot
        let map = maps[unchecked: slot]
        if map.isEmpty { return [:] }
        let now = ctx.now()
        let times = stamps[unchecked: slot]
        var visible: [UK: UV] = [:]
        var expired: [UK] = []
        var refreshed: [UK] = []
        for (key, value) in map {
            if ttl.isExpired(lastAccess: times[key] ?? 0, now: now) {
                expired.append(key)
                if ttl.returnExpired { visible[key] = value }
            } else {
                visible[key] = value
                if ttl.updateOnRead { refreshed.append(key) }
            }
        }
        if !refreshed.isEmpty {
            for key in refreshed { stamps[unchecked: slot][key] = now }
            ctx.markDirty()
        }
        for key in expired { removeEntry(key, slot: slot) }
        return visible
    }

    // MARK: Snapshots

    public func snapshotEntry(at slot: KeyedStateSlot) -> [UK: TTLValue<UV>]? {
        Self.entry(maps[unchecked: slot.raw], times: hasTTL ? stamps[unchecked: slot.raw] : nil)
    }

    @usableFromInline
    func _captureEntries() -> (Int32) -> [UK: TTLValue<UV>]? {
        let maps = maps.freeze()
        guard hasTTL else { return { slot in Self.entry(maps[slot], times: nil) } }
        let stamps = stamps.freeze()
        return { slot in Self.entry(maps[slot], times: stamps[slot]) }
    }

    /// A stored map as a snapshot entry (`nil` when empty).
    static func entry(_ map: [UK: UV], times: [UK: Int64]?) -> [UK: TTLValue<UV>]? {
        if map.isEmpty { return nil }
        guard let times else { return map.mapValues { TTLValue(value: $0) } }
        var entry: [UK: TTLValue<UV>] = [:]
        entry.reserveCapacity(map.count)
        for (key, value) in map { entry[key] = TTLValue(value: value, lastAccessMillis: times[key]) }
        return entry
    }

    public func restoreEntry(_ entry: [UK: TTLValue<UV>]) {
        clear()
        if entry.isEmpty { return }
        putAll(entry.mapValues(\.value))
        if hasTTL {
            let now = ctx.now()
            stamps[unchecked: ctx.slot] = entry.mapValues { $0.lastAccessMillis ?? now }
        }
    }

    // MARK: _KeyedStateStorage

    @usableFromInline
    func _growSlots(to capacity: Int) {
        maps.grow(to: capacity, repeating: [:])
        if hasTTL { stamps.grow(to: capacity, repeating: [:]) }
    }

    @usableFromInline var _hasTTL: Bool { hasTTL }

    @usableFromInline
    func _purgeExpired(at slot: Int32, now: Int64) {
        guard hasTTL, !maps[unchecked: slot].isEmpty else { return }
        let expired = stamps[unchecked: slot].filter { ttl.isExpired(lastAccess: $0.value, now: now) }
        for key in expired.keys {
            if maps[unchecked: slot].isEmpty { break }
            removeEntry(key, slot: slot)
        }
    }

    @usableFromInline
    func _holdsValue(at slot: Int32) -> Bool { !maps[unchecked: slot].isEmpty }
}
