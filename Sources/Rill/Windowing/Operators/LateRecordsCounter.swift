/// Counts the elements a window operator dropped because every window they belong to was
/// already late (Flink's `numLateRecordsDropped`). Elements sent to a late-data side output are
/// not counted.
@usableFromInline
final class LateRecordsCounter {
    @usableFromInline let metrics: OperatorMetrics

    @usableFromInline
    init(metrics: OperatorMetrics) { self.metrics = metrics }

    @usableFromInline
    static func registered(in setup: OperatorSetup) -> LateRecordsCounter {
        LateRecordsCounter(metrics: setup.metrics)
    }

    @inlinable
    func increment() { metrics.countLateRecordDropped() }
}
