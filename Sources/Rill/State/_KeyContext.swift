/// The allocator side of a backend, reached from key-type-erased state objects only on cold
/// paths (the first value of a new key, the last value of a key going away).
@usableFromInline
protocol _KeySlotOwner: AnyObject {
    /// Gives the current key a slot (it has none) and stores it in the context.
    func _allocateSlotForCurrentKey() -> Int32
    /// Removes the key of `slot` from the index and recycles the slot.
    func _releaseSlot(_ slot: Int32)
}

/// The current-key context shared by a backend and all its states, erased of the key type so
/// that states are `ValueState<V>` rather than `ValueState<K, V>`.
///
/// Slot 0 is a sentinel: the current key has no slot yet (it holds no state). Every state
/// column has an always-empty element at slot 0, so reads need no branch; the first write
/// allocates a slot through ``acquireSlot()``.
///
/// Each live slot has a reference count: the number of states holding a value for its key.
/// When it drops to zero the key leaves the index and the slot is recycled, so memory is
/// bounded by the peak number of live keys.
@usableFromInline
final class _KeyContext {
    /// The current key's slot, 0 when it has none.
    @usableFromInline @exclusivity(unchecked) var slot: Int32 = 0
    /// The current key group, -1 before the first key is set.
    @usableFromInline @exclusivity(unchecked) var keyGroup: Int = -1
    /// `keyGroup - keyGroupRange.start`.
    @usableFromInline @exclusivity(unchecked) var keyGroupIndex: Int = 0
    /// Per slot: how many states hold a value.
    @usableFromInline @exclusivity(unchecked) var refCounts: _SlotColumn<Int32>
    /// Per slot: its key group's index in the range, -1 for a free slot.
    @usableFromInline @exclusivity(unchecked) var slotKeyGroupIndex: _SlotColumn<Int32>
    /// One bit per slot: its state changed since the last snapshot (or
    /// ``KeyedStateBackend/clearDirtyKeyGroups()``). A bitmap stays in the first-level cache
    /// where a per-slot column would not.
    @usableFromInline @exclusivity(unchecked) var changedBits: UnsafeMutablePointer<UInt64>
    var changedBitsWords: Int
    /// The slots whose bit is set, each once (a slot freed meanwhile, or taken by another
    /// key, is still listed: readers check the slot's key).
    @usableFromInline @exclusivity(unchecked) var changedSlots: [Int32] = []
    @usableFromInline let keyGroupCount: Int
    @usableFromInline let clock: any ProcessingTimeClock
    @usableFromInline weak var owner: (any _KeySlotOwner)?

    init(keyGroupCount: Int, slotCapacity: Int, clock: any ProcessingTimeClock) {
        self.keyGroupCount = keyGroupCount
        self.clock = clock
        refCounts = _SlotColumn(capacity: slotCapacity, repeating: 0)
        slotKeyGroupIndex = _SlotColumn(capacity: slotCapacity, repeating: -1)
        changedBitsWords = Swift.max(1, (slotCapacity + 63) / 64)
        changedBits = .allocate(capacity: changedBitsWords)
        changedBits.initialize(repeating: 0, count: changedBitsWords)
    }

    deinit {
        refCounts.destroy()
        slotKeyGroupIndex.destroy()
        changedBits.deallocate()
    }

    /// A state gains a value for the current key: allocate a slot if the key has none, count
    /// the reference, return the slot. Columns may be reallocated by this call.
    @inlinable
    func acquireSlot() -> Int32 {
        var current = slot
        if current == 0 { current = allocateSlowPath() }
        refCounts[unchecked: current] &+= 1
        return current
    }

    @usableFromInline
    func allocateSlowPath() -> Int32 {
        guard let owner else { preconditionFailure("keyed state used after its KeyedStateBackend was released") }
        return owner._allocateSlotForCurrentKey()
    }

    /// A state lost its value at `slot` (current key or not).
    @inlinable
    func releaseSlot(_ released: Int32) {
        let remaining = refCounts[unchecked: released] &- 1
        refCounts[unchecked: released] = remaining
        if remaining == 0 { releaseSlowPath(released) }
    }

