/// The heap keyed-state backend of one keyed operator subtask (Flink's `HeapKeyedStateBackend`).
///
/// The operator sets the current key before each record (``setCurrentKey(_:)``); every state
/// obtained from the backend then reads and writes that key's value. States are key-type
/// erased (`ValueState<V>`, not `ValueState<K, V>`).
///
/// Storage: an open-addressing index maps each live key to a dense slot; each state keeps its
/// values in a contiguous column indexed by slot. A slot counts the states holding a value for
/// its key; when the last value is cleared (or expires) the key leaves the index and the slot
/// is recycled, so memory is bounded by the peak number of live keys.
///
/// Single-threaded: use it only on the task thread. States stay valid while the backend lives.
public final class KeyedStateBackend<K: StableHashable>: _KeySlotOwner {
    public let maxParallelism: Int
    public let keyGroupRange: KeyGroupRange
    public let clock: any ProcessingTimeClock

    @usableFromInline let ctx: _KeyContext
    @usableFromInline @exclusivity(unchecked) var table: _KeyTable<K>
    @usableFromInline let keyGroupModulo: _FastModulo
    @usableFromInline let rangeStart: Int
    @usableFromInline let rangeCount: UInt
    @usableFromInline @exclusivity(unchecked) var _currentKey: K?
    @usableFromInline @exclusivity(unchecked) var _currentHash: Int32 = 0

    /// Per slot: the key (nil for a free slot), its stable hash, and its neighbours in its key
    /// group's list (0 terminates).
    var slotKeys: _SlotColumn<K?>
    var slotHashes: _SlotColumn<Int32>
    var slotNext: _SlotColumn<Int32>
    var slotPrevious: _SlotColumn<Int32>
    /// Per key group in the range: its first slot (0 when it has no keys) and key count.
    var groupHeads: [Int32]
    var groupCounts: [Int]
    var freeSlots: [Int32] = []
    /// The next never-used slot.
    var highWater: Int32 = 1
    var slotCapacity: Int

    var registry: [String: Registration] = [:]
    var storages: [any _KeyedStateStorage] = []

    struct Registration {
        let typeID: ObjectIdentifier
        let typeName: String
        let ttl: StateTTLConfig?
        let state: any _KeyedStateStorage
        /// Writes and reads this state's entries for checkpoints (see KeyedStateBackend+Checkpoint).
        let checkpointing: _StateCheckpointing<K>
    }

    /// The key codec, found once (keys must be BinaryCodable or Codable to be checkpointed).
    lazy var keyCodec: StateCodec<K>? = StateCodec<K>.discovered()
    /// Restored state not yet claimed by a registration, by state name.
    var pendingRestore: [String: [_PendingStateBlob]] = [:]
    /// What changed since the last completed checkpoint, for incremental checkpoints.
    var changes = _KeyChanges<K>()
    /// The first restore problem, reported when the state is registered or snapshotted.
    var restoreError: (any Error)?

    /// - Parameters:
    ///   - maxParallelism: the number of key groups of the job (`1...32768`, default 128).
    ///   - keyGroupRange: the key groups this subtask owns (see
    ///     ``KeyGroupRangeAssignment/computeKeyGroupRangeForOperatorIndex(maxParallelism:parallelism:operatorIndex:)``).
    ///   - clock: processing time for TTL.
    /// - Throws: ``StateError`` when the max parallelism or the range is invalid.
    public init(
        maxParallelism: Int, keyGroupRange: KeyGroupRange, clock: any ProcessingTimeClock
    ) throws(StateError) {
        try KeyGroupRangeAssignment.checkMaxParallelism(maxParallelism)
        guard !keyGroupRange.isEmpty, keyGroupRange.end < maxParallelism else {
            throw StateError(
                code: .invalidKeyGroupRange,
                message: "key-group range \(keyGroupRange) is empty or exceeds max parallelism \(maxParallelism); "
                    + "use KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex")
        }
        self.maxParallelism = maxParallelism
        self.keyGroupRange = keyGroupRange
        self.clock = clock
        keyGroupModulo = _FastModulo(divisor: maxParallelism)
        rangeStart = keyGroupRange.start
        rangeCount = UInt(keyGroupRange.count)
        slotCapacity = 16
        ctx = _KeyContext(keyGroupCount: keyGroupRange.count, slotCapacity: slotCapacity, clock: clock)
        table = _KeyTable()
        slotKeys = _SlotColumn(capacity: slotCapacity, repeating: nil)
        slotHashes = _SlotColumn(capacity: slotCapacity, repeating: 0)
        slotNext = _SlotColumn(capacity: slotCapacity, repeating: 0)
        slotPrevious = _SlotColumn(capacity: slotCapacity, repeating: 0)
        groupHeads = Array(repeating: 0, count: keyGroupRange.count)
        groupCounts = Array(repeating: 0, count: keyGroupRange.count)
        ctx.owner = self
    }

