/// The state behind ``TimerQueue``: three arrays that refer to each other by index.
///
/// - `slots` holds each live timer once (`nil` = free, reused through `freeSlots`).
/// - `buckets` is an open-addressing hash index (linear probing, backward-shift deletion)
///   from `(timestamp, key, namespace)` to a slot. Buckets keep 32 bits of the hash, so
///   probing, deletion and growth never rehash a key: one `Hasher` run per register/delete,
///   none per pop.
/// - `heap` is a min-heap of `(timestamp, sequence, slot)`. A heap item is live while its
///   slot still holds the same `sequence`; a deletion only frees the slot, and the stale item
///   is dropped when it reaches the top (the top is always kept live) or when stale items
///   outnumber live ones and the heap is rebuilt.
@usableFromInline
struct TimerQueueStorage<Key: Hashable, Namespace: Hashable> {
    @usableFromInline var slots: [TimerQueueSlot<Key, Namespace>?] = []
    @usableFromInline var freeSlots: [Int32] = []
    @usableFromInline var buckets = [TimerQueueBucket](repeating: .empty, count: 16)
    @usableFromInline var heap: [TimerQueueHeapItem] = []
    /// Number of live timers.
    @usableFromInline var count = 0
    @usableFromInline var nextSequence: UInt64 = 0

    @inlinable
    init() {}

    @inlinable
    mutating func register(timestamp: Int64, key: Key, namespace: Namespace) -> Bool {
        let hash = Self.hash(timestamp: timestamp, key: key, namespace: namespace)
        var (bucket, found) = find(timestamp: timestamp, key: key, namespace: namespace, hash: hash)
        if found { return false }
        if growIfNeeded() {
            bucket = find(timestamp: timestamp, key: key, namespace: namespace, hash: hash).bucket
        }
        let sequence = nextSequence
        nextSequence &+= 1
        let slot = allocateSlot(TimerQueueSlot(
            timestamp: timestamp, sequence: sequence, key: key, namespace: namespace))
        buckets[bucket] = TimerQueueBucket(slot: slot, hashBits: hash)
        count += 1
        pushHeap(TimerQueueHeapItem(timestamp: timestamp, sequence: sequence, slot: slot, hashBits: hash))
        return true
    }

    @inlinable
    mutating func delete(timestamp: Int64, key: Key, namespace: Namespace) -> Bool {
        let hash = Self.hash(timestamp: timestamp, key: key, namespace: namespace)
        let (bucket, found) = find(timestamp: timestamp, key: key, namespace: namespace, hash: hash)
        guard found else { return false }
        let slot = buckets[bucket].slot
        removeBucket(at: bucket)
        freeSlot(slot)
        count -= 1
        if heap.count - count > Swift.max(count, 64) {
            rebuildHeap()
        } else {
            dropStaleTop()
        }
        return true
    }

    @inlinable
    mutating func popIfDue(upTo bound: Int64) -> (timestamp: Int64, key: Key, namespace: Namespace)? {
        guard let top = heap.first, top.timestamp <= bound else { return nil }
        removeBucket(at: bucket(ofSlot: top.slot, hashBits: top.hashBits))
        let timer = slots[Int(top.slot)]!
        freeSlot(top.slot)
        count -= 1
        removeHeapTop()
        dropStaleTop()
        return (timer.timestamp, timer.key, timer.namespace)
    }

    @inlinable
    mutating func allocateSlot(_ timer: TimerQueueSlot<Key, Namespace>) -> Int32 {
        if let slot = freeSlots.popLast() {
            slots[Int(slot)] = timer
            return slot
        }
        precondition(slots.count < Int(Int32.max), "too many timers")
        slots.append(timer)
        return Int32(truncatingIfNeeded: slots.count - 1)
    }

    @inlinable
    mutating func freeSlot(_ slot: Int32) {
        slots[Int(slot)] = nil
        freeSlots.append(slot)
    }

    @inlinable
    func isLive(_ item: TimerQueueHeapItem) -> Bool {
        slots[Int(item.slot)]?.sequence == item.sequence
    }
}

/// A registered timer. `sequence` orders equal timestamps by registration and identifies
/// the heap item that belongs to this registration.
@usableFromInline
struct TimerQueueSlot<Key: Hashable, Namespace: Hashable> {
    @usableFromInline var timestamp: Int64
    @usableFromInline var sequence: UInt64
    @usableFromInline var key: Key
    @usableFromInline var namespace: Namespace

    @inlinable
    init(timestamp: Int64, sequence: UInt64, key: Key, namespace: Namespace) {
        self.timestamp = timestamp
        self.sequence = sequence
        self.key = key
        self.namespace = namespace
    }
}
