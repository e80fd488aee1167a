/// Where a ``WatermarkGenerator`` sends its results. The runtime implements it per source
/// subtask so a generator never knows whether it feeds a channel, a test or a valve.
public protocol WatermarkOutput: AnyObject {
    /// Announces that no record with a timestamp at or below `watermark` is expected anymore.
    /// Values that do not advance the current watermark are ignored by the receiver.
    func emitWatermark(_ watermark: Int64)
    /// Declares the stream idle so downstream tasks stop waiting for its watermark.
    func markIdle()
    /// Ends a previous ``markIdle()`` so the stream holds back downstream watermarks again.
    func markActive()
}