    deinit {
        table.destroy()
        slotKeys.destroy()
        slotHashes.destroy()
        slotNext.destroy()
        slotPrevious.destroy()
    }

    // MARK: Current key

    /// Makes `key` the current key of every state of this backend.
    ///
    /// - Precondition: the key's key group is in ``keyGroupRange`` (the partitioner routed it
    ///   here).
    /// - Complexity: O(1) expected: one stable hash, one index lookup; no allocation.
    @inlinable @inline(__always)
    public func setCurrentKey(_ key: K) {
        let hash = key.stableHashCode
        let keyGroup = keyGroupModulo.remainder(UInt32(bitPattern: KeyGroupRangeAssignment.murmurHash(hash)))
        let index = keyGroup &- rangeStart
        if UInt(bitPattern: index) >= rangeCount { keyGroupOutOfRange(keyGroup) }
        _currentKey = key
        _currentHash = hash
        ctx.keyGroup = keyGroup
        ctx.keyGroupIndex = index
        ctx.slot = table.find(key, hash: hash)
    }

    @usableFromInline
    func keyGroupOutOfRange(_ keyGroup: Int) -> Never {
        preconditionFailure(
            "key group \(keyGroup) is not in this subtask's \(keyGroupRange) (max parallelism \(maxParallelism)); "
                + "the key was routed to the wrong subtask or its stableHashCode is not deterministic")
    }

    /// The current key, `nil` before the first ``setCurrentKey(_:)``.
    public var currentKey: K? { _currentKey }

    /// The current key's key group, -1 before the first ``setCurrentKey(_:)``.
    public var currentKeyGroup: Int { ctx.keyGroup }

    /// Whether `key` belongs to this subtask's key groups.
    @inlinable
    public func owns(_ key: K) -> Bool {
        keyGroupRange.contains(KeyGroupRangeAssignment.assignToKeyGroup(key, maxParallelism: maxParallelism))
    }

    /// The number of keys that hold a value in at least one state.
    public var liveKeyCount: Int { table.count }

    // MARK: Slots (_KeySlotOwner)

