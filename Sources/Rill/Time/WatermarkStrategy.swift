/// How a source turns records into event time: which timestamp each record gets and which
/// watermarks follow. A strategy is a recipe shared by all parallel subtasks of a source; each
/// subtask makes its own generator with ``makeGenerator(clock:)``.
public struct WatermarkStrategy<T>: Sendable {
    @usableFromInline let generatorFactory: @Sendable () -> any WatermarkGenerator<T>

    /// Maps `(record, timestamp the record arrived with)` to the record's event time. `nil`
    /// keeps the timestamp the source attached (Int64.min when it attached none).
    public let timestampAssigner: (@Sendable (T, Int64) -> Int64)?

    /// Marks a subtask idle after this much processing time without records; `nil` never does.
    public let idleTimeout: Duration?

    @usableFromInline
    init(
        generatorFactory: @escaping @Sendable () -> any WatermarkGenerator<T>,
        timestampAssigner: (@Sendable (T, Int64) -> Int64)?,
        idleTimeout: Duration?
    ) {
        self.generatorFactory = generatorFactory
        self.timestampAssigner = timestampAssigner
        self.idleTimeout = idleTimeout
    }

    /// Watermarks for timestamps that never decrease (``AscendingTimestampsWatermarks``).
    public static func forMonotonousTimestamps() -> WatermarkStrategy<T> {
        forGenerator { AscendingTimestampsWatermarks<T>() }
    }

    /// Watermarks that trail the highest timestamp by `maxOutOfOrderness`
    /// (``BoundedOutOfOrdernessWatermarks``).
    public static func forBoundedOutOfOrderness(_ maxOutOfOrderness: Duration) -> WatermarkStrategy<T> {
        precondition(maxOutOfOrderness >= .zero, "maxOutOfOrderness must not be negative")
        return forGenerator { BoundedOutOfOrdernessWatermarks<T>(maxOutOfOrderness: maxOutOfOrderness) }
    }

    /// No event-time progress at all (``NoWatermarksGenerator``).
    public static func noWatermarks() -> WatermarkStrategy<T> {
        forGenerator { NoWatermarksGenerator<T>() }
    }

    /// A user-defined generator, periodic or punctuated. `factory` runs once per subtask, so
    /// it must return a fresh instance each time.
    public static func forGenerator(
        _ factory: @escaping @Sendable () -> any WatermarkGenerator<T>
    ) -> WatermarkStrategy<T> {
        WatermarkStrategy(generatorFactory: factory, timestampAssigner: nil, idleTimeout: nil)
    }

    /// The same strategy, taking event time from the record instead of the source.
    public func withTimestampAssigner(
        _ assigner: @escaping @Sendable (_ record: T, _ recordTimestamp: Int64) -> Int64
    ) -> WatermarkStrategy<T> {
        WatermarkStrategy(generatorFactory: generatorFactory, timestampAssigner: assigner, idleTimeout: idleTimeout)
    }

    /// The same strategy, marking a subtask idle after `timeout` of processing time without
    /// records (see ``WatermarksWithIdleness``). `timeout` must be positive.
    public func withIdleness(_ timeout: Duration) -> WatermarkStrategy<T> {
        precondition(timeout > .zero, "idle timeout must be greater than zero")
        return WatermarkStrategy(generatorFactory: generatorFactory, timestampAssigner: timestampAssigner, idleTimeout: timeout)
    }

    /// The event time of one record under this strategy.
    @inlinable
    public func extractTimestamp(_ record: T, recordTimestamp: Int64) -> Int64 {
        guard let timestampAssigner else { return recordTimestamp }
        return timestampAssigner(record, recordTimestamp)
    }

    /// A new generator for one source subtask, wrapped for idleness when configured.
    ///
    /// The result is an existential; the runtime opens it once per subtask (by passing it to
    /// a generic function) so that per-record calls are specialized.
    public func makeGenerator(clock: any ProcessingTimeClock) -> any WatermarkGenerator<T> {
        let generator = generatorFactory()
        guard let idleTimeout else { return generator }
        return Self.wrapForIdleness(generator, timeout: idleTimeout, clock: clock)
    }

    private static func wrapForIdleness<G: WatermarkGenerator<T>>(
        _ generator: G, timeout: Duration, clock: any ProcessingTimeClock
    ) -> any WatermarkGenerator<T> {
        WatermarksWithIdleness(wrapping: generator, timeout: timeout, clock: clock)
    }
}
