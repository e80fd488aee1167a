/// Fires once processing time passes the end of the window (Flink's `ProcessingTimeTrigger`,
/// the default trigger of processing-time assigners).
///
/// - `onElement`: registers a processing-time timer at `window.maxTimestamp`.
/// - `onProcessingTime`: fires (any of its timers). Never purges; the operator cleans the
///   window up at `maxTimestamp`.
/// - Merges: registers the merged window's timer if processing time has not passed it.
public struct ProcessingTimeTrigger<Element>: Trigger {
    public typealias W = TimeWindow

    @inlinable public init() {}

    /// Flink's spelling of ``init()``.
    @inlinable public static func create() -> ProcessingTimeTrigger { ProcessingTimeTrigger() }

    public func onElement(_ element: Element, timestamp: Int64, window: TimeWindow, context: TriggerContext<TimeWindow>) throws -> TriggerResult {
        context.registerProcessingTimeTimer(window.maxTimestamp)
        return .continue
    }

    public func onEventTime(_ time: Int64, window: TimeWindow, context: TriggerContext<TimeWindow>) throws -> TriggerResult {
        .continue
    }

    public func onProcessingTime(_ time: Int64, window: TimeWindow, context: TriggerContext<TimeWindow>) throws -> TriggerResult {
        .fire
    }

    public var canMerge: Bool { true }

    public func onMerge(window: TimeWindow, context: OnMergeContext<TimeWindow>) throws {
        if window.maxTimestamp > context.currentProcessingTime {
            context.registerProcessingTimeTimer(window.maxTimestamp)
        }
    }

    public func clear(window: TimeWindow, context: TriggerContext<TimeWindow>) throws {
        context.deleteProcessingTimeTimer(window.maxTimestamp)
    }
}
