/// Fires once the watermark passes the end of the window (Flink's `EventTimeTrigger`, the
/// default trigger of event-time assigners).
///
/// - `onElement`: fires at once if the watermark is already at or past `window.maxTimestamp`
///   (an element allowed in by `allowedLateness`); otherwise registers an event-time timer at
///   `maxTimestamp`.
/// - `onEventTime`: fires for the timer at `maxTimestamp`. Never purges: the window operator
///   cleans the window up at `maxTimestamp + allowedLateness`.
/// - Merges (sessions): registers the merged window's timer if the watermark has not passed it.
public struct EventTimeTrigger<Element>: Trigger {
    public typealias W = TimeWindow

    @inlinable public init() {}

    /// Flink's spelling of ``init()``.
    @inlinable public static func create() -> EventTimeTrigger { EventTimeTrigger() }

    public func onElement(_ element: Element, timestamp: Int64, window: TimeWindow, context: TriggerContext<TimeWindow>) throws -> TriggerResult {
        if window.maxTimestamp <= context.currentWatermark { return .fire }
        context.registerEventTimeTimer(window.maxTimestamp)
        return .continue
    }

    public func onEventTime(_ time: Int64, window: TimeWindow, context: TriggerContext<TimeWindow>) throws -> TriggerResult {
        time == window.maxTimestamp ? .fire : .continue
    }

    public func onProcessingTime(_ time: Int64, window: TimeWindow, context: TriggerContext<TimeWindow>) throws -> TriggerResult {
        .continue
    }

    public var canMerge: Bool { true }

    public func onMerge(window: TimeWindow, context: OnMergeContext<TimeWindow>) throws {
        // Only while the watermark is before the merged window's end: otherwise onElement fires
        // it, and a timer would fire it a second time.
        if window.maxTimestamp > context.currentWatermark {
            context.registerEventTimeTimer(window.maxTimestamp)
        }
    }

    public func clear(window: TimeWindow, context: TriggerContext<TimeWindow>) throws {
        context.deleteEventTimeTimer(window.maxTimestamp)
    }
}