    @usableFromInline
    func releaseSlowPath(_ released: Int32) {
        guard let owner else { preconditionFailure("keyed state used after its KeyedStateBackend was released") }
        owner._releaseSlot(released)
    }

    /// Records that the current key's state changed (for incremental checkpoints).
    ///
    /// - Complexity: O(1): one load and compare, plus an append the first time per epoch.
    @inlinable
    func markDirty() { markDirty(slot: slot) }

    /// Records that the state of `slot`'s key changed.
    @inlinable
    func markDirty(slot marked: Int32) {
        let index = Int(truncatingIfNeeded: marked)
        if changedBits[index &>> 6] & (1 &<< UInt64(index & 63)) == 0 { recordChange(marked) }
    }

    @usableFromInline
    func recordChange(_ marked: Int32) {
        let index = Int(marked)
        changedBits[index >> 6] |= 1 << UInt64(index & 63)
        changedSlots.append(marked)
    }

    /// Hands over the slots changed since the last call and clears their bits.
    ///
    /// - Complexity: O(slots handed over).
    func takeChangedSlots() -> [Int32] {
        let taken = changedSlots
        changedSlots = []
        for slot in taken { changedBits[Int(slot) >> 6] &= ~(1 << UInt64(Int(slot) & 63)) }
        return taken
    }

    /// Makes room for the bits of `capacity` slots.
    func growChangedBits(to capacity: Int) {
        let words = (capacity + 63) / 64
        guard words > changedBitsWords else { return }
        let grown = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        grown.moveInitialize(from: changedBits, count: changedBitsWords)
        (grown + changedBitsWords).initialize(repeating: 0, count: words - changedBitsWords)
        changedBits.deallocate()
        changedBits = grown
        changedBitsWords = words
    }

    @inlinable
    func now() -> Int64 { clock.currentTimeMillis() }
}

/// The cold-path interface every keyed state class implements for its backend.
@usableFromInline
protocol _KeyedStateStorage: AnyObject {
    /// Grows every per-slot column to `capacity`.
    func _growSlots(to capacity: Int)
    /// Whether values of this state expire.
    var _hasTTL: Bool { get }
    /// Removes what has expired at `slot` (releasing the slot's reference when the state
    /// becomes empty there).
    func _purgeExpired(at slot: Int32, now: Int64)
    /// Whether the state holds a value at `slot` (for invariant checks and tests).
    func _holdsValue(at slot: Int32) -> Bool
}

/// A key's position in a backend's storage, handed out while enumerating a key group for a
/// snapshot. Valid until the key's state changes.
public struct KeyedStateSlot: Hashable, Sendable {
    @usableFromInline let raw: Int32

    @usableFromInline
    init(raw: Int32) { self.raw = raw }
}

/// A value with the processing time of its last access, as stored for TTL (Flink's
/// `TtlValue`). `lastAccessMillis` is `nil` for a state without TTL.
public struct TTLValue<Value> {
    public var value: Value
    public var lastAccessMillis: Int64?

    public init(value: Value, lastAccessMillis: Int64? = nil) {
        self.value = value
        self.lastAccessMillis = lastAccessMillis
    }
}

extension TTLValue: Equatable where Value: Equatable {}
extension TTLValue: Hashable where Value: Hashable {}
extension TTLValue: Sendable where Value: Sendable {}
extension TTLValue: Codable where Value: Codable {}

/// Typed access to a keyed state's raw contents for checkpoints: read what is stored at a
/// slot (without TTL side effects) and restore it for the backend's current key.
public protocol KeyedStateSnapshotting: AnyObject {
    /// What one key holds in this state.
    associatedtype SnapshotEntry
    var name: String { get }
    /// The stored entry at `slot`, `nil` when this state holds nothing for that key.
    /// Expired entries are included (with their timestamps); no timestamp is refreshed.
    func snapshotEntry(at slot: KeyedStateSlot) -> SnapshotEntry?
    /// Replaces the current key's entry with `entry` as stored (timestamps included).
    /// An empty entry clears.
    func restoreEntry(_ entry: SnapshotEntry)
}
