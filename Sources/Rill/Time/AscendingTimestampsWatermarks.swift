/// Periodic watermarks for streams whose timestamps never decrease: behaves exactly like
/// ``BoundedOutOfOrdernessWatermarks`` with a zero bound, so the watermark is the highest
/// timestamp seen minus one (records equal to the maximum are still on time).
public final class AscendingTimestampsWatermarks<T>: WatermarkGenerator {
    public typealias Event = T

    /// Seeded so that the first emission is exactly `Int64.min`.
    @usableFromInline var maxTimestamp: Int64 = Int64.min + 1

    public init() {}

    @inlinable
    public func onEvent(_ event: T, timestamp: Int64, output: some WatermarkOutput) {
        if timestamp > maxTimestamp { maxTimestamp = timestamp }
    }

    @inlinable
    public func onPeriodicEmit(output: some WatermarkOutput) {
        output.emitWatermark(maxTimestamp - 1)
    }
}
