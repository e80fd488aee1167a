/// Where an operator's records go: the next operator of its chain (a direct call per batch),
/// the task's network writers, or both.
///
/// Records are appended to a buffer and handed on as a batch when the buffer is full, when the
/// operator has finished its current input batch, and before any watermark; so records and
/// control elements stay in order.
public final class Output<T> {
    // Per-record and per-batch properties skip dynamic exclusivity checks (they cost more than
    // the work): an Output belongs to one task thread, and no access to them overlaps another.
    @exclusivity(unchecked) @usableFromInline var buffer: [StreamRecord<T>]
    @usableFromInline let batchSize: Int
    @exclusivity(unchecked) @usableFromInline var consumers: [([StreamRecord<T>]) throws -> Void] = []
    @usableFromInline var watermarkTargets: [WatermarkTarget] = []
    @usableFromInline var sideOutputs: [ObjectIdentifier: AnyObject] = [:]
    @exclusivity(unchecked) @usableFromInline var sideOutputFlushes: [() throws -> Void] = []
    /// Side outputs get watermarks and watermark status too, as in Flink.
    @usableFromInline var sideOutputWatermarks: [WatermarkTarget] = []
    @exclusivity(unchecked) @usableFromInline var metrics: OperatorMetrics?
    /// Receives side-output records nobody consumes (test harnesses only).
    @usableFromInline var unclaimedSideOutput: ((OutputTagID, Any) -> Void)?

    @usableFromInline
    init(batchSize: Int) {
        self.batchSize = batchSize
        buffer = []
        buffer.reserveCapacity(batchSize)
    }

    /// Emits a record with the given event timestamp.
    @inlinable
    public func collect(_ value: T, timestamp: Int64) throws {
        buffer.append(StreamRecord(value, timestamp: timestamp))
        if buffer.count >= batchSize { try flush() }
    }

    /// Emits a whole record.
    @inlinable
    public func collect(_ record: StreamRecord<T>) throws {
        buffer.append(record)
        if buffer.count >= batchSize { try flush() }
    }

    /// Emits a record to the side output named by `tag`; a tag nobody consumes drops the record.
    @inlinable
    public func collect<S>(_ tag: OutputTag<S>, _ value: S, timestamp: Int64) throws {
        guard let side = sideOutputs[ObjectIdentifier(tag.id)] else {
            unclaimedSideOutput?(tag.id, StreamRecord(value, timestamp: timestamp))
            return
        }
        try unsafeDowncast(side, to: Output<S>.self).collect(value, timestamp: timestamp)
    }

    /// Hands buffered records to the consumers.
    public func flush() throws {
        try flushSideOutputs()
        if buffer.isEmpty { return }
        try deliver(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    @usableFromInline
    func flushSideOutputs() throws {
        for flushSide in sideOutputFlushes { try flushSide() }
    }

    @usableFromInline
    func deliver(_ batch: [StreamRecord<T>]) throws {
        metrics?.countOut(batch.count)
        if consumers.count == 1 {
            try consumers[0](batch)
        } else {
            for consumer in consumers { try consumer(batch) }
        }
    }

    /// Forwards a watermark after the records emitted before it.
    public func emitWatermark(_ watermark: Int64) throws {
        try flush()
        for target in watermarkTargets { try target.processWatermark(watermark) }
        for target in sideOutputWatermarks { try target.processWatermark(watermark) }
    }

    /// Forwards an idle/active change of the watermark status.
    public func emitWatermarkStatus(idle: Bool) throws {
        try flush()
        for target in watermarkTargets { try target.processWatermarkStatus(idle) }
        for target in sideOutputWatermarks { try target.processWatermarkStatus(idle) }
    }

    // MARK: wiring (build time)

    @usableFromInline func attachMetrics(_ metrics: OperatorMetrics) { self.metrics = metrics }

    @usableFromInline func addConsumer(_ consumer: @escaping ([StreamRecord<T>]) throws -> Void, watermarks: WatermarkTarget) {
        consumers.append(consumer)
        watermarkTargets.append(watermarks)
    }

    @usableFromInline func addSideOutput<S>(_ tag: OutputTagID, _ output: Output<S>) {
        sideOutputs[ObjectIdentifier(tag)] = output
        sideOutputFlushes.append { try output.flush() }
    }
}

/// Receives watermarks and watermark status from an upstream ``Output``.
@usableFromInline
struct WatermarkTarget {
    @usableFromInline let processWatermark: (Int64) throws -> Void
    @usableFromInline let processWatermarkStatus: (_ idle: Bool) throws -> Void

    @inlinable
    init(processWatermark: @escaping (Int64) throws -> Void, processWatermarkStatus: @escaping (_ idle: Bool) throws -> Void) {
        self.processWatermark = processWatermark
        self.processWatermarkStatus = processWatermarkStatus
    }
}

/// The identity of a side output. Two tags with the same id name the same side output.
public final class OutputTagID: Sendable {
    public let name: String
    @usableFromInline init(name: String) { self.name = name }
}

/// Names a side output of type `T`, as Flink's `OutputTag`. Create one per side output and use
/// the same instance in the producing operator and in ``DataStream/sideOutput(_:)``.
public struct OutputTag<T>: Sendable {
    public let id: OutputTagID
    public var name: String { id.name }
    public init(_ name: String) { id = OutputTagID(name: name) }
}

/// The output a user function writes to. It stamps each record with the timestamp of the
/// input record being processed (or the firing timer), as Flink's `TimestampedCollector`.
public final class Collector<T> {
    @usableFromInline let output: Output<T>
    @exclusivity(unchecked) @usableFromInline var timestamp: Int64 = Int64.min

    @usableFromInline init(_ output: Output<T>) { self.output = output }

    /// Emits `value` with the current record's (or timer's) timestamp.
    @inlinable
    public func collect(_ value: T) throws {
        try output.collect(value, timestamp: timestamp)
    }

    /// Emits `value` with an explicit event timestamp.
    @inlinable
    public func collect(_ value: T, timestamp: Int64) throws {
        try output.collect(value, timestamp: timestamp)
    }
}
