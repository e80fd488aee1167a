/// One record with its event timestamp, as it travels through a job.
///
/// `timestamp` is event time in milliseconds since the epoch, or ``StreamRecord/noTimestamp``
/// when the record has none (a source without a timestamp assigner).
@frozen
public struct StreamRecord<T> {
    public var value: T
    public var timestamp: Int64

    /// The timestamp of a record that has none (Flink's `hasTimestamp == false`).
    public static var noTimestamp: Int64 { Int64.min }

    @inlinable
    public init(_ value: T, timestamp: Int64 = Int64.min) {
        self.value = value
        self.timestamp = timestamp
    }
}

extension StreamRecord: Sendable where T: Sendable {}
extension StreamRecord: Equatable where T: Equatable {}

/// A batch of records handed from one task to another through a channel. Batches, not
/// records, cross threads: one allocation and one lock per batch.
@usableFromInline
final class RecordBatch<T>: @unchecked Sendable {
    // Ownership passes with the batch: the producer never touches it after the push.
    @usableFromInline var records: [StreamRecord<T>]

    @inlinable init(_ records: [StreamRecord<T>]) { self.records = records }
}
