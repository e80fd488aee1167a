/// A contiguous, inclusive range of key groups `start...end`, as in Flink's `KeyGroupRange`.
/// The empty range is `start = 0, end = -1`.
///
/// Iterating yields the key-group indices in order.
public struct KeyGroupRange: Hashable, Sendable, RandomAccessCollection, CustomStringConvertible {
    /// The first key group (inclusive).
    public let start: Int
    /// The last key group (inclusive); `start - 1` when empty.
    public let end: Int

    /// The empty range.
    public static let empty = KeyGroupRange(uncheckedStart: 0, end: -1)

    /// - Precondition: `0 <= start <= end`.
    public init(start: Int, end: Int) {
        precondition(start >= 0 && start <= end, "a key-group range needs 0 <= start <= end, got \(start)...\(end)")
        self.start = start
        self.end = end
    }

    @usableFromInline
    init(uncheckedStart start: Int, end: Int) {
        self.start = start
        self.end = end
    }

    /// Every key group of a job with `maxParallelism` key groups: `0...maxParallelism-1`.
    public static func all(maxParallelism: Int) -> KeyGroupRange {
        maxParallelism > 0 ? KeyGroupRange(start: 0, end: maxParallelism - 1) : .empty
    }

    public var startIndex: Int { start }
    public var endIndex: Int { end + 1 }
    public subscript(position: Int) -> Int {
        precondition(position >= start && position <= end, "key group \(position) is outside \(self)")
        return position
    }

    /// The number of key groups in the range (Flink's `getNumberOfKeyGroups`).
    public var count: Int { end - start + 1 }

    /// - Complexity: O(1).
    @inlinable
    public func contains(_ keyGroup: Int) -> Bool { keyGroup >= start && keyGroup <= end }

    /// The key groups in both ranges (empty when they do not overlap).
    public func intersection(_ other: KeyGroupRange) -> KeyGroupRange {
        let lower = Swift.max(start, other.start)
        let upper = Swift.min(end, other.end)
        return lower <= upper ? KeyGroupRange(start: lower, end: upper) : .empty
    }

    public var description: String { isEmpty ? "KeyGroupRange(empty)" : "KeyGroupRange(\(start)...\(end))" }
}
