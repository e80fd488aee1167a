/// Assigns each element to zero or more windows (Flink's `WindowAssigner`).
///
/// The built-in assigners are generic over the element type only so that a dynamic session gap
/// can read elements; the type is inferred where the assigner is used:
/// `keyed.window(TumblingEventTimeWindows.of(.seconds(5)))`.
public protocol WindowAssigner<Element, W>: Sendable {
    associatedtype Element
    associatedtype W: Window
    /// The trigger used unless ``WindowedStream/trigger(_:)`` replaces it.
    associatedtype DefaultTrigger: Trigger where DefaultTrigger.Element == Element, DefaultTrigger.W == W

    /// The windows `element` (with event timestamp `timestamp`) belongs to.
    func assignWindows(_ element: Element, timestamp: Int64, context: WindowAssignerContext) throws -> [W]
    /// The trigger that fires this assigner's windows by default.
    var defaultTrigger: DefaultTrigger { get }
    /// Whether windows are in event time: only then do watermarks make windows late and
    /// `allowedLateness` apply.
    var isEventTime: Bool { get }
}

/// An assigner whose windows can merge, as session windows do (Flink's `MergingWindowAssigner`).
public protocol MergingWindowAssigner<Element, W>: WindowAssigner {
    /// Reports each group of `windows` that must become one window: `merge(group, result)`.
    func mergeWindows(_ windows: [W], _ merge: (_ toBeMerged: [W], _ mergeResult: W) throws -> Void) rethrows
}

/// What an assigner may read of its operator (Flink's `WindowAssignerContext`).
public final class WindowAssignerContext {
    @usableFromInline let timeService: ProcessingTimeService

    @usableFromInline init(timeService: ProcessingTimeService) { self.timeService = timeService }

    /// The current processing time in milliseconds (processing-time assigners use it instead
    /// of the element's timestamp).
    public var currentProcessingTime: Int64 { timeService.currentTime }
}

@usableFromInline
func missingTimestampError(_ assigner: String) -> RillError {
    RillError(.userFunctionFailed,
              "\(assigner) got a record without an event timestamp; give the source a WatermarkStrategy with a timestamp assigner (or call assignTimestampsAndWatermarks), or use a processing-time assigner")
}
