/// Overlapping event-time windows of a fixed size that start every `slide` (Flink's
/// `SlidingEventTimeWindows`). Each element belongs to `size / slide` windows (rounded up when
/// `slide` does not divide `size`), and windows may start before 0. Default trigger:
/// ``EventTimeTrigger``.
///
/// With `reduce` or `aggregate`, no custom trigger, no evictor and no allowed lateness, the
/// windows are computed by slicing: each element updates one slice of `gcd(size, slide)`,
/// and a window's result combines its slices.
public struct SlidingEventTimeWindows<Element>: WindowAssigner, CustomStringConvertible, _ArgumentChecked {
    public typealias W = TimeWindow
    /// Window size in milliseconds.
    public let size: Int64
    /// Distance between window starts in milliseconds.
    public let slide: Int64
    /// Window alignment: windows start at `offset + k * slide`.
    public let offset: Int64
    @usableFromInline let argumentError: RillError?

    /// `size` and `slide` must be at least 1 ms and `abs(offset) < slide`; otherwise building
    /// the job fails with a `RillError(.invalidConfiguration)` that says what to change.
    @inlinable
    public init(size: Duration, slide: Duration, offset: Duration = .zero) {
        (self.size, self.slide, self.offset, argumentError) = _WindowArguments.sliding(
            "SlidingEventTimeWindows", size: size, slide: slide, offset: offset)
    }

    @inlinable
    public static func of(_ size: Duration, _ slide: Duration, offset: Duration = .zero) -> SlidingEventTimeWindows {
        SlidingEventTimeWindows(size: size, slide: slide, offset: offset)
    }

    /// The windows, latest start first (Flink's order).
    @inlinable
    public func assignWindows(_ element: Element, timestamp: Int64, context: WindowAssignerContext) throws -> [TimeWindow] {
        if let argumentError { throw argumentError }
        guard timestamp != StreamRecord<Element>.noTimestamp else { throw missingTimestampError("SlidingEventTimeWindows") }
        return slidingWindows(containing: timestamp, size: size, slide: slide, offset: offset)
    }

    @inlinable public var defaultTrigger: EventTimeTrigger<Element> { EventTimeTrigger() }
    @inlinable public var isEventTime: Bool { true }
    public var description: String { "SlidingEventTimeWindows(\(size), \(slide))" }
}

/// Overlapping processing-time windows (Flink's `SlidingProcessingTimeWindows`). Default
/// trigger: ``ProcessingTimeTrigger``.
public struct SlidingProcessingTimeWindows<Element>: WindowAssigner, CustomStringConvertible, _ArgumentChecked {
    public typealias W = TimeWindow
    public let size: Int64
    public let slide: Int64
    public let offset: Int64
    @usableFromInline let argumentError: RillError?

    /// `size` and `slide` must be at least 1 ms and `abs(offset) < slide`; otherwise building
    /// the job fails with a `RillError(.invalidConfiguration)` that says what to change.
    @inlinable
    public init(size: Duration, slide: Duration, offset: Duration = .zero) {
        (self.size, self.slide, self.offset, argumentError) = _WindowArguments.sliding(
            "SlidingProcessingTimeWindows", size: size, slide: slide, offset: offset)
    }

    @inlinable
    public static func of(_ size: Duration, _ slide: Duration, offset: Duration = .zero) -> SlidingProcessingTimeWindows {
        SlidingProcessingTimeWindows(size: size, slide: slide, offset: offset)
    }

    @inlinable
    public func assignWindows(_ element: Element, timestamp: Int64, context: WindowAssignerContext) throws -> [TimeWindow] {
        if let argumentError { throw argumentError }
        return slidingWindows(containing: context.currentProcessingTime, size: size, slide: slide, offset: offset)
    }

    @inlinable public var defaultTrigger: ProcessingTimeTrigger<Element> { ProcessingTimeTrigger() }
    @inlinable public var isEventTime: Bool { false }
    public var description: String { "SlidingProcessingTimeWindows(\(size), \(slide))" }
}

/// The sliding windows that contain `timestamp`, latest start first.
@inlinable
func slidingWindows(containing timestamp: Int64, size: Int64, slide: Int64, offset: Int64) -> [TimeWindow] {
    var windows: [TimeWindow] = []
    windows.reserveCapacity(Int((size + slide - 1) / slide))
    var start = TimeWindow.windowStart(timestamp: timestamp, offset: offset, windowSize: slide)
    while start > timestamp &- size {
        windows.append(TimeWindow(start: start, end: start &+ size))
        start = start &- slide
    }
    return windows
}
