import Rill

/// Records what a generator emits, in order, so tests can compare whole sequences.
final class RecordingWatermarkOutput: WatermarkOutput {
    enum Emission: Equatable {
        case watermark(Int64)
        case idle
        case active
    }

    private(set) var emissions: [Emission] = []

    func emitWatermark(_ watermark: Int64) { emissions.append(.watermark(watermark)) }
    func markIdle() { emissions.append(.idle) }
    func markActive() { emissions.append(.active) }

    /// Returns what was emitted since the last call and forgets it.
    func drain() -> [Emission] {
        defer { emissions.removeAll() }
        return emissions
    }
}
