/// Never fires (Flink's `GlobalWindows.NeverTrigger`, the default trigger of
/// ``GlobalWindows``): use `.trigger(...)` to say when a global window fires.
public struct NeverTrigger<Element, W: Window>: Trigger {
    @inlinable public init() {}

    public func onElement(_ element: Element, timestamp: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult { .continue }
    public func onEventTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult { .continue }
    public func onProcessingTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult { .continue }
    public func clear(window: W, context: TriggerContext<W>) throws {}
    public func onMerge(window: W, context: OnMergeContext<W>) throws {}
}

/// Fires the global window once, when the input ends (Flink 2's `GlobalWindows.EndOfStreamTrigger`,
/// the default trigger of ``GlobalWindows/createWithEndOfStreamTrigger()``).
///
/// Each element registers an event-time timer at `Int64.max`, which only the final watermark of
/// a bounded input reaches. An unbounded input never fires it.
public struct EndOfStreamTrigger<Element>: Trigger {
    public typealias W = GlobalWindow

    @inlinable public init() {}

    public func onElement(_ element: Element, timestamp: Int64, window: GlobalWindow, context: TriggerContext<GlobalWindow>) throws -> TriggerResult {
        context.registerEventTimeTimer(window.maxTimestamp)
        return .continue
    }

    public func onEventTime(_ time: Int64, window: GlobalWindow, context: TriggerContext<GlobalWindow>) throws -> TriggerResult {
        time == window.maxTimestamp ? .fire : .continue
    }

    public func onProcessingTime(_ time: Int64, window: GlobalWindow, context: TriggerContext<GlobalWindow>) throws -> TriggerResult { .continue }
    public func clear(window: GlobalWindow, context: TriggerContext<GlobalWindow>) throws {}
    public func onMerge(window: GlobalWindow, context: OnMergeContext<GlobalWindow>) throws {}
}
