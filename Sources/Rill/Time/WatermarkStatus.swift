/// Whether a stream currently takes part in watermark progress. Idle streams are left out
/// of the minimum a task computes over its inputs, so one silent partition cannot stall
/// event time for the whole job.
public enum WatermarkStatus: Sendable, Hashable {
    case active
    case idle
}
