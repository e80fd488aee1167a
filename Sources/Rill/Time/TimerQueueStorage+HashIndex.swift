/// One hash-index bucket: a slot number (`-1` = empty) and the low 32 bits of its hash,
/// which give both its home bucket and a cheap filter before comparing keys.
@usableFromInline
struct TimerQueueBucket {
    @usableFromInline var slot: Int32
    @usableFromInline var hashBits: UInt32

    @inlinable
    init(slot: Int32, hashBits: UInt32) {
        self.slot = slot
        self.hashBits = hashBits
    }

    @inlinable
    static var empty: Self { Self(slot: -1, hashBits: 0) }
}

extension TimerQueueStorage {
    @inlinable
    static func hash(timestamp: Int64, key: Key, namespace: Namespace) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(timestamp)
        hasher.combine(key)
        hasher.combine(namespace)
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }

    /// The bucket holding the timer, or else the empty bucket where it would be inserted.
    @inlinable
    func find(timestamp: Int64, key: Key, namespace: Namespace, hash: UInt32) -> (bucket: Int, found: Bool) {
        let mask = buckets.count - 1
        var index = Int(hash) & mask
        while true {
            let bucket = buckets[index]
            if bucket.slot < 0 { return (index, false) }
            if bucket.hashBits == hash, let timer = slots[Int(bucket.slot)],
               timer.timestamp == timestamp, timer.key == key, timer.namespace == namespace {
                return (index, true)
            }
            index = (index + 1) & mask
        }
    }

    /// The bucket that points at `slot`, which must be indexed.
    @inlinable
    func bucket(ofSlot slot: Int32, hashBits: UInt32) -> Int {
        let mask = buckets.count - 1
        var index = Int(hashBits) & mask
        while buckets[index].slot != slot {
            index = (index + 1) & mask
        }
        return index
    }

    /// Empties a bucket and shifts later members of its probe run back, so lookups never
    /// need tombstones.
    @inlinable
    mutating func removeBucket(at index: Int) {
        let mask = buckets.count - 1
        var hole = index
        var next = (index + 1) & mask
        while buckets[next].slot >= 0 {
            let home = Int(buckets[next].hashBits) & mask
            // Movable into the hole unless its home lies cyclically in (hole, next].
            if (next &- home) & mask >= (next &- hole) & mask {
                buckets[hole] = buckets[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        buckets[hole] = .empty
    }

    /// Doubles the index before it gets more than 3/4 full.
    /// - Returns: whether bucket positions changed.
    @inlinable
    mutating func growIfNeeded() -> Bool {
        guard (count + 1) * 4 > buckets.count * 3 else { return false }
        precondition(buckets.count <= Int(UInt32.max), "too many timers")
        let old = buckets
        buckets = [TimerQueueBucket](repeating: .empty, count: old.count * 2)
        let mask = buckets.count - 1
        for bucket in old where bucket.slot >= 0 {
            var index = Int(bucket.hashBits) & mask
            while buckets[index].slot >= 0 { index = (index + 1) & mask }
            buckets[index] = bucket
        }
        return true
    }
}
