/// An element of a window with its event timestamp, as evictors see it (Flink's
/// `TimestampedValue`); `timestamp` is ``StreamRecord/noTimestamp`` when it has none.
public typealias TimestampedValue<T> = StreamRecord<T>

extension StreamRecord {
    /// Whether the record carries an event timestamp.
    @inlinable public var hasTimestamp: Bool { timestamp != Int64.min }
}

/// Removes elements from a window before and/or after the window function runs (Flink's
/// `Evictor`). A window with an evictor keeps all its elements (no incremental aggregation);
/// `reduce` and `aggregate` then fold what is left after `evictBefore`.
public protocol Evictor<Element, W>: Sendable {
    associatedtype Element
    associatedtype W: Window
    /// Before the window function: remove elements from `elements` (`size` is its count).
    func evictBefore(_ elements: inout [TimestampedValue<Element>], size: Int, window: W, context: EvictorContext)
    /// After the window function: what remains stays in the window.
    func evictAfter(_ elements: inout [TimestampedValue<Element>], size: Int, window: W, context: EvictorContext)
}

/// What an evictor may read of its operator (Flink's `Evictor.EvictorContext`).
public final class EvictorContext {
    @usableFromInline let watermark: () -> Int64
    @usableFromInline let processingTime: () -> Int64

    @usableFromInline
    init(watermark: @escaping () -> Int64, processingTime: @escaping () -> Int64) {
        self.watermark = watermark
        self.processingTime = processingTime
    }

    /// The operator's current event-time watermark.
    public var currentWatermark: Int64 { watermark() }
    /// The current processing time in milliseconds.
    public var currentProcessingTime: Int64 { processingTime() }
}

/// Keeps the last `maxCount` elements of a window (Flink's `CountEvictor`): when a window has
/// more, the oldest (first added) go.
public struct CountEvictor<Element, W: Window>: Evictor, _ArgumentChecked {
    public let maxCount: Int
    /// Evict after the window function instead of before.
    public let doEvictAfter: Bool
    @usableFromInline let argumentError: RillError?

    /// `maxCount` must not be negative (0 keeps nothing); otherwise building the job fails with
    /// a `RillError(.invalidConfiguration)` that says what to change.
    @inlinable
    public init(maxCount: Int, doEvictAfter: Bool = false) {
        (self.maxCount, argumentError) = _WindowArguments.checking("CountEvictor") { $0.count(maxCount, "count", atLeast: 0) }
        self.doEvictAfter = doEvictAfter
    }

    @inlinable
    public static func of(_ maxCount: Int, doEvictAfter: Bool = false) -> CountEvictor {
        CountEvictor(maxCount: maxCount, doEvictAfter: doEvictAfter)
    }

    public func evictBefore(_ elements: inout [TimestampedValue<Element>], size: Int, window: W, context: EvictorContext) {
        if !doEvictAfter { evict(&elements, size: size) }
    }

    public func evictAfter(_ elements: inout [TimestampedValue<Element>], size: Int, window: W, context: EvictorContext) {
        if doEvictAfter { evict(&elements, size: size) }
    }

    func evict(_ elements: inout [TimestampedValue<Element>], size: Int) {
        // A negative count fails job building; called directly, it keeps nothing instead of overflowing.
        let keep = Swift.max(maxCount, 0)
        guard size > keep else { return }
        elements.removeFirst(Swift.min(size - keep, elements.count))
    }
}

/// Keeps the elements of the last `windowSize` of event time, measured back from the newest
/// element's timestamp (Flink's `TimeEvictor`): an element goes when
/// `timestamp <= maxTimestamp - windowSize`. Does nothing when elements have no timestamps.
public struct TimeEvictor<Element, W: Window>: Evictor, _ArgumentChecked {
    /// Milliseconds of event time to keep.
    public let windowSize: Int64
    public let doEvictAfter: Bool
    @usableFromInline let argumentError: RillError?

    /// `windowSize` must fit in 64-bit milliseconds; otherwise building the job fails with a
    /// `RillError(.invalidConfiguration)` that says what to change.
    @inlinable
    public init(windowSize: Duration, doEvictAfter: Bool = false) {
        (self.windowSize, argumentError) = _WindowArguments.checking("TimeEvictor") { $0.millis(windowSize, "window size") }
        self.doEvictAfter = doEvictAfter
    }

    @inlinable
    public static func of(_ windowSize: Duration, doEvictAfter: Bool = false) -> TimeEvictor {
        TimeEvictor(windowSize: windowSize, doEvictAfter: doEvictAfter)
    }

    public func evictBefore(_ elements: inout [TimestampedValue<Element>], size: Int, window: W, context: EvictorContext) {
        if !doEvictAfter { evict(&elements) }
    }

    public func evictAfter(_ elements: inout [TimestampedValue<Element>], size: Int, window: W, context: EvictorContext) {
        if doEvictAfter { evict(&elements) }
    }

    func evict(_ elements: inout [TimestampedValue<Element>]) {
        // Flink looks at the first element only to decide whether timestamps exist.
        guard let first = elements.first, first.hasTimestamp else { return }
        let newest = elements.reduce(Int64.min) { Swift.max($0, $1.timestamp) }
        let cutoff = newest &- windowSize
        elements.removeAll { $0.timestamp <= cutoff }
    }
}

/// Evicts the elements whose distance to the newest (last added) element reaches a threshold
/// (Flink's `DeltaEvictor`): an element goes when `deltaFunction(element, last) >= threshold`.
public struct DeltaEvictor<Element, W: Window>: Evictor {
    public let threshold: Double
    public let deltaFunction: DeltaFunction<Element>
    public let doEvictAfter: Bool

    @inlinable
    public init(threshold: Double, deltaFunction: @escaping DeltaFunction<Element>, doEvictAfter: Bool = false) {
        self.threshold = threshold
        self.deltaFunction = deltaFunction
        self.doEvictAfter = doEvictAfter
    }

    @inlinable
    public static func of(_ threshold: Double, _ deltaFunction: @escaping DeltaFunction<Element>,
                          doEvictAfter: Bool = false) -> DeltaEvictor {
        DeltaEvictor(threshold: threshold, deltaFunction: deltaFunction, doEvictAfter: doEvictAfter)
    }

    public func evictBefore(_ elements: inout [TimestampedValue<Element>], size: Int, window: W, context: EvictorContext) {
        if !doEvictAfter { evict(&elements) }
    }

    public func evictAfter(_ elements: inout [TimestampedValue<Element>], size: Int, window: W, context: EvictorContext) {
        if doEvictAfter { evict(&elements) }
    }

    func evict(_ elements: inout [TimestampedValue<Element>]) {
        guard let last = elements.last else { return }
        elements.removeAll { deltaFunction($0.value, last.value) >= threshold }
    }
}
