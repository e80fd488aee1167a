/// A single value per key (Flink's `ValueState`), scoped to the backend's current key.
///
/// Obtained from ``KeyedStateBackend/getState(_:)``; valid while the backend lives; used only
/// on the task thread.
public final class ValueState<V>: _KeyedStateStorage, KeyedStateSnapshotting, _CapturableState {
    public let name: String
    @usableFromInline let ctx: _KeyContext
    @usableFromInline @exclusivity(unchecked) var values: _SlotColumn<V?>
    /// Last-access times, allocated only with TTL.
    @usableFromInline @exclusivity(unchecked) var stamps: _SlotColumn<Int64>
    @usableFromInline let ttl: _TTLPolicy
    @usableFromInline let hasTTL: Bool

    init(name: String, context: _KeyContext, slotCapacity: Int, ttl: StateTTLConfig?) throws(StateError) {
        self.name = name
        ctx = context
        self.ttl = try _TTLPolicy(ttl)
        hasTTL = ttl != nil
        values = _SlotColumn(capacity: slotCapacity, repeating: nil)
        stamps = hasTTL ? _SlotColumn(capacity: slotCapacity, repeating: 0) : .none()
    }

    deinit {
        values.destroy()
        stamps.destroy()
    }

    /// The current key's value, `nil` when there is none (or it expired).
    ///
    /// - Complexity: O(1).
    @inlinable @inline(__always)
    public func value() -> V? {
        if hasTTL { return valueWithTTL() }
        return values[unchecked: ctx.slot]
    }

    /// Sets the current key's value.
    ///
    /// - Complexity: O(1); amortized O(1) for a key that had no state.
    @inlinable @inline(__always)
    public func update(_ value: V) {
        var slot = ctx.slot
        var stored = values.writableAddress(slot)
        if stored.pointee == nil {
            slot = ctx.acquireSlot()
            stored = values.writableAddress(slot)
        }
        stored.pointee = value
        if hasTTL { stamps[unchecked: slot] = ctx.now() }
        ctx.markDirty()
    }

    /// Removes the current key's value.
    @inlinable @inline(__always)
    public func clear() {
        let slot = ctx.slot
        if values[unchecked: slot] == nil { return }
        values[unchecked: slot] = nil
        ctx.markDirty()
        ctx.releaseSlot(slot)
    }

    @inlinable
    func valueWithTTL() -> V? {
        let slot = ctx.slot
        guard let value = values[unchecked: slot] else { return nil }
        let now = ctx.now()
        if ttl.isExpired(lastAccess: stamps[unchecked: slot], now: now) {
            values[unchecked: slot] = nil
            ctx.markDirty()
            ctx.releaseSlot(slot)
            return ttl.returnExpired ? value : nil
        }
        if ttl.updateOnRead {
            stamps[unchecked: slot] = now
            ctx.markDirty()
        }
        return value
    }

    // MARK: Snapshots

    public func snapshotEntry(at slot: KeyedStateSlot) -> TTLValue<V>? {
        guard let value = values[unchecked: slot.raw] else { return nil }
        return TTLValue(value: value, lastAccessMillis: hasTTL ? stamps[unchecked: slot.raw] : nil)
    }

    public func restoreEntry(_ entry: TTLValue<V>) {
        update(entry.value)
        if hasTTL { stamps[unchecked: ctx.slot] = entry.lastAccessMillis ?? ctx.now() }
    }

    @usableFromInline
    func _captureEntries() -> (Int32) -> TTLValue<V>? {
        _captureTTLValues(values, stamps: stamps, hasTTL: hasTTL)
    }

    // MARK: _KeyedStateStorage

    @usableFromInline
    func _growSlots(to capacity: Int) {
        values.grow(to: capacity, repeating: nil)
        if hasTTL { stamps.grow(to: capacity, repeating: 0) }
    }

    @usableFromInline var _hasTTL: Bool { hasTTL }

    @usableFromInline
    func _purgeExpired(at slot: Int32, now: Int64) {
        guard hasTTL, values[unchecked: slot] != nil,
              ttl.isExpired(lastAccess: stamps[unchecked: slot], now: now) else { return }
        values[unchecked: slot] = nil
        ctx.markDirty(slot: slot)
        ctx.releaseSlot(slot)
    }

    @usableFromInline
    func _holdsValue(at slot: Int32) -> Bool { values[unchecked: slot] != nil }
}