    @usableFromInline
    func _allocateSlotForCurrentKey() -> Int32 {
        guard let key = _currentKey else {
            preconditionFailure("keyed state written before KeyedStateBackend.setCurrentKey")
        }
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            if Int(highWater) == slotCapacity { growSlots(to: slotCapacity * 2) }
            slot = highWater
            highWater += 1
        }
        let groupIndex = ctx.keyGroupIndex
        slotKeys[unchecked: slot] = key
        slotHashes[unchecked: slot] = _currentHash
        ctx.slotKeyGroupIndex[unchecked: slot] = Int32(groupIndex)
        let head = groupHeads[groupIndex]
        slotNext[unchecked: slot] = head
        slotPrevious[unchecked: slot] = 0
        if head != 0 { slotPrevious[unchecked: head] = slot }
        groupHeads[groupIndex] = slot
        groupCounts[groupIndex] += 1
        table.insert(key, hash: _currentHash, slot: slot)
        ctx.markDirty(slot: slot)
        ctx.slot = slot
        return slot
    }

    @usableFromInline
    func _releaseSlot(_ slot: Int32) {
        guard let key = slotKeys[unchecked: slot] else { preconditionFailure("released a free slot") }
        let removed = table.remove(key, hash: slotHashes[unchecked: slot])
        precondition(removed == slot, "key index out of sync with slot \(slot)")
        let groupIndex = Int(ctx.slotKeyGroupIndex[unchecked: slot])
        let next = slotNext[unchecked: slot]
        let previous = slotPrevious[unchecked: slot]
        if previous != 0 { slotNext[unchecked: previous] = next } else { groupHeads[groupIndex] = next }
        if next != 0 { slotPrevious[unchecked: next] = previous }
        groupCounts[groupIndex] -= 1
        changes.recordRemoval(groupIndex: Int32(groupIndex), key: key, liveKeys: table.count)
        slotKeys[unchecked: slot] = nil
        ctx.slotKeyGroupIndex[unchecked: slot] = -1
        ctx.refCounts[unchecked: slot] = 0
        freeSlots.append(slot)
        if ctx.slot == slot { ctx.slot = 0 }
    }

    func growSlots(to capacity: Int) {
        slotKeys.grow(to: capacity, repeating: nil)
        slotHashes.grow(to: capacity, repeating: 0)
        slotNext.grow(to: capacity, repeating: 0)
        slotPrevious.grow(to: capacity, repeating: 0)
        ctx.refCounts.grow(to: capacity, repeating: 0)
        ctx.slotKeyGroupIndex.grow(to: capacity, repeating: -1)
        ctx.growChangedBits(to: capacity)
        for storage in storages { storage._growSlots(to: capacity) }
        slotCapacity = capacity
    }

    // MARK: TTL

    /// Removes every expired value, list element and map entry of every state with TTL (the
    /// full sweep that complements lazy removal on access).
    ///
    /// - Complexity: O(live keys × TTL states), plus the size of expiring lists and maps.
    public func cleanupExpired() {
        let ttlStates = storages.filter(\._hasTTL)
        if ttlStates.isEmpty { return }
        let now = clock.currentTimeMillis()
        var slot: Int32 = 1
        while slot < highWater {
            for state in ttlStates where slotKeys[unchecked: slot] != nil {
                state._purgeExpired(at: slot, now: now)
            }
            slot += 1
        }
    }

    // MARK: Registration

    /// The ``ValueState`` named by `descriptor`, created on first use.
    ///
    /// - Throws: ``StateError/Code/stateTypeMismatch`` when the name is registered with another
    ///   kind, value type or TTL; ``StateError/Code/invalidTTL`` for a non-positive TTL.
    public func getState<V>(_ descriptor: ValueStateDescriptor<V>) throws(StateError) -> ValueState<V> {
        try register(descriptor.name, ttl: descriptor.ttl) { () throws(StateError) in
            try ValueState(name: descriptor.name, context: ctx, slotCapacity: slotCapacity, ttl: descriptor.ttl)
        }
    }

    /// The ``ListState`` named by `descriptor`, created on first use.
    public func getListState<V>(_ descriptor: ListStateDescriptor<V>) throws(StateError) -> ListState<V> {
        try register(descriptor.name, ttl: descriptor.ttl) { () throws(StateError) in
            try ListState(name: descriptor.name, context: ctx, slotCapacity: slotCapacity, ttl: descriptor.ttl)
        }
    }

    /// The ``MapState`` named by `descriptor`, created on first use.
    public func getMapState<UK, UV>(_ descriptor: MapStateDescriptor<UK, UV>) throws(StateError) -> MapState<UK, UV> {
        try register(descriptor.name, ttl: descriptor.ttl) { () throws(StateError) in
            try MapState(name: descriptor.name, context: ctx, slotCapacity: slotCapacity, ttl: descriptor.ttl)
        }
    }

    /// The ``ReducingState`` named by `descriptor`, created on first use. A second request
    /// returns the first instance (and its reduce function).
    public func getReducingState<V>(_ descriptor: ReducingStateDescriptor<V>) throws(StateError) -> ReducingState<V> {
        try register(descriptor.name, ttl: descriptor.ttl) { () throws(StateError) in
            try ReducingState(
                name: descriptor.name, context: ctx, slotCapacity: slotCapacity,
                reduceFunction: descriptor.reduceFunction, ttl: descriptor.ttl)
        }
    }

    /// The ``AggregatingState`` named by `descriptor`, created on first use.
    public func getAggregatingState<F>(
        _ descriptor: AggregatingStateDescriptor<F>
    ) throws(StateError) -> AggregatingState<F> {
        try register(descriptor.name, ttl: descriptor.ttl) { () throws(StateError) in
            try AggregatingState(
                name: descriptor.name, context: ctx, slotCapacity: slotCapacity,
                function: descriptor.aggregateFunction, ttl: descriptor.ttl)
        }
    }

    /// A value state scoped to (key, namespace), for window operators. No TTL.
    public func getNamespacedState<N, V>(
        _ descriptor: ValueStateDescriptor<V>, namespace: N.Type
    ) throws(StateError) -> NamespacedValueState<N, V> {
        try checkNoTTL(descriptor.name, descriptor.ttl)
        return try register(descriptor.name, ttl: nil) { () throws(StateError) in
            NamespacedValueState(name: descriptor.name, context: ctx, slotCapacity: slotCapacity)
        }
    }

    /// A list state scoped to (key, namespace), for window operators. No TTL.
    public func getNamespacedListState<N, V>(
        _ descriptor: ListStateDescriptor<V>, namespace: N.Type
    ) throws(StateError) -> NamespacedListState<N, V> {
        try checkNoTTL(descriptor.name, descriptor.ttl)
        return try register(descriptor.name, ttl: nil) { () throws(StateError) in
            NamespacedListState(name: descriptor.name, context: ctx, slotCapacity: slotCapacity)
        }
    }

    /// A map state scoped to (key, namespace), for window operators. No TTL.
    public func getNamespacedMapState<N, UK, UV>(
        _ descriptor: MapStateDescriptor<UK, UV>, namespace: N.Type
    ) throws(StateError) -> NamespacedMapState<N, UK, UV> {
        try checkNoTTL(descriptor.name, descriptor.ttl)
        return try register(descriptor.name, ttl: nil) { () throws(StateError) in
            NamespacedMapState(name: descriptor.name, context: ctx, slotCapacity: slotCapacity)
        }
    }

    /// A reducing state scoped to (key, namespace), for window operators. No TTL.
    public func getNamespacedReducingState<N, V>(
        _ descriptor: ReducingStateDescriptor<V>, namespace: N.Type
    ) throws(StateError) -> NamespacedReducingState<N, V> {
        try checkNoTTL(descriptor.name, descriptor.ttl)
        return try register(descriptor.name, ttl: nil) { () throws(StateError) in
            NamespacedReducingState(
                name: descriptor.name, context: ctx, slotCapacity: slotCapacity,
                reduceFunction: descriptor.reduceFunction)
        }
    }

    /// An aggregating state scoped to (key, namespace), for window operators. No TTL.
    public func getNamespacedAggregatingState<N, F>(
        _ descriptor: AggregatingStateDescriptor<F>, namespace: N.Type
    ) throws(StateError) -> NamespacedAggregatingState<N, F> {
        try checkNoTTL(descriptor.name, descriptor.ttl)
        return try register(descriptor.name, ttl: nil) { () throws(StateError) in
            NamespacedAggregatingState(
                name: descriptor.name, context: ctx, slotCapacity: slotCapacity,
                function: descriptor.aggregateFunction)
        }
    }

    /// The names of every registered state.
    public var registeredStateNames: [String] { registry.keys.sorted() }

    func checkNoTTL(_ name: String, _ ttl: StateTTLConfig?) throws(StateError) {
        if ttl != nil {
            throw StateError(
                code: .invalidTTL,
                message: "state '\(name)': namespaced (window) state does not support TTL; remove the TTL config")
        }
    }

    func register<S: _CapturableState>(
        _ name: String, ttl: StateTTLConfig?, make: () throws(StateError) -> S
    ) throws(StateError) -> S {
        if let existing = registry[name] {
            guard existing.typeID == ObjectIdentifier(S.self) else {
                throw StateError(
                    code: .stateTypeMismatch,
                    message: "state '\(name)' is registered as \(existing.typeName), not \(S.self); "
                        + "ask for it as \(existing.typeName) or use another state name")
            }
            guard existing.ttl == ttl else {
                throw StateError(
                    code: .stateTypeMismatch,
                    message: "state '\(name)' is registered with TTL \(String(describing: existing.ttl)), "
                        + "not \(String(describing: ttl)); use the same TTL config or another state name")
            }
            return unsafeDowncast(existing.state, to: S.self)
        }
        let state = try make()
        let checkpointing = makeCheckpointing(for: state)
        registry[name] = Registration(
            typeID: ObjectIdentifier(S.self), typeName: String(describing: S.self), ttl: ttl, state: state,
            checkpointing: checkpointing)
        storages.append(state)
        try claimPendingRestore(name, checkpointing)
        return state
    }
}
