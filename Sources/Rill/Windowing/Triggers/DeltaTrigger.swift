/// Measures the distance between two elements (Flink's `DeltaFunction`).
public typealias DeltaFunction<T> = @Sendable (_ oldDataPoint: T, _ newDataPoint: T) -> Double

/// Fires when an element is far enough from the element of the last firing (Flink's
/// `DeltaTrigger`).
///
/// - `onElement`: the window's first element is only stored. Later elements fire when
///   `deltaFunction(stored, element) > threshold` (strictly), and then become the stored one.
/// - Never purges, registers no timers, does not support merging windows.
public struct DeltaTrigger<Element, W: Window>: Trigger {
    public let threshold: Double
    public let deltaFunction: DeltaFunction<Element>

    @inlinable
    public init(threshold: Double, deltaFunction: @escaping DeltaFunction<Element>) {
        self.threshold = threshold
        self.deltaFunction = deltaFunction
    }

    /// Fires when `deltaFunction(last fired element, element) > threshold`.
    @inlinable
    public static func of(_ threshold: Double, _ deltaFunction: @escaping DeltaFunction<Element>) -> DeltaTrigger {
        DeltaTrigger(threshold: threshold, deltaFunction: deltaFunction)
    }

    @inlinable
    var lastElement: ValueStateDescriptor<Element> { ValueStateDescriptor(name: "last-element") }

    public func onElement(_ element: Element, timestamp: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        let state = try context.getPartitionedState(lastElement)
        guard let last = state.value() else {
            state.update(element)
            return .continue
        }
        if deltaFunction(last, element) > threshold {
            state.update(element)
            return .fire
        }
        return .continue
    }

    public func onEventTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult { .continue }

    public func onProcessingTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult { .continue }

    public func clear(window: W, context: TriggerContext<W>) throws {
        try context.getPartitionedState(lastElement).clear()
    }
}
