/// A heap entry; ordered by `(timestamp, sequence)`, so equal timestamps pop in registration
/// order. `hashBits` (free in the padding) lets a pop find the timer's bucket without waiting
/// for its slot to load.
@usableFromInline
struct TimerQueueHeapItem {
    @usableFromInline var timestamp: Int64
    @usableFromInline var sequence: UInt64
    @usableFromInline var slot: Int32
    @usableFromInline var hashBits: UInt32

    @inlinable
    init(timestamp: Int64, sequence: UInt64, slot: Int32, hashBits: UInt32) {
        self.timestamp = timestamp
        self.sequence = sequence
        self.slot = slot
        self.hashBits = hashBits
    }

    @inlinable
    func precedes(_ other: Self) -> Bool {
        timestamp < other.timestamp || (timestamp == other.timestamp && sequence < other.sequence)
    }
}

extension TimerQueueStorage {
    /// Children per heap node. Measured: 4 or 8 were no faster than 2 with a million timers.
    @inlinable static var arity: Int { 2 }

    @inlinable
    mutating func pushHeap(_ item: TimerQueueHeapItem) {
        heap.append(item)
        heap.withUnsafeMutableBufferPointer { items in
            var hole = items.count - 1
            while hole > 0 {
                let parent = (hole - 1) / Self.arity
                guard item.precedes(items[parent]) else { break }
                items[hole] = items[parent]
                hole = parent
            }
            items[hole] = item
        }
    }

    /// Removes the top item, live or stale.
    @inlinable
    mutating func removeHeapTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap.withUnsafeMutableBufferPointer { items in
            Self.siftDown(last, from: 0, in: items)
        }
    }

    /// Puts `item` into the hole at `start` and moves it down to its place.
    @inlinable
    static func siftDown(_ item: TimerQueueHeapItem, from start: Int, in items: UnsafeMutableBufferPointer<TimerQueueHeapItem>) {
        let count = items.count
        var hole = start
        while true {
            let first = Self.arity * hole + 1
            if first >= count { break }
            var best = first
            var child = first + 1
            let end = Swift.min(first + Self.arity, count)
            while child < end {
                if items[child].precedes(items[best]) { best = child }
                child += 1
            }
            guard items[best].precedes(item) else { break }
            items[hole] = items[best]
            hole = best
        }
        items[hole] = item
    }

    /// Keeps the heap's top live, so `peekTimestamp` and `popIfDue` see only live timers.
    @inlinable
    mutating func dropStaleTop() {
        while heap.count > count, let top = heap.first, !isLive(top) {
            removeHeapTop()
        }
    }

    /// Drops every stale item and restores the heap order.
    /// - Complexity: O(n).
    @inlinable
    mutating func rebuildHeap() {
        let slots = self.slots
        heap.removeAll { slots[Int($0.slot)]?.sequence != $0.sequence }
        heap.withUnsafeMutableBufferPointer { items in
            guard items.count > 1 else { return }
            for index in stride(from: (items.count - 2) / Self.arity, through: 0, by: -1) {
                Self.siftDown(items[index], from: index, in: items)
            }
        }
    }
}
