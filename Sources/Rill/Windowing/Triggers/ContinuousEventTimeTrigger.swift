/// Fires repeatedly at an event-time interval, and at the end of the window (Flink's
/// `ContinuousEventTimeTrigger`).
///
/// - `onElement`: fires at once if the watermark is past `window.maxTimestamp`. Otherwise it
///   registers the end-of-window timer and, for the window's first element, the first interval
///   timer at `timestamp - timestamp % interval + interval`, capped at `maxTimestamp`.
/// - `onEventTime`: fires for the end-of-window timer; fires for the pending interval timer and
///   registers the next one (`time + interval`, capped at `maxTimestamp`). A watermark that
///   jumps ahead fires the whole chain, one result per interval. When an interval timer and
///   the end-of-window timer both come due, the window fires for each (repeated results are
///   Flink's behaviour). On a global window the final watermark of a bounded input fires the
///   pending interval once and the end-of-window timer once (Flink would fire every interval
///   up to `Int64.max`, which never ends).
/// - Never purges. Merges: the earliest pending fire time wins.
public struct ContinuousEventTimeTrigger<Element, W: Window>: Trigger, _ArgumentChecked {
    /// The firing interval in milliseconds.
    public let interval: Int64
    @usableFromInline let argumentError: RillError?

    /// `interval` must be at least 1 ms; otherwise building the job fails with a
    /// `RillError(.invalidConfiguration)` that says what to change.
    @inlinable
    public init(interval: Duration) {
        (self.interval, argumentError) = _WindowArguments.checking("ContinuousEventTimeTrigger") { $0.millis(interval, "interval", atLeast: 1) }
    }

    /// Fires every `interval` of event time.
    @inlinable
    public static func of(_ interval: Duration) -> ContinuousEventTimeTrigger { ContinuousEventTimeTrigger(interval: interval) }

    /// The pending fire time; on merge the earliest wins.
    @inlinable
    var fireTime: ReducingStateDescriptor<Int64> { ReducingStateDescriptor(name: "fire-time", reduceFunction: { Swift.min($0, $1) }) }

    public func onElement(_ element: Element, timestamp: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        // Job building reports this, unless a custom trigger wraps this one: then it fails here.
        if let argumentError { throw argumentError }
        if window.maxTimestamp <= context.currentWatermark {
            // The watermark is already past the window: fire at once.
            return .fire
        }
        context.registerEventTimeTimer(window.maxTimestamp)
        let state = try context.getPartitionedState(fireTime)
        if state.get() == nil {
            try registerNextFireTimestamp(timestamp - timestamp % interval, window: window, context: context, state: state)
        }
        return .continue
    }

    public func onEventTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        if time == window.maxTimestamp { return .fire }
        let state = try context.getPartitionedState(fireTime)
        if let pending = state.get(), pending == time {
            state.clear()
            // The final watermark of a bounded input on a window that never ends (a global
            // window): Flink would fire every interval up to Int64.max and never finish. Fire
            // once; the end-of-window timer fires the last time.
            if context.currentWatermark == Int64.max && window.maxTimestamp == Int64.max { return .fire }
            try registerNextFireTimestamp(time, window: window, context: context, state: state)
            return .fire
        }
        return .continue
    }

    public func onProcessingTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        .continue
    }

    public func clear(window: W, context: TriggerContext<W>) throws {
        let state = try context.getPartitionedState(fireTime)
        if let pending = state.get() {
            context.deleteEventTimeTimer(pending)
            state.clear()
        }
    }

    public var canMerge: Bool { true }

    public func onMerge(window: W, context: OnMergeContext<W>) throws {
        try context.mergePartitionedState(fireTime)
        if let next = try context.getPartitionedState(fireTime).get() {
            context.registerEventTimeTimer(next)
        }
    }

    func registerNextFireTimestamp(_ time: Int64, window: W, context: TriggerContext<W>,
                                   state: NamespacedReducingState<W, Int64>) throws {
        let (sum, overflow) = time.addingReportingOverflow(interval)
        let next = overflow ? window.maxTimestamp : Swift.min(sum, window.maxTimestamp)
        try state.add(next)
        context.registerEventTimeTimer(next)
    }
}
