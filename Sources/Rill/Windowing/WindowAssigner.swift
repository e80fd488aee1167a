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

/// The arguments of a built-in assigner, checked as Flink's constructors check them. Flink
/// throws `IllegalArgumentException` from the constructor; an initializer here cannot throw
/// without breaking every call site, so the assigner keeps the first violation, and building
/// the job (``StreamEnvironment/execute(_:)``, `executeAsync`, `explain`) fails with it.
@usableFromInline
struct _AssignerArguments {
    @usableFromInline let assigner: String
    /// The first violation, as a `RillError(.invalidConfiguration)` that says what to change.
    @usableFromInline var error: RillError?

    @inlinable
    init(_ assigner: String) { self.assigner = assigner }

    /// `duration` in whole milliseconds (Flink's `toMillis()`), required to be at least 1 ms;
    /// 0 when it is not.
    @inlinable
    mutating func positiveMillis(_ duration: Duration, _ what: String) -> Int64 {
        guard let millis = duration.checkedMilliseconds else {
            fail("the \(what) (\(duration)) does not fit in 64-bit milliseconds; use a \(what) below \(Int64.max) ms")
            return 0
        }
        guard millis > 0 else {
            fail("the \(what) must be at least 1 ms, but it is \(duration); use a \(what) of 1 ms or more")
            return 0
        }
        return millis
    }

    /// `offset` in whole milliseconds, required to be shorter than `period` (the window size or
    /// slide) in either direction, since windows start at `offset + k * period`.
    @inlinable
    mutating func offsetMillis(_ offset: Duration, shorterThan period: Int64, _ periodName: String) -> Int64 {
        guard let millis = offset.checkedMilliseconds else {
            fail("the offset (\(offset)) does not fit in 64-bit milliseconds; use an offset between -\(period) and \(period) ms, exclusive")
            return 0
        }
        // An invalid period was reported already; an offset cannot be checked against it.
        guard period > 0, millis.magnitude >= period.magnitude else { return millis }
        fail("the offset (\(millis) ms) must be shorter than the \(periodName) (\(period) ms), as windows start at offset + k * \(periodName) (Flink: abs(offset) < \(periodName)); use an offset between -\(period - 1) and \(period - 1) ms")
        return millis
    }

    @inlinable
    mutating func fail(_ problem: String) {
        guard error == nil else { return }
        error = RillError(.invalidConfiguration, "\(assigner): \(problem)")
    }
}

extension _AssignerArguments {
    /// Tumbling windows: `size` at least 1 ms, `abs(offset) < size`.
    @inlinable
    static func tumbling(_ assigner: String, size: Duration, offset: Duration) -> (size: Int64, offset: Int64, error: RillError?) {
        var arguments = _AssignerArguments(assigner)
        let sizeMillis = arguments.positiveMillis(size, "window size")
        let offsetMillis = arguments.offsetMillis(offset, shorterThan: sizeMillis, "size")
        return (sizeMillis, offsetMillis, arguments.error)
    }

    /// Sliding windows: `size` and `slide` at least 1 ms, `abs(offset) < slide`.
    @inlinable
    static func sliding(_ assigner: String, size: Duration, slide: Duration, offset: Duration)
    -> (size: Int64, slide: Int64, offset: Int64, error: RillError?) {
        var arguments = _AssignerArguments(assigner)
        let sizeMillis = arguments.positiveMillis(size, "window size")
        let slideMillis = arguments.positiveMillis(slide, "slide")
        let offsetMillis = arguments.offsetMillis(offset, shorterThan: slideMillis, "slide")
        return (sizeMillis, slideMillis, offsetMillis, arguments.error)
    }

    /// Session windows: `gap` at least 1 ms.
    @inlinable
    static func session(_ assigner: String, gap: Duration) -> (gap: Int64, error: RillError?) {
        var arguments = _AssignerArguments(assigner)
        let gapMillis = arguments.positiveMillis(gap, "session gap")
        return (gapMillis, arguments.error)
    }
}

/// A built-in assigner that keeps an argument violation for job building to report.
@usableFromInline
protocol _ArgumentCheckedAssigner {
    /// Why the assigner cannot be used, or `nil` when its arguments are valid.
    var argumentError: RillError? { get }
}

extension Duration {
    /// Whole milliseconds, truncated toward zero as ``milliseconds``, or `nil` when they do not
    /// fit in an `Int64`.
    @inlinable
    var checkedMilliseconds: Int64? {
        let (seconds, attoseconds) = components
        let (wholeSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return nil }
        let (millis, carry) = wholeSeconds.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        return carry ? nil : millis
    }
}
