/// A finite group of elements of a keyed stream (Flink's `Window`): the unit that a window
/// operator keeps state for, fires and cleans up.
public protocol Window: Hashable, Sendable {
    /// The largest timestamp that still belongs to this window. Event-time windows fire when the
    /// watermark reaches it and are cleaned up at `maxTimestamp + allowedLateness`.
    var maxTimestamp: Int64 { get }
}

/// A window of event or processing time `[start, end)` (Flink's `TimeWindow`).
@frozen
public struct TimeWindow: Window, Codable, CustomStringConvertible {
    /// The first timestamp of the window (inclusive).
    public let start: Int64
    /// The first timestamp after the window (exclusive).
    public let end: Int64

    @inlinable
    public init(start: Int64, end: Int64) {
        self.start = start
        self.end = end
    }

    /// `end - 1`.
    @inlinable
    public var maxTimestamp: Int64 { end &- 1 }

    /// Whether the two windows overlap or touch (`[0, 5)` and `[5, 10)` intersect), which is
    /// when session windows merge.
    @inlinable
    public func intersects(_ other: TimeWindow) -> Bool {
        start <= other.end && end >= other.start
    }

    /// The smallest window that contains both.
    @inlinable
    public func cover(_ other: TimeWindow) -> TimeWindow {
        TimeWindow(start: Swift.min(start, other.start), end: Swift.max(end, other.end))
    }

    public var description: String { "TimeWindow{start=\(start), end=\(end)}" }

    /// The start of the window of size `windowSize` that contains `timestamp`, for windows
    /// aligned to `offset` (Flink's `getWindowStartWithOffset`; correct for negative
    /// timestamps and offsets).
    ///
    /// - Complexity: O(1).
    @inlinable
    public static func windowStart(timestamp: Int64, offset: Int64, windowSize: Int64) -> Int64 {
        let remainder = (timestamp &- offset) % windowSize
        return remainder < 0 ? timestamp &- (remainder &+ windowSize) : timestamp &- remainder
    }

    /// Groups overlapping (or touching) windows, as session windows merge: calls `merge` for
    /// every group of more than one distinct window with the group and the window covering it
    /// (Flink's `TimeWindow.mergeWindows`).
    ///
    /// - Complexity: O(n log n).
    public static func mergeWindows(_ windows: [TimeWindow], _ merge: (_ toBeMerged: [TimeWindow], _ mergeResult: TimeWindow) throws -> Void) rethrows {
        let sorted = windows.sorted { $0.start < $1.start }
        var groups: [(cover: TimeWindow, members: [TimeWindow])] = []
        for candidate in sorted {
            if let last = groups.last, last.cover.intersects(candidate) {
                groups[groups.count - 1].cover = last.cover.cover(candidate)
                if !groups[groups.count - 1].members.contains(candidate) {
                    groups[groups.count - 1].members.append(candidate)
                }
            } else {
                groups.append((candidate, [candidate]))
            }
        }
        for group in groups where group.members.count > 1 {
            try merge(group.members, group.cover)
        }
    }
}

/// The single window of ``GlobalWindows``: every element of a key belongs to it, and it never
/// ends (Flink's `GlobalWindow`).
@frozen
public struct GlobalWindow: Window, Codable, CustomStringConvertible {
    @inlinable public init() {}

    /// `Int64.max`: the global window has no end, so it is never late and never cleaned up.
    @inlinable public var maxTimestamp: Int64 { Int64.max }

    public var description: String { "GlobalWindow" }
}

extension TimeWindow: BinaryCodable {
    @inlinable
    public func encode(to writer: inout BinaryWriter) {
        writer.writeVarInt(start)
        writer.writeVarInt(end)
    }

    @inlinable
    public init(from reader: inout BinaryReader) throws {
        let start = try reader.readVarInt()
        self.init(start: start, end: try reader.readVarInt())
    }
}

extension GlobalWindow: BinaryCodable {
    // One byte: every encoded value must take space (see ``BinaryCodable``).
    @inlinable
    public func encode(to writer: inout BinaryWriter) { writer.writeByte(0) }

    @inlinable
    public init(from reader: inout BinaryReader) throws {
        _ = try reader.readByte()
        self.init()
    }
}
