/// Non-overlapping event-time windows of a fixed size, aligned to the epoch plus `offset`
/// (Flink's `TumblingEventTimeWindows`). Default trigger: ``EventTimeTrigger``.
///
/// With `reduce` or `aggregate`, no custom trigger, no evictor and no allowed lateness, the
/// windows are computed by slicing (one slice per window).
public struct TumblingEventTimeWindows<Element>: WindowAssigner, CustomStringConvertible, _ArgumentChecked {
    public typealias W = TimeWindow
    /// Window size in milliseconds.
    public let size: Int64
    /// Window alignment in milliseconds: windows start at `offset + k * size`.
    public let offset: Int64
    @usableFromInline let argumentError: RillError?

    /// `size` must be at least 1 ms and `abs(offset) < size`; otherwise building the job fails
    /// with a `RillError(.invalidConfiguration)` that says what to change.
    @inlinable
    public init(size: Duration, offset: Duration = .zero) {
        (self.size, self.offset, argumentError) = _WindowArguments.tumbling("TumblingEventTimeWindows", size: size, offset: offset)
    }

    /// Windows of `size`, starting at `offset + k * size` (for example `.seconds(3_600)` with an
    /// offset of `.seconds(900)` gives windows from 0:15 to 1:15, and so on).
    @inlinable
    public static func of(_ size: Duration, offset: Duration = .zero) -> TumblingEventTimeWindows {
        TumblingEventTimeWindows(size: size, offset: offset)
    }

    @inlinable
    public func assignWindows(_ element: Element, timestamp: Int64, context: WindowAssignerContext) throws -> [TimeWindow] {
        if let argumentError { throw argumentError }
        guard timestamp != StreamRecord<Element>.noTimestamp else { throw missingTimestampError("TumblingEventTimeWindows") }
        let start = TimeWindow.windowStart(timestamp: timestamp, offset: offset, windowSize: size)
        return [TimeWindow(start: start, end: start &+ size)]
    }

    @inlinable public var defaultTrigger: EventTimeTrigger<Element> { EventTimeTrigger() }
    @inlinable public var isEventTime: Bool { true }
    public var description: String { "TumblingEventTimeWindows(\(size))" }
}

/// Non-overlapping processing-time windows of a fixed size (Flink's
/// `TumblingProcessingTimeWindows`): an element belongs to the window of the processing time
/// at which it arrives. Default trigger: ``ProcessingTimeTrigger``.
public struct TumblingProcessingTimeWindows<Element>: WindowAssigner, CustomStringConvertible, _ArgumentChecked {
    public typealias W = TimeWindow
    public let size: Int64
    public let offset: Int64
    @usableFromInline let argumentError: RillError?

    /// `size` must be at least 1 ms and `abs(offset) < size`; otherwise building the job fails
    /// with a `RillError(.invalidConfiguration)` that says what to change.
    @inlinable
    public init(size: Duration, offset: Duration = .zero) {
        (self.size, self.offset, argumentError) = _WindowArguments.tumbling("TumblingProcessingTimeWindows", size: size, offset: offset)
    }

    @inlinable
    public static func of(_ size: Duration, offset: Duration = .zero) -> TumblingProcessingTimeWindows {
        TumblingProcessingTimeWindows(size: size, offset: offset)
    }

    @inlinable
    public func assignWindows(_ element: Element, timestamp: Int64, context: WindowAssignerContext) throws -> [TimeWindow] {
        if let argumentError { throw argumentError }
        let now = context.currentProcessingTime
        let start = TimeWindow.windowStart(timestamp: now, offset: offset, windowSize: size)
        return [TimeWindow(start: start, end: start &+ size)]
    }

    @inlinable public var defaultTrigger: ProcessingTimeTrigger<Element> { ProcessingTimeTrigger() }
    @inlinable public var isEventTime: Bool { false }
    public var description: String { "TumblingProcessingTimeWindows(\(size))" }
}
