/// Whether a source ends by itself.
public enum Boundedness: Sendable {
    case bounded
    case continuousUnbounded
}

/// A unit of work a source reader consumes: a file, a partition, a table chunk, a range.
public protocol SourceSplit: Sendable, Codable {
    /// Unique among the splits of one source. A split is checkpointed with its progress (its
    /// `Codable` form), so a restored reader resumes where it was.
    var splitId: String { get }
}

/// A split-based source, as Flink's FLIP-27 `Source`: a ``SplitEnumerator`` on the job's
/// coordinator discovers splits and hands them out; a ``SourceReader`` in each subtask reads them.
/// Both sides' state goes into checkpoints, so a restored job resumes where it was.
public protocol Source<Output>: Sendable {
    associatedtype Output
    associatedtype Split: SourceSplit
    associatedtype Reader: SourceReader where Reader.Output == Output, Reader.Split == Split
    associatedtype Enumerator: SplitEnumerator where Enumerator.Split == Split

    var boundedness: Boundedness { get }
    /// Called once per job attempt, on the coordinator.
    func createEnumerator(_ context: SplitEnumeratorContext<Split>) throws -> Enumerator
    /// Called instead of ``createEnumerator(_:)`` when the job resumes from a checkpoint:
    /// `unassignedSplits` are those the enumerator had not handed out (see
    /// ``SplitEnumerator/snapshotState()``).
    func restoreEnumerator(_ context: SplitEnumeratorContext<Split>, unassignedSplits: [Split]) throws -> Enumerator
    /// Called once per subtask, on the subtask's thread.
    func createReader(_ context: SourceReaderContext) throws -> Reader
}

/// Reads splits in one subtask. All methods run on the subtask's thread.
public protocol SourceReader<Output>: AnyObject {
    associatedtype Output
    associatedtype Split: SourceSplit

    func start() throws
    /// Emits what is available now (at most about one batch) and says whether more is.
    /// Return ``InputStatus/nothingAvailable`` and call ``SourceReaderContext/wakeUp()`` when
    /// data arrives; never block here for long.
    func pollNext(_ output: ReaderOutput<Output>) throws -> InputStatus
    func addSplits(_ splits: [Split])
    /// The enumerator has no more splits for this reader: finish the current ones, then end.
    func notifyNoMoreSplits()
    /// The splits this reader owns, with their progress, for a checkpoint.
    func snapshotState(checkpointId: Int64) -> [Split]
    func close() throws
}

extension SourceReader {
    public func start() throws {}
    public func close() throws {}
}

/// Discovers splits and assigns them to readers. All methods run on the coordinator, one at a time.
public protocol SplitEnumerator: AnyObject {
    associatedtype Split: SourceSplit

    func start() throws
    /// A reader asked for work.
    func handleSplitRequest(subtask: Int) throws
    /// Splits that a failed reader held come back.
    func addSplitsBack(_ splits: [Split], subtask: Int)
    /// A reader registered.
    func addReader(subtask: Int) throws
    /// The splits not yet assigned, for a checkpoint (taken atomically with the barrier's
    /// injection, so every split is either here or in exactly one reader's snapshot).
    func snapshotState() -> [Split]
    func close()
}

extension SplitEnumerator {
    public func start() throws {}
    public func addReader(subtask: Int) throws {}
    public func close() {}
}

/// What a split enumerator can do: see readers and assign splits.
public final class SplitEnumeratorContext<Split: SourceSplit>: @unchecked Sendable {
    // Only used by the enumerator, which the coordinator calls under its lock.
    public let currentParallelism: Int
    @usableFromInline var readers: [Int: ReaderHandle] = [:]

    @usableFromInline struct ReaderHandle {
        let addSplits: ([Split]) -> Void
        let noMoreSplits: () -> Void
    }

    @usableFromInline init(currentParallelism: Int) { self.currentParallelism = currentParallelism }

    /// Subtasks whose readers have registered.
    public var registeredReaders: Set<Int> { Set(readers.keys) }

    /// Hands `splits` to the reader of `subtask`.
    public func assignSplits(_ splits: [Split], to subtask: Int) {
        readers[subtask]?.addSplits(splits)
    }

    /// Tells the reader of `subtask` that it will get no more splits.
    public func signalNoMoreSplits(to subtask: Int) {
        readers[subtask]?.noMoreSplits()
    }
}

/// What a source reader can do besides reading.
public final class SourceReaderContext: @unchecked Sendable {
    // `requestSplit` is called on the reader's thread; `wakeUp` from anywhere.
    @usableFromInline let setup: OperatorSetup
    @usableFromInline let requestSplit: () throws -> Void

    @usableFromInline init(setup: OperatorSetup, requestSplit: @escaping () throws -> Void) {
        self.setup = setup
        self.requestSplit = requestSplit
    }

    public var subtaskIndex: Int { setup.subtaskIndex }
    public var parallelism: Int { setup.parallelism }
    /// The job's processing-time clock.
    public var clock: any ProcessingTimeClock { setup.clock }
    /// The configured number of records per batch; emit about this many per poll.
    public var batchSize: Int { setup.configuration.batchSize }

