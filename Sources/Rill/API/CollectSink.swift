import Synchronization

/// Gathers every record of a stream in memory, from all subtasks, for tests and small jobs.
///
/// ```swift
/// let results = CollectedResults<Int>()
/// stream.sinkTo(CollectSink(results))
/// try await env.execute()
/// XCTAssertEqual(results.values.sorted(), [1, 2, 3])
/// ```
public final class CollectedResults<T: Sendable>: Sendable {
    private let records = Mutex<[StreamRecord<T>]>([])
    private let watermarks = Mutex<[Int64]>([])

    public init() {}

    /// The values in the order they arrived (per subtask order is kept; subtasks interleave).
    public var values: [T] { records.withLock { $0.map(\.value) } }
    /// The records with their timestamps.
    public var timestampedValues: [StreamRecord<T>] { records.withLock { $0 } }
    /// Watermarks the sink received, in order (all subtasks).
    public var receivedWatermarks: [Int64] { watermarks.withLock { $0 } }
    public var count: Int { records.withLock { $0.count } }

    func append(_ batch: [StreamRecord<T>]) { records.withLock { $0.append(contentsOf: batch) } }
    func appendWatermark(_ watermark: Int64) { watermarks.withLock { $0.append(watermark) } }
    public func clear() {
        records.withLock { $0.removeAll() }
        watermarks.withLock { $0.removeAll() }
    }
}

/// A sink that appends to ``CollectedResults``.
public struct CollectSink<T: Sendable>: Sink {
    public let results: CollectedResults<T>
    public init(_ results: CollectedResults<T>) { self.results = results }

    public func createWriter(_ context: SinkContext) throws -> Writer { Writer(results: results) }

    public final class Writer: SinkWriter {
        let results: CollectedResults<T>
        var pending: [StreamRecord<T>] = []
        init(results: CollectedResults<T>) { self.results = results }

        public func write(_ element: T, _ context: SinkWriteContext) throws {
            pending.append(StreamRecord(element, timestamp: context.currentTimestamp))
            if pending.count >= 1024 { try flush(endOfInput: false) }
        }

        public func writeWatermark(_ watermark: Int64) throws {
            try flush(endOfInput: false)
            results.appendWatermark(watermark)
        }

        public func flush(endOfInput: Bool) throws {
            results.append(pending)
            pending.removeAll(keepingCapacity: true)
        }
    }
}

extension DataStream where T: Sendable {
    /// Collects the stream into `results` (see ``CollectedResults``).
    @discardableResult
    @inlinable
    public func collect(into results: CollectedResults<T>) -> DataStream<Never> {
        sinkTo(CollectSink(results), name: "Collect Sink")
    }

    /// The stream's records as an `AsyncSequence`, for a service that consumes a job's output
    /// with `for try await`. Call before `execute`/`executeAsync`. The job waits (backpressure)
    /// while the consumer is behind by more than `bufferSize` records; if the job fails, the
    /// sequence throws.
    @inlinable
    public func collectAsync(bufferSize: Int = 1024) -> ResultStream<T> {
        let channel = ResultChannel<T>(capacity: max(1, bufferSize))
        sinkTo(ResultStreamSink(channel: channel), name: "Result Stream")
        return ResultStream(channel: channel)
    }
}

/// The records of a stream, as an `AsyncSequence` (see ``DataStream/collectAsync(bufferSize:)``).
public struct ResultStream<T: Sendable>: AsyncSequence, Sendable {
    public typealias Element = T
    @usableFromInline let channel: ResultChannel<T>

    @usableFromInline init(channel: ResultChannel<T>) { self.channel = channel }

    public func makeAsyncIterator() -> Iterator { Iterator(channel: channel) }

    public struct Iterator: AsyncIteratorProtocol {
        let channel: ResultChannel<T>
        public mutating func next() async throws -> T? { try await channel.next() }
    }
}

/// A bounded hand-off from sink threads to one async consumer.
public final class ResultChannel<T: Sendable>: @unchecked Sendable {
    // Everything below is guarded by `lock`.
    private let lock = ConditionLock()
    private let capacity: Int
    private var buffer: [T] = []
    private var head = 0
    private var writers = 0
    private var finishedWriters = 0
    private var expectedWriters: Int?
    private var failed = false
    private var cancelled = false
    private var waitingConsumer: CheckedContinuation<T?, any Error>?

    @usableFromInline init(capacity: Int) { self.capacity = capacity }

    func register(parallelism: Int) {
        lock.withLock {
            writers += 1
            expectedWriters = parallelism
        }
    }

    /// Blocks the sink's thread while the consumer is `capacity` records behind.
    func send(_ value: T) throws {
        lock.lock()
        while buffer.count - head >= capacity && !cancelled { lock.waitProducer(timeoutNanos: nil) }
        if cancelled {
            lock.unlock()
            throw TaskCancelled()
        }
        if let consumer = waitingConsumer {
            waitingConsumer = nil
            lock.unlock()
            consumer.resume(returning: value)
            return
        }
        buffer.append(value)
        lock.unlock()
    }

    func writerFinished() { finish { $0.finishedWriters += 1 } }
    func writerFailed() { finish { $0.failed = true } }

    func cancel() {
        finish {
            $0.cancelled = true
            $0.failed = true
        }
    }

    private func finish(_ update: (ResultChannel) -> Void) {
        lock.lock()
        update(self)
        lock.signalProducers()
        let consumer = isDone || failed ? waitingConsumer : nil
        if consumer != nil { waitingConsumer = nil }
        let failed = self.failed
        lock.unlock()
        if failed {
            consumer?.resume(throwing: RillError(.jobFailed, "the job producing this result stream failed or was cancelled; the job's own result says why"))
        } else {
            consumer?.resume(returning: nil)
        }
    }

    private var isDone: Bool { expectedWriters.map { finishedWriters >= $0 } ?? false }

    func next() async throws -> T? {
        try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            if head < buffer.count {
                let value = buffer[head]
                head += 1
                if head == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    head = 0
                }
                lock.signalProducers()
                lock.unlock()
                continuation.resume(returning: value)
            } else if failed {
                lock.unlock()
                continuation.resume(throwing: RillError(.jobFailed, "the job producing this result stream failed or was cancelled; the job's own result says why"))
            } else if isDone {
                lock.unlock()
                continuation.resume(returning: nil)
            } else {
                waitingConsumer = continuation
                lock.unlock()
            }
        }
    }
}

@usableFromInline
struct ResultStreamSink<T: Sendable>: Sink {
    @usableFromInline let channel: ResultChannel<T>
    @usableFromInline init(channel: ResultChannel<T>) { self.channel = channel }

    @usableFromInline
    func createWriter(_ context: SinkContext) throws -> Writer {
        channel.register(parallelism: context.parallelism)
        let channel = self.channel
        context.onCancel { channel.cancel() }
        return Writer(channel: channel)
    }

    @usableFromInline
    final class Writer: SinkWriter {
        let channel: ResultChannel<T>
        var finished = false
        init(channel: ResultChannel<T>) { self.channel = channel }
        @usableFromInline func write(_ element: T, _ context: SinkWriteContext) throws { try channel.send(element) }
        @usableFromInline func flush(endOfInput: Bool) throws {
            if endOfInput && !finished {
                finished = true
                channel.writerFinished()
            }
        }
        @usableFromInline func close() throws {
            if !finished { channel.writerFailed() }
        }
    }
}
