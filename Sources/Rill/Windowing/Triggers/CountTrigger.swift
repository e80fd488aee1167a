/// Fires every time the window has received `maxCount` more elements (Flink's `CountTrigger`).
///
/// - `onElement`: counts; at `maxCount` resets the count and fires. It never purges, so the
///   window function sees everything since the window began (running results); wrap it in
///   ``PurgingTrigger`` for one result per `maxCount` elements.
/// - Timers: none. On a time window the count decides alone: the window never fires on time,
///   and whatever did not reach the count is dropped when the window is cleaned up. On
///   ``GlobalWindows`` the leftovers are never emitted, not even at the end of the input.
/// - Merges: counts add up.
public struct CountTrigger<Element, W: Window>: Trigger, _ArgumentChecked {
    public let maxCount: Int64
    @usableFromInline let argumentError: RillError?

    /// `maxCount` must be at least 1; otherwise building the job fails with a
    /// `RillError(.invalidConfiguration)` that says what to change.
    @inlinable
    public init(maxCount: Int64) {
        (self.maxCount, argumentError) = _WindowArguments.checking("CountTrigger") { $0.count(maxCount, "count", atLeast: 1) }
    }

    /// Fires every `maxCount` elements.
    @inlinable
    public static func of(_ maxCount: Int64) -> CountTrigger { CountTrigger(maxCount: maxCount) }

    @inlinable
    var count: ReducingStateDescriptor<Int64> { ReducingStateDescriptor(name: "count", reduceFunction: { $0 &+ $1 }) }

    public func onElement(_ element: Element, timestamp: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        // Job building reports this, unless a custom trigger wraps this one: then it fails here.
        if let argumentError { throw argumentError }
        let state = try context.getPartitionedState(count)
        try state.add(1)
        if let current = state.get(), current >= maxCount {
            state.clear()
            return .fire
        }
        return .continue
    }

    public func onEventTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult { .continue }

    public func onProcessingTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult { .continue }

    public func clear(window: W, context: TriggerContext<W>) throws {
        try context.getPartitionedState(count).clear()
    }

    public var canMerge: Bool { true }

    public func onMerge(window: W, context: OnMergeContext<W>) throws {
        try context.mergePartitionedState(count)
    }
}
