/// A list of values per key (Flink's `ListState`). With TTL every element carries its own
/// last-access time and expires on its own, as in Flink.
public final class ListState<V>: _KeyedStateStorage, KeyedStateSnapshotting, _CapturableState {
    public let name: String
    @usableFromInline let ctx: _KeyContext
    /// Per slot; an empty array means "no value".
    @usableFromInline @exclusivity(unchecked) var lists: _SlotColumn<[V]>
    /// Per slot, parallel to `lists`; allocated only with TTL.
    @usableFromInline @exclusivity(unchecked) var stamps: _SlotColumn<[Int64]>
    @usableFromInline let ttl: _TTLPolicy
    @usableFromInline let hasTTL: Bool

    init(name: String, context: _KeyContext, slotCapacity: Int, ttl: StateTTLConfig?) throws(StateError) {
        self.name = name
        ctx = context
        self.ttl = try _TTLPolicy(ttl)
        hasTTL = ttl != nil
        lists = _SlotColumn(capacity: slotCapacity, repeating: [])
        stamps = hasTTL ? _SlotColumn(capacity: slotCapacity, repeating: []) : .none()
    }

    deinit {
        lists.destroy()
        stamps.destroy()
    }

    /// The current key's elements in insertion order (empty when there are none).
    ///
    /// - Complexity: O(1) without TTL (the array is shared copy-on-write); O(n) with TTL.
    @inlinable
    public func get() -> [V] {
        if hasTTL { return getWithTTL() }
        return lists[unchecked: ctx.slot]
    }

    /// Appends `value` to the current key's list.
    ///
    /// - Complexity: amortized O(1).
    @inlinable
    public func add(_ value: V) {
        var slot = ctx.slot
        if lists[unchecked: slot].isEmpty { slot = ctx.acquireSlot() }
        lists[unchecked: slot].append(value)
        if hasTTL { stamps[unchecked: slot].append(ctx.now()) }
        ctx.markDirty()
    }

    /// Appends all `values` (nothing happens for an empty sequence).
    @inlinable
    public func addAll<S: Sequence>(_ values: S) where S.Element == V {
        let added = Array(values)
        if added.isEmpty { return }
        var slot = ctx.slot
        if lists[unchecked: slot].isEmpty { slot = ctx.acquireSlot() }
        let count = added.count
        lists[unchecked: slot].append(contentsOf: added)
        if hasTTL { stamps[unchecked: slot].append(contentsOf: repeatElement(ctx.now(), count: count)) }
        ctx.markDirty()
    }

    /// Replaces the current key's list; an empty list clears it.
    @inlinable
    public func update(_ values: [V]) {
        if values.isEmpty {
            clear()
            return
        }
        var slot = ctx.slot
        if lists[unchecked: slot].isEmpty { slot = ctx.acquireSlot() }
        lists[unchecked: slot] = values
        if hasTTL { stamps[unchecked: slot] = Array(repeating: ctx.now(), count: values.count) }
        ctx.markDirty()
    }

    /// Removes the current key's list.
    @inlinable
    public func clear() {
        let slot = ctx.slot
        if lists[unchecked: slot].isEmpty { return }
        lists[unchecked: slot] = []
        if hasTTL { stamps[unchecked: slot] = [] }
        ctx.markDirty()
        ctx.releaseSlot(slot)
    }

    @inlinable
    func getWithTTL() -> [V] {
        let slot = ctx.slot
        let list = lists[unchecked: slot]
        if list.isEmpty { return [] }
        let now = ctx.now()
        let times = stamps[unchecked: slot]
        var visible: [V] = []
        visible.reserveCapacity(list.count)
        var keptValues: [V] = []
        var keptTimes: [Int64] = []
        var expiredAny = false
        for index in list.indices {
            if ttl.isExpired(lastAccess: times[index], now: now) {
                expiredAny = true
                if ttl.returnExpired { visible.append(list[index]) }
            } else {
                visible.append(list[index])
                keptValues.append(list[index])
                keptTimes.append(ttl.updateOnRead ? now : times[index])
            }
        }
        if expiredAny || ttl.updateOnRead {
            lists[unchecked: slot] = keptValues
            stamps[unchecked: slot] = keptTimes
            ctx.markDirty()
            if keptValues.isEmpty { ctx.releaseSlot(slot) }
        }
        return visible
    }

    // MARK: Snapshots

    public func snapshotEntry(at slot: KeyedStateSlot) -> [TTLValue<V>]? {
        Self.entry(lists[unchecked: slot.raw], times: hasTTL ? stamps[unchecked: slot.raw] : nil)
    }

    @usableFromInline
    func _captureEntries() -> (Int32) -> [TTLValue<V>]? {
        let lists = lists.freeze()
        guard hasTTL else { return { slot in Self.entry(lists[slot], times: nil) } }
        let stamps = stamps.freeze()
        return { slot in Self.entry(lists[slot], times: stamps[slot]) }
    }

    /// A stored list as a snapshot entry (`nil` when empty).
    static func entry(_ list: [V], times: [Int64]?) -> [TTLValue<V>]? {
        if list.isEmpty { return nil }
        guard let times else { return list.map { TTLValue(value: $0) } }
        return list.indices.map { TTLValue(value: list[$0], lastAccessMillis: times[$0]) }
    }

    public func restoreEntry(_ entry: [TTLValue<V>]) {
        update(entry.map(\.value))
        if hasTTL && !entry.isEmpty {
            let now = ctx.now()
            stamps[unchecked: ctx.slot] = entry.map { $0.lastAccessMillis ?? now }
        }
    }

    // MARK: _KeyedStateStorage

    @usableFromInline
    func _growSlots(to capacity: Int) {
        lists.grow(to: capacity, repeating: [])
        if hasTTL { stamps.grow(to: capacity, repeating: []) }
    }

    @usableFromInline var _hasTTL: Bool { hasTTL }

    @usableFromInline
    func _purgeExpired(at slot: Int32, now: Int64) {
        guard hasTTL, !lists[unchecked: slot].isEmpty else { return }
        let times = stamps[unchecked: slot]
        guard times.contains(where: { ttl.isExpired(lastAccess: $0, now: now) }) else { return }
        let list = lists[unchecked: slot]
        var keptValues: [V] = []
        var keptTimes: [Int64] = []
        for index in list.indices where !ttl.isExpired(lastAccess: times[index], now: now) {
            keptValues.append(list[index])
            keptTimes.append(times[index])
        }
        lists[unchecked: slot] = keptValues
        stamps[unchecked: slot] = keptTimes
        ctx.markDirty(slot: slot)
        if keptValues.isEmpty { ctx.releaseSlot(slot) }
    }

    @usableFromInline
    func _holdsValue(at slot: Int32) -> Bool { !lists[unchecked: slot].isEmpty }
}
