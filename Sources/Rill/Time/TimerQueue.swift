/// The timers of one operator: a min-heap on timestamp, deduplicated per
/// `(timestamp, key, namespace)` like Flink's `InternalTimerService` queues, so registering
/// the same timer for every record of a window costs one hash lookup and fires once.
///
/// Timers with equal timestamps pop in registration order, so runs are deterministic.
/// A deleted timer leaves the hash index at once and the heap lazily, so deleting and
/// re-registering the same timer is safe and cheap.
///
/// Not thread-safe: owned by one task thread.
public final class TimerQueue<Key: Hashable, Namespace: Hashable> {
    /// One timer, as returned by ``popIfDue(upTo:)`` and ``allTimers``.
    public typealias Element = (timestamp: Int64, key: Key, namespace: Namespace)

    /// All state in one value, so each operation pays for one exclusivity check.
    @usableFromInline var storage = TimerQueueStorage<Key, Namespace>()

    public init() {}

    /// Number of registered timers.
    @inlinable public var count: Int { storage.count }

    @inlinable public var isEmpty: Bool { storage.count == 0 }

    /// The earliest registered timestamp, or `nil` when there are no timers.
    /// - Complexity: O(1).
    @inlinable public var peekTimestamp: Int64? { storage.heap.first?.timestamp }

    /// Registers a timer unless the same `(timestamp, key, namespace)` is already registered.
    /// - Returns: `true` if the timer is new.
    /// - Complexity: O(1) for a duplicate, O(log n) otherwise.
    @inlinable @discardableResult
    public func register(timestamp: Int64, key: Key, namespace: Namespace) -> Bool {
        storage.register(timestamp: timestamp, key: key, namespace: namespace)
    }

    /// Removes a registered timer.
    /// - Returns: `false` if no such timer was registered.
    /// - Complexity: amortized O(log n).
    @inlinable @discardableResult
    public func delete(timestamp: Int64, key: Key, namespace: Namespace) -> Bool {
        storage.delete(timestamp: timestamp, key: key, namespace: namespace)
    }

    /// Removes and returns the earliest timer if its timestamp is at or below `bound`;
    /// call repeatedly to fire everything a watermark or clock advance makes due.
    /// - Complexity: amortized O(log n).
    @inlinable
    public func popIfDue(upTo bound: Int64) -> Element? {
        storage.popIfDue(upTo: bound)
    }

    /// Visits every registered timer in unspecified order, for snapshots.
    /// - Complexity: O(n).
    @inlinable
    public func forEach(_ body: (Element) throws -> Void) rethrows {
        for case let slot? in storage.slots {
            try body((slot.timestamp, slot.key, slot.namespace))
        }
    }

    /// Every registered timer in unspecified order, for snapshots.
    /// - Complexity: O(n).
    public var allTimers: [Element] {
        var timers: [Element] = []
        timers.reserveCapacity(count)
        forEach { timers.append($0) }
        return timers
    }

    /// Removes every timer.
    /// - Complexity: O(n).
    public func removeAll() {
        storage = TimerQueueStorage()
    }
}
