/// One value per key, folded with a ``ReduceFunction`` on every `add` (Flink's
/// `ReducingState`).
public final class ReducingState<V>: _KeyedStateStorage, KeyedStateSnapshotting, _CapturableState {
    public let name: String
    @usableFromInline let ctx: _KeyContext
    @usableFromInline let reduceFunction: ReduceFunction<V>
    @usableFromInline @exclusivity(unchecked) var values: _SlotColumn<V?>
    @usableFromInline @exclusivity(unchecked) var stamps: _SlotColumn<Int64>
    @usableFromInline let ttl: _TTLPolicy
    @usableFromInline let hasTTL: Bool

    init(
        name: String, context: _KeyContext, slotCapacity: Int, reduceFunction: @escaping ReduceFunction<V>,
        ttl: StateTTLConfig?
    ) throws(StateError) {
        self.name = name
        ctx = context
        self.reduceFunction = reduceFunction
        self.ttl = try _TTLPolicy(ttl)
        hasTTL = ttl != nil
        values = _SlotColumn(capacity: slotCapacity, repeating: nil)
        stamps = hasTTL ? _SlotColumn(capacity: slotCapacity, repeating: 0) : .none()
    }

    deinit {
        values.destroy()
        stamps.destroy()
    }

    /// The current key's reduced value, `nil` when nothing was added (or it expired).
    @inlinable
    public func get() -> V? {
        let slot = ctx.slot
        guard let value = values[unchecked: slot] else { return nil }
        if !hasTTL { return value }
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

    /// Reduces `value` into the current key's value (an expired value is replaced, as in
    /// Flink). When the reduce function throws, the state is unchanged.
    @inlinable
    public func add(_ value: V) throws {
        var slot = ctx.slot
        if let current = values[unchecked: slot] {
            if hasTTL {
                let now = ctx.now()
                if ttl.isExpired(lastAccess: stamps[unchecked: slot], now: now) {
                    values[unchecked: slot] = value
                } else {
                    values[unchecked: slot] = try reduceFunction(current, value)
                }
                stamps[unchecked: slot] = now
            } else {
                values[unchecked: slot] = try reduceFunction(current, value)
            }
        } else {
            slot = ctx.acquireSlot()
            values[unchecked: slot] = value
            if hasTTL { stamps[unchecked: slot] = ctx.now() }
        }
        ctx.markDirty()
    }

    /// Removes the current key's value.
    @inlinable
    public func clear() {
        let slot = ctx.slot
        if values[unchecked: slot] == nil { return }
        values[unchecked: slot] = nil
        ctx.markDirty()
        ctx.releaseSlot(slot)
    }

    // MARK: Snapshots

    public func snapshotEntry(at slot: KeyedStateSlot) -> TTLValue<V>? {
        guard let value = values[unchecked: slot.raw] else { return nil }
        return TTLValue(value: value, lastAccessMillis: hasTTL ? stamps[unchecked: slot.raw] : nil)
    }

    public func restoreEntry(_ entry: TTLValue<V>) {
        var slot = ctx.slot
        if values[unchecked: slot] == nil { slot = ctx.acquireSlot() }
        values[unchecked: slot] = entry.value
        if hasTTL { stamps[unchecked: slot] = entry.lastAccessMillis ?? ctx.now() }
        ctx.markDirty()
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
