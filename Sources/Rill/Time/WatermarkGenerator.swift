/// Decides when event time advances for one source subtask.
///
/// A generator is created per subtask (see ``WatermarkStrategy/makeGenerator(clock:)``) and
/// only ever called from that subtask's thread, so it may keep plain mutable state.
/// Periodic generators emit in ``onPeriodicEmit(output:)``, which the runtime calls at the
/// auto-watermark interval; punctuated generators emit from ``onEvent(_:timestamp:output:)``.
public protocol WatermarkGenerator<Event>: AnyObject {
    associatedtype Event

    /// Called for every record, after its timestamp was assigned. `timestamp` is
    /// `Int64.min` when the record carries none.
    func onEvent(_ event: Event, timestamp: Int64, output: some WatermarkOutput)

    /// Called at the auto-watermark interval on the processing-time clock.
    func onPeriodicEmit(output: some WatermarkOutput)
}
