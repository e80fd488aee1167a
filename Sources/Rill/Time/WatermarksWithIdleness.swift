/// Adds idleness detection to another generator, so a partition that stops receiving records
/// is marked idle and no longer holds back downstream event time (Flink's generator of the
/// same name).
///
/// Idleness is evaluated only in ``onPeriodicEmit(output:)``, as in Flink's `IdlenessTimer`:
/// the countdown starts at the first periodic emission that saw no record since the previous
/// one, and the stream is marked idle (once) at the first periodic emission when strictly more
/// than the timeout has passed since then. While idle, the wrapped generator's periodic
/// emission is suppressed. The next record marks the stream active again before it reaches
/// the wrapped generator, so a punctuated watermark it causes is never sent while idle.
public final class WatermarksWithIdleness<Wrapped: WatermarkGenerator>: WatermarkGenerator {
    public typealias Event = Wrapped.Event

    @usableFromInline let wrapped: Wrapped
    @usableFromInline let clock: any ProcessingTimeClock
    @usableFromInline let idleTimeoutMillis: Int64
    /// Set per record, cleared by the periodic check; cheaper than reading the clock per record.
    @usableFromInline var sawRecordSinceLastCheck = false
    /// Processing time of the first periodic check that found no records; `nil` while active.
    @usableFromInline var quietSince: Int64?
    @usableFromInline var isIdle = false

    /// - Parameters:
    ///   - timeout: how long the input must be quiet before it is marked idle; must be positive.
    ///   - clock: the job's processing-time clock.
    public init(wrapping wrapped: Wrapped, timeout: Duration, clock: any ProcessingTimeClock) {
        precondition(timeout > .zero, "idle timeout must be greater than zero")
        self.wrapped = wrapped
        self.clock = clock
        self.idleTimeoutMillis = timeout.milliseconds
    }

    @inlinable
    public func onEvent(_ event: Event, timestamp: Int64, output: some WatermarkOutput) {
        sawRecordSinceLastCheck = true
        if isIdle {
            isIdle = false
            output.markActive()
        }
        wrapped.onEvent(event, timestamp: timestamp, output: output)
    }

    @inlinable
    public func onPeriodicEmit(output: some WatermarkOutput) {
        if checkIfIdle() {
            if !isIdle {
                isIdle = true
                output.markIdle()
            }
        } else {
            wrapped.onPeriodicEmit(output: output)
        }
    }

    @inlinable
    func checkIfIdle() -> Bool {
        if sawRecordSinceLastCheck {
            sawRecordSinceLastCheck = false
            quietSince = nil
            return false
        }
        let now = clock.currentTimeMillis()
        guard let since = quietSince else {
            quietSince = now
            return false
        }
        return now - since > idleTimeoutMillis
    }
}
