import Synchronization

/// Where a job's records leave it (Flink's Sink V2 `Sink`): one writer per subtask.
public protocol Sink<Input>: Sendable {
    associatedtype Input
    associatedtype Writer: SinkWriter where Writer.Input == Input
    /// Called once per subtask, on the subtask's thread.
    func createWriter(_ context: SinkContext) throws -> Writer
}

/// Writes one subtask's records. All methods run on the subtask's thread.
public protocol SinkWriter<Input>: AnyObject {
    associatedtype Input
    func write(_ element: Input, _ context: SinkWriteContext) throws
    /// The watermark advanced.
    func writeWatermark(_ watermark: Int64) throws
    /// Push out anything buffered; `endOfInput` is true when no record follows.
    func flush(endOfInput: Bool) throws
    func close() throws
}

extension SinkWriter {
    public func writeWatermark(_ watermark: Int64) throws {}
    public func flush(endOfInput: Bool) throws {}
    public func close() throws {}
}

/// What a sink writer learns about its subtask.
public final class SinkContext: @unchecked Sendable {
    // Read-only after creation, except `cancelled` which is atomic.
    @usableFromInline let setup: OperatorSetup
    @usableFromInline init(setup: OperatorSetup) { self.setup = setup }

    public var subtaskIndex: Int { setup.subtaskIndex }
    public var parallelism: Int { setup.parallelism }
    public var operatorName: String { setup.operatorName }
    public var clock: any ProcessingTimeClock { setup.clock }

    /// Runs `hook` (on the cancelling thread) when the job is cancelled or fails, so a writer
    /// blocked on an external resource can give up.
    public func onCancel(_ hook: @escaping @Sendable () -> Void) { setup.gate.addCancelHook(hook) }
}

/// Per-record information for a sink writer.
public final class SinkWriteContext {
    @exclusivity(unchecked) @usableFromInline var currentTimestamp = Int64.min
    @usableFromInline var watermark = Int64.min
    @usableFromInline init() {}

    /// The record's event timestamp, or `nil` if it has none.
    public var timestamp: Int64? { currentTimestamp == Int64.min ? nil : currentTimestamp }
    /// The current watermark of the sink.
    public var currentWatermark: Int64 { watermark }
}

/// Drives a ``SinkWriter``.
@usableFromInline
final class SinkOperator<W: SinkWriter>: OneInputStreamOperator {
    @usableFromInline let writer: W
    @usableFromInline let context = SinkWriteContext()

    @inlinable init(writer: W) { self.writer = writer }

    @inlinable
    func processBatch(_ batch: [StreamRecord<W.Input>]) throws {
        for record in batch {
            context.currentTimestamp = record.timestamp
            try writer.write(record.value, context)
        }
    }

    @usableFromInline func processWatermark(_ watermark: Int64) throws {
        context.watermark = watermark
        try writer.writeWatermark(watermark)
    }

    @usableFromInline func finish() throws { try writer.flush(endOfInput: true) }
    @usableFromInline func close() throws { try writer.close() }
}

extension DataStream {
    /// Sends the stream to `sink` (Flink's `sinkTo`).
    @discardableResult
    @inlinable
    public func sinkTo<S: Sink>(_ sink: S, name: String = "Sink") -> DataStream<Never> where S.Input == T {
        let node = graph.addNode(name: name, kind: .sink, outputOps: nil) { setup, _ in
            BuiltOperator(oneInput: SinkOperator(writer: try sink.createWriter(SinkContext(setup: setup))))
        }
        connect(to: node, inputIndex: 0)
        return DataStream<Never>(environment: environment, node: node.id)
    }

    /// Calls `body` for every record, on the sink's subtask threads (Flink's `addSink(SinkFunction)`).
    @discardableResult
    @inlinable
    public func addSink(name: String = "Sink", _ body: @escaping @Sendable (T) throws -> Void) -> DataStream<Never> {
        sinkTo(FunctionSink(body), name: name)
    }

    /// Prints every record to standard output, prefixed with the subtask number when the sink
    /// runs in parallel (Flink's `print()`).
    @discardableResult
    @inlinable
    public func print(_ prefix: String? = nil) -> DataStream<Never> {
        sinkTo(PrintSink<T>(prefix: prefix), name: "Print to Std. Out")
    }
}

/// A sink that calls a closure per record.
public struct FunctionSink<T>: Sink {
    public let body: @Sendable (T) throws -> Void
    @inlinable public init(_ body: @escaping @Sendable (T) throws -> Void) { self.body = body }
    public func createWriter(_ context: SinkContext) throws -> Writer { Writer(body: body) }

    public final class Writer: SinkWriter {
        @usableFromInline let body: @Sendable (T) throws -> Void
        init(body: @escaping @Sendable (T) throws -> Void) { self.body = body }
        @inlinable public func write(_ element: T, _ context: SinkWriteContext) throws { try body(element) }
    }
}

/// Prints records to standard output.
public struct PrintSink<T>: Sink {
    public let prefix: String?
    public init(prefix: String? = nil) { self.prefix = prefix }

    public func createWriter(_ context: SinkContext) throws -> Writer {
        var label = prefix.map { "\($0):" } ?? ""
        if context.parallelism > 1 { label += "\(context.subtaskIndex + 1)> " } else if !label.isEmpty { label += " " }
        return Writer(label: label)
    }

    public final class Writer: SinkWriter {
        let label: String
        init(label: String) { self.label = label }
        public func write(_ element: T, _ context: SinkWriteContext) throws { Swift.print("\(label)\(element)") }
    }
}
