/// A generator that never advances event time, for pipelines that only use processing time
/// or whose watermarks come from elsewhere.
public final class NoWatermarksGenerator<T>: WatermarkGenerator {
    public typealias Event = T

    public init() {}

    @inlinable
    public func onEvent(_ event: T, timestamp: Int64, output: some WatermarkOutput) {}

    @inlinable
    public func onPeriodicEmit(output: some WatermarkOutput) {}
}
