/// Periodic watermarks that trail the highest timestamp seen by a fixed bound, for streams
/// whose records arrive at most `maxOutOfOrderness` late (Flink's generator of the same name).
///
/// The emitted watermark is `maxTimestamp - maxOutOfOrderness - 1`: a record exactly
/// `maxOutOfOrderness` behind the maximum is still on time. Before the first record the
/// watermark is `Int64.min`.
public final class BoundedOutOfOrdernessWatermarks<T>: WatermarkGenerator {
    public typealias Event = T

    /// The highest timestamp seen, seeded so that the first emission is exactly `Int64.min`.
    @usableFromInline var maxTimestamp: Int64
    @usableFromInline let outOfOrdernessMillis: Int64

    /// - Parameter maxOutOfOrderness: how late a record may be; must not be negative.
    ///   Truncated to whole milliseconds.
    public init(maxOutOfOrderness: Duration) {
        precondition(maxOutOfOrderness >= .zero, "maxOutOfOrderness must not be negative")
        outOfOrdernessMillis = maxOutOfOrderness.milliseconds
        maxTimestamp = Int64.min + outOfOrdernessMillis + 1
    }

    @inlinable
    public func onEvent(_ event: T, timestamp: Int64, output: some WatermarkOutput) {
        if timestamp > maxTimestamp { maxTimestamp = timestamp }
    }

    @inlinable
    public func onPeriodicEmit(output: some WatermarkOutput) {
        output.emitWatermark(maxTimestamp - outOfOrdernessMillis - 1)
    }
}