    /// Asks the enumerator for a split.
    public func sendSplitRequest() throws { try requestSplit() }

    /// Wakes the reader's thread so it polls again. Safe from any thread.
    public func wakeUp() { setup.wakeUp() }

    /// Polls again at the given processing time (for rate limits). Reader thread only.
    public func wakeUp(atProcessingTime time: Int64) {
        setup.timeService.registerTimer(at: time) { _ in }
    }
}

/// Where a reader emits records: it assigns timestamps and generates watermarks as the
/// source's ``WatermarkStrategy`` says, then passes records down the chain.
public final class ReaderOutput<T> {
    @usableFromInline let output: Output<T>
    @usableFromInline let timestampAssigner: (@Sendable (T, Int64) -> Int64)?
    @usableFromInline let generator: (any WatermarkGenerator<T>)?
    @usableFromInline let watermarks: WatermarkEmitter

    @usableFromInline init(output: Output<T>, timestampAssigner: (@Sendable (T, Int64) -> Int64)?,
         generator: (any WatermarkGenerator<T>)?, watermarks: WatermarkEmitter) {
        self.output = output
        self.timestampAssigner = timestampAssigner
        self.generator = generator
        self.watermarks = watermarks
    }

    /// Emits a record; `timestamp` is the record's native timestamp (for example a Kafka
    /// record's), which a timestamp assigner may replace.
    @inlinable
    public func collect(_ value: T, timestamp: Int64 = Int64.min) throws {
        var eventTime = timestamp
        if let timestampAssigner { eventTime = timestampAssigner(value, timestamp) }
        if let generator {
            generator.onEvent(value, timestamp: eventTime, output: watermarks)
        }
        try output.collect(value, timestamp: eventTime)
    }

    /// Emits many records without native timestamps; cheaper per record than ``collect(_:timestamp:)``
    /// when the source has no timestamp assigner and no watermarks.
    @inlinable
    public func collect<C: Collection>(contentsOf values: C) throws where C.Element == T {
        guard timestampAssigner == nil && generator == nil else {
            for value in values { try collect(value) }
            return
        }
        let contiguous: Void? = try values.withContiguousStorageIfAvailable { elements in
            try output.emit(_BatchBuilder.build(capacity: elements.count) { records in
                for value in elements { records.uncheckedAppend(StreamRecord(value)) }
            })
        }
        guard contiguous == nil else { return }
        // `count` sizes the batch, but a collection whose `count` understates its elements must
        // not write past it: the rest goes out one by one.
        let capacity = values.count
        var understated = false
        try output.emit(_BatchBuilder.build(capacity: capacity) { records in
            for value in values {
                if records.isFull {
                    understated = true
                    break
                }
                records.uncheckedAppend(StreamRecord(value))
            }
        })
        if understated {
            for value in values.dropFirst(capacity) { try output.collect(value, timestamp: StreamRecord<T>.noTimestamp) }
        }
    }
}

extension ReaderOutput where T == Int64 {
    /// Emits the numbers of `range` in order (``NumberSequenceSource``); computing each number
    /// instead of iterating the range drops the per-number bounds and overflow checks, so the
    /// loop unrolls. `range` holds at most one batch.
    @inlinable
    func collect(numbers range: ClosedRange<Int64>) throws {
        guard timestampAssigner == nil && generator == nil else { return try collect(contentsOf: range) }
        let first = range.lowerBound
        let count = Int(range.upperBound &- first) &+ 1
        try output.emit(_BatchBuilder.build(capacity: count) { records in
            for offset in 0..<count { records.uncheckedAppend(StreamRecord(first &+ Int64(offset))) }
        })
    }
}

/// Turns watermark-generator calls into watermarks on an ``Output``: never backwards, and
/// marks idleness and activity.
@usableFromInline
final class WatermarkEmitter: WatermarkOutput {
    @usableFromInline var current = Int64.min
    @usableFromInline var idle = false
    @usableFromInline let emit: (Int64) throws -> Void
    @usableFromInline let emitStatus: (Bool) throws -> Void
    /// A watermark output cannot throw; failures are kept and rethrown by the task.
    @usableFromInline var pendingError: (any Error)?

    @usableFromInline init(emit: @escaping (Int64) throws -> Void, emitStatus: @escaping (Bool) throws -> Void) {
        self.emit = emit
        self.emitStatus = emitStatus
    }

    @usableFromInline
    func emitWatermark(_ watermark: Int64) {
        if idle { markActive() }
        guard watermark > current else { return }
        current = watermark
        do { try emit(watermark) } catch { pendingError = pendingError ?? error }
    }

    @usableFromInline
    func markIdle() {
        guard !idle else { return }
        idle = true
        do { try emitStatus(true) } catch { pendingError = pendingError ?? error }
    }

    @usableFromInline
    func markActive() {
        guard idle else { return }
        idle = false
        do { try emitStatus(false) } catch { pendingError = pendingError ?? error }
    }

    @usableFromInline func rethrowPending() throws {
        if let error = pendingError {
            pendingError = nil
            throw error
        }
    }
}
