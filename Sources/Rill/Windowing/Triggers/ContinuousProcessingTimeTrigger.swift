/// Fires repeatedly at a processing-time interval (Flink's `ContinuousProcessingTimeTrigger`).
///
/// - `onElement`: for the window's first element, registers a processing-time timer at the
///   next multiple of `interval` after the current processing time, capped at
///   `window.maxTimestamp`.
/// - `onProcessingTime`: fires for the pending timer and registers the next one
///   (`time + interval`, capped at `maxTimestamp`); the firing at `maxTimestamp` ends the chain.
/// - Never purges. Merges: the earliest pending fire time wins.
public struct ContinuousProcessingTimeTrigger<Element, W: Window>: Trigger, _ArgumentChecked {
    /// The firing interval in milliseconds.
    public let interval: Int64
    @usableFromInline let argumentError: RillError?

    /// `interval` must be at least 1 ms; otherwise building the job fails with a
    /// `RillError(.invalidConfiguration)` that says what to change.
    @inlinable
    public init(interval: Duration) {
        (self.interval, argumentError) = _WindowArguments.checking("ContinuousProcessingTimeTrigger") { $0.millis(interval, "interval", atLeast: 1) }
    }

    /// Fires every `interval` of processing time.
    @inlinable
    public static func of(_ interval: Duration) -> ContinuousProcessingTimeTrigger { ContinuousProcessingTimeTrigger(interval: interval) }

    @inlinable
    var fireTime: ReducingStateDescriptor<Int64> { ReducingStateDescriptor(name: "fire-time", reduceFunction: { Swift.min($0, $1) }) }

    public func onElement(_ element: Element, timestamp: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        // Job building reports this, unless a custom trigger wraps this one: then it fails here.
        if let argumentError { throw argumentError }
        let state = try context.getPartitionedState(fireTime)
        let now = context.currentProcessingTime
        if state.get() == nil {
            try registerNextFireTimestamp(now - now % interval, window: window, context: context, state: state)
        }
        return .continue
    }

    public func onEventTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        .continue
    }

    public func onProcessingTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        let state = try context.getPartitionedState(fireTime)
        if let pending = state.get(), pending == time {
            state.clear()
            // At the window's end the chain is over. (Flink registers the same timer again,
            // which fires forever when processing time is past the end of an event-time
            // window, as when replaying old data.)
            if time == window.maxTimestamp { return .fire }
            try registerNextFireTimestamp(time, window: window, context: context, state: state)
            return .fire
        }
        return .continue
    }

    public func clear(window: W, context: TriggerContext<W>) throws {
        let state = try context.getPartitionedState(fireTime)
        if let pending = state.get() {
            context.deleteProcessingTimeTimer(pending)
            state.clear()
        }
    }

    public var canMerge: Bool { true }

    public func onMerge(window: W, context: OnMergeContext<W>) throws {
        try context.mergePartitionedState(fireTime)
        if let next = try context.getPartitionedState(fireTime).get() {
            context.registerProcessingTimeTimer(next)
        }
    }

    func registerNextFireTimestamp(_ time: Int64, window: W, context: TriggerContext<W>,
                                   state: NamespacedReducingState<W, Int64>) throws {
        let (sum, overflow) = time.addingReportingOverflow(interval)
        let next = overflow ? window.maxTimestamp : Swift.min(sum, window.maxTimestamp)
        try state.add(next)
        context.registerProcessingTimeTimer(next)
    }
}
