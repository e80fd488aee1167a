/// Adds a processing-time timeout to another trigger (Flink's `ProcessingTimeoutTrigger`).
///
/// - `onElement`: asks the nested trigger first; if it fires, the timeout is cleared (and, as in
///   Flink, so is the nested trigger's state) and its result returned. Otherwise the first
///   element of the window (every element with `resetTimerOnNewRecord`) registers a
///   processing-time timer `timeout` from now.
/// - `onProcessingTime` and `onEventTime`: **any** timer of the window fires it — the timeout,
///   and also the nested trigger's own timers. The nested trigger is called first; if it asked
///   to purge the result is `fireAndPurge`, else `fire`. With `shouldClearOnTimeout` (the
///   default) the trigger then clears its own and the nested trigger's state.
/// - Does not support merging windows.
public struct ProcessingTimeoutTrigger<Nested: Trigger>: Trigger, _ArgumentChecked {
    public typealias Element = Nested.Element
    public typealias W = Nested.W

    public let nestedTrigger: Nested
    /// The timeout in milliseconds.
    public let interval: Int64
    public let resetTimerOnNewRecord: Bool
    public let shouldClearOnTimeout: Bool
    @usableFromInline let argumentError: RillError?

    /// `timeout` must fit in 64-bit milliseconds, and `nestedTrigger`'s arguments must be
    /// valid; otherwise building the job fails with a `RillError(.invalidConfiguration)` that
    /// says what to change.
    @inlinable
    public init(_ nestedTrigger: Nested, timeout: Duration, resetTimerOnNewRecord: Bool = false,
                shouldClearOnTimeout: Bool = true) {
        self.nestedTrigger = nestedTrigger
        (interval, argumentError) = _WindowArguments.checking("ProcessingTimeoutTrigger") {
            $0.include(nestedTrigger)
            return $0.millis(timeout, "timeout")
        }
        self.resetTimerOnNewRecord = resetTimerOnNewRecord
        self.shouldClearOnTimeout = shouldClearOnTimeout
    }

    /// Fires when `nestedTrigger` fires or `timeout` of processing time after the window's
    /// first element.
    @inlinable
    public static func of(_ nestedTrigger: Nested, _ timeout: Duration, resetTimerOnNewRecord: Bool = false,
                          shouldClearOnTimeout: Bool = true) -> ProcessingTimeoutTrigger {
        ProcessingTimeoutTrigger(nestedTrigger, timeout: timeout, resetTimerOnNewRecord: resetTimerOnNewRecord,
                                 shouldClearOnTimeout: shouldClearOnTimeout)
    }

    @inlinable
    var timeoutState: ValueStateDescriptor<Int64> { ValueStateDescriptor(name: "timeout") }

    public func onElement(_ element: Element, timestamp: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        // Job building reports this, unless a custom trigger wraps this one: then it fails here.
        if let argumentError { throw argumentError }
        let result = try nestedTrigger.onElement(element, timestamp: timestamp, window: window, context: context)
        if result.isFire {
            try clear(window: window, context: context)
            return result
        }
        let state = try context.getPartitionedState(timeoutState)
        let next = context.currentProcessingTime &+ interval
        var pending = state.value()
        if let timeout = pending, resetTimerOnNewRecord {
            context.deleteProcessingTimeTimer(timeout)
            state.clear()
            pending = nil
        }
        if pending == nil {
            state.update(next)
            context.registerProcessingTimeTimer(next)
        }
        return result
    }

    public func onProcessingTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        let result = try nestedTrigger.onProcessingTime(time, window: window, context: context)
        if shouldClearOnTimeout { try clear(window: window, context: context) }
        return result.isPurge ? .fireAndPurge : .fire
    }

    public func onEventTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        let result = try nestedTrigger.onEventTime(time, window: window, context: context)
        if shouldClearOnTimeout { try clear(window: window, context: context) }
        return result.isPurge ? .fireAndPurge : .fire
    }

    public func clear(window: W, context: TriggerContext<W>) throws {
        let state = try context.getPartitionedState(timeoutState)
        if let timeout = state.value() {
            context.deleteProcessingTimeTimer(timeout)
            state.clear()
        }
        try nestedTrigger.clear(window: window, context: context)
    }
}
