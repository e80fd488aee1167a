/// The key index of a ``KeyedStateBackend``: an open-addressing hash table (linear probing,
/// backward-shift deletion, no tombstones) that maps a key to its dense slot number.
///
/// Each bucket stores `[stableHash: Int32][slot: Int32][key: K]` inline, so a hit touches
/// one cache line. `slot == 0` marks an empty bucket (slot 0 is the backend's "no slot"
/// sentinel and is never stored). The bucket index is a Fibonacci hash of the full 32-bit
/// stable hash, independent of the key group (a subtask's keys all share a few key groups,
/// so the murmur/key-group bits would cluster).
///
/// The owner calls ``destroy()`` exactly once.
@usableFromInline
struct _KeyTable<K: StableHashable> {
    @usableFromInline var buckets: UnsafeMutableRawPointer
    /// `bucketCount - 1`; `bucketCount` is a power of two.
    @usableFromInline var mask: Int
    /// `64 - log2(bucketCount)`.
    @usableFromInline var shift: UInt64
    @usableFromInline var count: Int

    @inlinable static var keyOffset: Int {
        let align = MemoryLayout<K>.alignment
        return (8 + align - 1) / align * align
    }

    @inlinable static var stride: Int {
        let align = Swift.max(MemoryLayout<K>.alignment, 4)
        return (keyOffset + MemoryLayout<K>.size + align - 1) / align * align
    }

    @inlinable static var alignment: Int { Swift.max(MemoryLayout<K>.alignment, 4) }

    @usableFromInline
    init(bucketCount: Int = 16) {
        precondition(bucketCount >= 2 && bucketCount & (bucketCount - 1) == 0)
        buckets = Self.allocateBuckets(bucketCount)
        mask = bucketCount - 1
        shift = UInt64(64 - bucketCount.trailingZeroBitCount)
        count = 0
    }

    static func allocateBuckets(_ bucketCount: Int) -> UnsafeMutableRawPointer {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: bucketCount * stride, alignment: alignment)
        for index in 0..<bucketCount {
            (memory + index * stride).storeBytes(of: 0, toByteOffset: 4, as: Int32.self)
        }
        return memory
    }

    @usableFromInline var bucketCount: Int { mask + 1 }

    @inlinable
    func uncheckedHome(_ hash: Int32) -> Int {
        Int(truncatingIfNeeded: (UInt64(UInt32(bitPattern: hash)) &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    @inlinable
    func uncheckedBucket(_ index: Int) -> UnsafeMutableRawPointer { buckets + index &* Self.stride }

    @inlinable
    static func slot(of bucket: UnsafeMutableRawPointer) -> Int32 {
        bucket.load(fromByteOffset: 4, as: Int32.self)
    }

    @inlinable
    static func hash(of bucket: UnsafeMutableRawPointer) -> Int32 {
        bucket.load(as: Int32.self)
    }

    @inlinable
    static func key(of bucket: UnsafeMutableRawPointer) -> UnsafeMutablePointer<K> {
        (bucket + keyOffset).assumingMemoryBound(to: K.self)
    }

    /// The slot of `key`, or 0 when it is absent.
    ///
    /// - Complexity: O(1) expected.
    @inlinable @inline(__always)
    func find(_ key: K, hash: Int32) -> Int32 {
        var index = uncheckedHome(hash)
        while true {
            let bucket = uncheckedBucket(index)
            let slot = Self.slot(of: bucket)
            if slot == 0 { return 0 }
            if Self.hash(of: bucket) == hash && Self.key(of: bucket).pointee == key { return slot }
            index = (index &+ 1) & mask
        }
    }

    /// Inserts a key that is not in the table.
    ///
    /// - Complexity: O(1) amortized.
    @usableFromInline
    mutating func insert(_ key: K, hash: Int32, slot: Int32) {
        precondition(slot != 0)
        if (count + 1) * 4 > bucketCount * 3 { resize(to: bucketCount * 2) }
        var index = uncheckedHome(hash)
        while Self.slot(of: uncheckedBucket(index)) != 0 { index = (index &+ 1) & mask }
        let bucket = uncheckedBucket(index)
        bucket.storeBytes(of: hash, as: Int32.self)
        bucket.storeBytes(of: slot, toByteOffset: 4, as: Int32.self)
        (bucket + Self.keyOffset).initializeMemory(as: K.self, repeating: key, count: 1)
        count += 1
    }

    /// Removes `key`; returns its slot (0 when absent).
    ///
    /// - Complexity: O(1) expected.
    @usableFromInline
    mutating func remove(_ key: K, hash: Int32) -> Int32 {
        var index = uncheckedHome(hash)
        var bucket = uncheckedBucket(index)
        while true {
            let slot = Self.slot(of: bucket)
            if slot == 0 { return 0 }
            if Self.hash(of: bucket) == hash && Self.key(of: bucket).pointee == key { break }
            index = (index &+ 1) & mask
            bucket = uncheckedBucket(index)
        }
        let removedSlot = Self.slot(of: bucket)
        Self.key(of: bucket).deinitialize(count: 1)
        // Backward shift: pull later members of the probe run into the hole when their home
        // position does not lie cyclically in (hole, position].
        var hole = index
        var next = (index &+ 1) & mask
        while true {
            let candidate = uncheckedBucket(next)
            if Self.slot(of: candidate) == 0 { break }
            let home = uncheckedHome(Self.hash(of: candidate))
            if (next &- home) & mask >= (next &- hole) & mask {
                let holeBucket = uncheckedBucket(hole)
                holeBucket.storeBytes(of: Self.hash(of: candidate), as: Int32.self)
                holeBucket.storeBytes(of: Self.slot(of: candidate), toByteOffset: 4, as: Int32.self)
                Self.key(of: holeBucket).moveInitialize(from: Self.key(of: candidate), count: 1)
                hole = next
            }
            next = (next &+ 1) & mask
        }
        uncheckedBucket(hole).storeBytes(of: 0, toByteOffset: 4, as: Int32.self)
        count -= 1
        return removedSlot
    }

    mutating func resize(to newBucketCount: Int) {
        let old = buckets
        let oldCount = bucketCount
        buckets = Self.allocateBuckets(newBucketCount)
        mask = newBucketCount - 1
        shift = UInt64(64 - newBucketCount.trailingZeroBitCount)
        for oldIndex in 0..<oldCount {
            let from = old + oldIndex * Self.stride
            let slot = Self.slot(of: from)
            if slot == 0 { continue }
            let hash = Self.hash(of: from)
            var index = uncheckedHome(hash)
            while Self.slot(of: uncheckedBucket(index)) != 0 { index = (index &+ 1) & mask }
            let to = uncheckedBucket(index)
            to.storeBytes(of: hash, as: Int32.self)
            to.storeBytes(of: slot, toByteOffset: 4, as: Int32.self)
            Self.key(of: to).moveInitialize(from: Self.key(of: from), count: 1)
        }
        old.deallocate()
    }

    /// Removes every key and shrinks back to the initial size.
    @usableFromInline
    mutating func removeAll() {
        destroy()
        self = _KeyTable()
    }

    @usableFromInline
    func destroy() {
        for index in 0..<bucketCount {
            let bucket = uncheckedBucket(index)
            if Self.slot(of: bucket) != 0 { Self.key(of: bucket).deinitialize(count: 1) }
        }
        buckets.deallocate()
    }
}
