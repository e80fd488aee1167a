/// Event-time session windows with a fixed gap (Flink's `EventTimeSessionWindows`): each
/// element opens the window `[timestamp, timestamp + gap)`, and windows of a key merge while
/// they overlap or touch, so a session ends after `gap` without elements. An out-of-order
/// element can bridge two sessions into one. Default trigger: ``EventTimeTrigger``.
public struct EventTimeSessionWindows<Element>: MergingWindowAssigner, CustomStringConvertible, _ArgumentChecked {
    public typealias W = TimeWindow
    /// The session gap in milliseconds.
    public let sessionTimeout: Int64
    @usableFromInline let argumentError: RillError?

    /// `gap` must be at least 1 ms; otherwise building the job fails with a
    /// `RillError(.invalidConfiguration)` that says what to change.
    @inlinable
    public init(gap: Duration) {
        (sessionTimeout, argumentError) = _WindowArguments.session("EventTimeSessionWindows", gap: gap)
    }

    @inlinable
    public static func withGap(_ gap: Duration) -> EventTimeSessionWindows { EventTimeSessionWindows(gap: gap) }

    /// Sessions whose gap depends on the element that opens each window (Flink's
    /// `DynamicEventTimeSessionWindows`).
    @inlinable
    public static func withDynamicGap(_ extractor: @escaping @Sendable (Element) -> Duration) -> DynamicEventTimeSessionWindows<Element> {
        DynamicEventTimeSessionWindows(extractor)
    }

    @inlinable
    public func assignWindows(_ element: Element, timestamp: Int64, context: WindowAssignerContext) throws -> [TimeWindow] {
        if let argumentError { throw argumentError }
        return [TimeWindow(start: timestamp, end: timestamp &+ sessionTimeout)]
    }

    public func mergeWindows(_ windows: [TimeWindow], _ merge: ([TimeWindow], TimeWindow) throws -> Void) rethrows {
        try TimeWindow.mergeWindows(windows, merge)
    }

    @inlinable public var defaultTrigger: EventTimeTrigger<Element> { EventTimeTrigger() }
    @inlinable public var isEventTime: Bool { true }
    public var description: String { "EventTimeSessionWindows(\(sessionTimeout))" }
}

/// Event-time sessions whose gap comes from each element (Flink's
/// `DynamicEventTimeSessionWindows`). A gap of zero or less fails the job, as in Flink.
public struct DynamicEventTimeSessionWindows<Element>: MergingWindowAssigner, CustomStringConvertible {
    public typealias W = TimeWindow
    public let gapExtractor: @Sendable (Element) -> Duration

    @inlinable
    public init(_ gapExtractor: @escaping @Sendable (Element) -> Duration) { self.gapExtractor = gapExtractor }

    @inlinable
    public func assignWindows(_ element: Element, timestamp: Int64, context: WindowAssignerContext) throws -> [TimeWindow] {
        let gap = try dynamicGapMillis(gapExtractor(element))
        return [TimeWindow(start: timestamp, end: timestamp &+ gap)]
    }

    public func mergeWindows(_ windows: [TimeWindow], _ merge: ([TimeWindow], TimeWindow) throws -> Void) rethrows {
        try TimeWindow.mergeWindows(windows, merge)
    }

    @inlinable public var defaultTrigger: EventTimeTrigger<Element> { EventTimeTrigger() }
    @inlinable public var isEventTime: Bool { true }
    public var description: String { "DynamicEventTimeSessionWindows()" }
}

/// Processing-time session windows with a fixed gap (Flink's `ProcessingTimeSessionWindows`):
/// each element opens `[now, now + gap)`. Default trigger: ``ProcessingTimeTrigger``.
public struct ProcessingTimeSessionWindows<Element>: MergingWindowAssigner, CustomStringConvertible, _ArgumentChecked {
    public typealias W = TimeWindow
    public let sessionTimeout: Int64
    @usableFromInline let argumentError: RillError?

    /// `gap` must be at least 1 ms; otherwise building the job fails with a
    /// `RillError(.invalidConfiguration)` that says what to change.
    @inlinable
    public init(gap: Duration) {
        (sessionTimeout, argumentError) = _WindowArguments.session("ProcessingTimeSessionWindows", gap: gap)
    }

    @inlinable
    public static func withGap(_ gap: Duration) -> ProcessingTimeSessionWindows { ProcessingTimeSessionWindows(gap: gap) }

    @inlinable
    public static func withDynamicGap(_ extractor: @escaping @Sendable (Element) -> Duration) -> DynamicProcessingTimeSessionWindows<Element> {
        DynamicProcessingTimeSessionWindows(extractor)
    }

    @inlinable
    public func assignWindows(_ element: Element, timestamp: Int64, context: WindowAssignerContext) throws -> [TimeWindow] {
        if let argumentError { throw argumentError }
        let now = context.currentProcessingTime
        return [TimeWindow(start: now, end: now &+ sessionTimeout)]
    }

    public func mergeWindows(_ windows: [TimeWindow], _ merge: ([TimeWindow], TimeWindow) throws -> Void) rethrows {
        try TimeWindow.mergeWindows(windows, merge)
    }

    @inlinable public var defaultTrigger: ProcessingTimeTrigger<Element> { ProcessingTimeTrigger() }
    @inlinable public var isEventTime: Bool { false }
    public var description: String { "ProcessingTimeSessionWindows(\(sessionTimeout))" }
}

/// Processing-time sessions whose gap comes from each element (Flink's
/// `DynamicProcessingTimeSessionWindows`).
public struct DynamicProcessingTimeSessionWindows<Element>: MergingWindowAssigner, CustomStringConvertible {
    public typealias W = TimeWindow
    public let gapExtractor: @Sendable (Element) -> Duration

    @inlinable
    public init(_ gapExtractor: @escaping @Sendable (Element) -> Duration) { self.gapExtractor = gapExtractor }

    @inlinable
    public func assignWindows(_ element: Element, timestamp: Int64, context: WindowAssignerContext) throws -> [TimeWindow] {
        let gap = try dynamicGapMillis(gapExtractor(element))
        let now = context.currentProcessingTime
        return [TimeWindow(start: now, end: now &+ gap)]
    }

    public func mergeWindows(_ windows: [TimeWindow], _ merge: ([TimeWindow], TimeWindow) throws -> Void) rethrows {
        try TimeWindow.mergeWindows(windows, merge)
    }

    @inlinable public var defaultTrigger: ProcessingTimeTrigger<Element> { ProcessingTimeTrigger() }
    @inlinable public var isEventTime: Bool { false }
    public var description: String { "DynamicProcessingTimeSessionWindows()" }
}

/// A dynamic session gap in milliseconds; the job fails if it is not at least 1 ms, as in Flink.
@inlinable
func dynamicGapMillis(_ gap: Duration) throws -> Int64 {
    guard let millis = gap.checkedMilliseconds, millis > 0 else {
        throw RillError(.userFunctionFailed,
                        "the dynamic session gap extractor returned \(gap); a session gap must be at least 1 ms and fit in 64-bit milliseconds")
    }
    return millis
}
