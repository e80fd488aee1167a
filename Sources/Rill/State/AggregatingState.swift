/// One accumulator per key, fed through an ``AggregateFunction`` (Flink's
/// `AggregatingState<IN, OUT>`).
///
/// Rill's type parameter is the aggregate function itself (`AggregatingState<Average>`), so the
/// accumulator is stored unboxed and `add` runs specialized code: Flink's `IN` and `OUT` are
/// `F.In` and `F.Out`.
public final class AggregatingState<F: AggregateFunction>: _KeyedStateStorage, KeyedStateSnapshotting, _CapturableState {
    public typealias In = F.In
    public typealias Out = F.Out
    public typealias Accumulator = F.Accumulator

    public let name: String
    @usableFromInline let ctx: _KeyContext
    @usableFromInline let function: F
    @usableFromInline @exclusivity(unchecked) var accumulators: _SlotColumn<Accumulator?>
    @usableFromInline @exclusivity(unchecked) var stamps: _SlotColumn<Int64>
    @usableFromInline let ttl: _TTLPolicy
    @usableFromInline let hasTTL: Bool

    init(name: String, context: _KeyContext, slotCapacity: Int, function: F, ttl: StateTTLConfig?) throws(StateError) {
        self.name = name
        ctx = context
        self.function = function
        self.ttl = try _TTLPolicy(ttl)
        hasTTL = ttl != nil
        accumulators = _SlotColumn(capacity: slotCapacity, repeating: nil)
        stamps = hasTTL ? _SlotColumn(capacity: slotCapacity, repeating: 0) : .none()
    }

    deinit {
        accumulators.destroy()
        stamps.destroy()
    }

    /// `getResult` of the current key's accumulator, `nil` when nothing was added (or it
    /// expired).
    @inlinable
    public func get() -> Out? {
        let slot = ctx.slot
        guard let accumulator = accumulators[unchecked: slot] else { return nil }
        if !hasTTL { return function.getResult(accumulator) }
        let now = ctx.now()
        if ttl.isExpired(lastAccess: stamps[unchecked: slot], now: now) {
            accumulators[unchecked: slot] = nil
            ctx.markDirty()
            ctx.releaseSlot(slot)
            return ttl.returnExpired ? function.getResult(accumulator) : nil
        }
        if ttl.updateOnRead {
            stamps[unchecked: slot] = now
            ctx.markDirty()
        }
        return function.getResult(accumulator)
    }

    /// Adds `value` to the current key's accumulator (creating it first; an expired
    /// accumulator starts over, as in Flink).
    @inlinable
    public func add(_ value: In) {
        var slot = ctx.slot
        if let current = accumulators[unchecked: slot] {
            if hasTTL {
                let now = ctx.now()
                let base = ttl.isExpired(lastAccess: stamps[unchecked: slot], now: now)
                    ? function.createAccumulator() : current
                accumulators[unchecked: slot] = function.add(value, to: base)
                stamps[unchecked: slot] = now
            } else {
                accumulators[unchecked: slot] = function.add(value, to: current)
            }
        } else {
            slot = ctx.acquireSlot()
            accumulators[unchecked: slot] = function.add(value, to: function.createAccumulator())
            if hasTTL { stamps[unchecked: slot] = ctx.now() }
        }
        ctx.markDirty()
    }

    /// Removes the current key's accumulator.
    @inlinable
    public func clear() {
        let slot = ctx.slot
        if accumulators[unchecked: slot] == nil { return }
        accumulators[unchecked: slot] = nil
        ctx.markDirty()
        ctx.releaseSlot(slot)
    }

    // MARK: Snapshots

    /// The stored accumulator (not the result).
    public func snapshotEntry(at slot: KeyedStateSlot) -> TTLValue<Accumulator>? {
        guard let accumulator = accumulators[unchecked: slot.raw] else { return nil }
        return TTLValue(value: accumulator, lastAccessMillis: hasTTL ? stamps[unchecked: slot.raw] : nil)
    }

    public func restoreEntry(_ entry: TTLValue<Accumulator>) {
        var slot = ctx.slot
        if accumulators[unchecked: slot] == nil { slot = ctx.acquireSlot() }
        accumulators[unchecked: slot] = entry.value
        if hasTTL { stamps[unchecked: slot] = entry.lastAccessMillis ?? ctx.now() }
        ctx.markDirty()
    }

    @usableFromInline
    func _captureEntries() -> (Int32) -> TTLValue<Accumulator>? {
        _captureTTLValues(accumulators, stamps: stamps, hasTTL: hasTTL)
    }

    // MARK: _KeyedStateStorage

    @usableFromInline
    func _growSlots(to capacity: Int) {
        accumulators.grow(to: capacity, repeating: nil)
        if hasTTL { stamps.grow(to: capacity, repeating: 0) }
    }

    @usableFromInline var _hasTTL: Bool { hasTTL }

    @usableFromInline
    func _purgeExpired(at slot: Int32, now: Int64) {
        guard hasTTL, accumulators[unchecked: slot] != nil,
              ttl.isExpired(lastAccess: stamps[unchecked: slot], now: now) else { return }
        accumulators[unchecked: slot] = nil
        ctx.markDirty(slot: slot)
        ctx.releaseSlot(slot)
    }

    @usableFromInline
    func _holdsValue(at slot: Int32) -> Bool { accumulators[unchecked: slot] != nil }
}
