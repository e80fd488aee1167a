import Foundation

/// Describes and runs a streaming job in this process (Flink's `StreamExecutionEnvironment`).
///
/// ```swift
/// let env = StreamEnvironment()
/// env.fromSequence(1...1_000)
///     .map { $0 % 10 }
///     .keyBy { $0 }
///     .reduce(+)
///     .print()
/// try await env.execute("sums")
/// ```
///
/// Build a job from one thread; `execute()` then runs it on threads of its own.
public final class StreamEnvironment: @unchecked Sendable {
    // The graph is mutated only while the job is described, on the caller's thread.

    /// Settings that apply to the whole job.
    public struct Configuration: Sendable {
        /// Default parallelism of every operator (Flink's default: the number of cores).
        public var parallelism: Int = ProcessInfo.processInfo.activeProcessorCount
        /// Number of key groups: the upper bound for parallelism of keyed operators, fixed for
        /// the life of a job's state.
        public var maxParallelism: Int = 128
        /// How often sources emit periodic watermarks, in processing time.
        public var autoWatermarkInterval: Duration = .milliseconds(200)
        /// Records per batch between tasks.
        public var batchSize: Int = 1024
        /// Longest time a partly filled batch waits before it is sent (Flink's buffer timeout).
        /// Batches are also sent at once when their producer runs out of input.
        public var bufferTimeout: Duration = .milliseconds(100)
        /// Batches a channel holds before its producer blocks (backpressure).
        public var channelCapacity: Int = 8
        /// Whether operators connected one-to-one with equal parallelism run fused in one task.
        public var chainingEnabled = true
        /// The processing-time clock; tests pass a ``ManualClock``.
        public var clock: any ProcessingTimeClock = SystemClock.shared
        /// How long a cancelled job waits for tasks stuck in user code before it reports
        /// cancellation anyway.
        public var cancellationTimeout: Duration = .seconds(30)
        /// Checkpointing: directory, interval, mode, retention (off unless an interval is set).
        public var checkpoints = CheckpointConfig()
        /// Where the job starts from: fresh, the latest checkpoint, or a given snapshot.
        public var restore: RestoreSettings = .none
        /// What happens when a task fails.
        public var restartStrategy: RestartStrategy = .none

        public init() {}

        func validate() throws {
            func check(_ condition: Bool, _ message: String) throws {
                if !condition { throw RillError(.invalidConfiguration, message) }
            }
            try check(parallelism >= 1, "parallelism is \(parallelism); use 1 or more")
            try check((1...32768).contains(maxParallelism), "max parallelism is \(maxParallelism); use a value in 1...32768")
            try check(batchSize >= 1, "batch size is \(batchSize); use 1 or more (1024 is a good default)")
            try check(channelCapacity >= 1, "channel capacity is \(channelCapacity) batches; use 1 or more")
            try check(autoWatermarkInterval >= .zero, "the auto-watermark interval is negative; use zero to disable periodic watermarks")
            try check(bufferTimeout >= .zero, "the buffer timeout is negative; use zero to flush only when a batch is full or the producer is idle")
            try checkpoints.validate()
        }
    }

    public var configuration: Configuration
    @usableFromInline let graph = StreamGraph()

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// A shorthand for setting ``Configuration/parallelism``.
    @discardableResult
    public func setParallelism(_ parallelism: Int) -> StreamEnvironment {
        configuration.parallelism = parallelism
        return self
    }

    // MARK: sources

    /// Adds a split-based source (Flink's `fromSource`).
    @inlinable
    public func fromSource<S: Source>(_ source: S, watermarkStrategy: WatermarkStrategy<S.Output> = .noWatermarks(),
                                      name: String) -> DataStream<S.Output> {
        addSource(source, watermarkStrategy: watermarkStrategy, name: name, isNonParallel: false)
    }

    @inlinable
    func addSource<S: Source>(_ source: S, watermarkStrategy: WatermarkStrategy<S.Output>, name: String,
                              isNonParallel: Bool) -> DataStream<S.Output> {
        let node = graph.addNode(name: name, kind: .source, isNonParallel: isNonParallel,
                                 outputOps: .of(S.Output.self)) { setup, output in
            let op = try SourceOperator(source: source, strategy: watermarkStrategy, setup: setup,
                                        output: unsafeDowncast(output!, to: Output<S.Output>.self))
            return BuiltOperator(source: op, pollNext: { try op.pollNext() })
        }
        return DataStream(environment: self, node: node.id)
    }

    /// The numbers `range`, split across parallel subtasks in contiguous ranges (Flink's `fromSequence`).
    @inlinable
    public func fromSequence(_ range: ClosedRange<Int64>) -> DataStream<Int64> {
        fromSource(NumberSequenceSource(from: range.lowerBound, to: range.upperBound), name: "Sequence Source")
    }

    /// The elements of `elements` in order, from one subtask (Flink's `fromData`).
    @inlinable
    public func fromCollection<T: Sendable>(_ elements: [T], watermarkStrategy: WatermarkStrategy<T> = .noWatermarks()) -> DataStream<T> {
        addSource(CollectionSource(elements), watermarkStrategy: watermarkStrategy, name: "Collection Source", isNonParallel: true)
    }

    /// `generator(i)` for `i` in `0..<count`, in parallel, optionally rate-limited; pass
    /// `count: Int64.max` for an unbounded stream (Flink's `DataGeneratorSource`).
    @inlinable
    public func fromGenerator<T>(count: Int64, recordsPerSecond: Double? = nil,
                                 watermarkStrategy: WatermarkStrategy<T> = .noWatermarks(),
                                 _ generator: @escaping @Sendable (Int64) throws -> T) -> DataStream<T> {
        fromSource(DataGeneratorSource(count: count, recordsPerSecond: recordsPerSecond, generator: generator),
                   watermarkStrategy: watermarkStrategy, name: "Generator Source")
    }

    /// The elements of an `AsyncSequence`, from one subtask. The sequence is consumed with
    /// backpressure: it is not iterated faster than the job processes.
    @inlinable
    public func fromAsyncSequence<S: AsyncSequence & Sendable>(_ sequence: S,
                                                               watermarkStrategy: WatermarkStrategy<S.Element> = .noWatermarks()) -> DataStream<S.Element>
    where S.Element: Sendable {
        addSource(AsyncSequenceSource(sequence), watermarkStrategy: watermarkStrategy, name: "AsyncSequence Source",
                  isNonParallel: true)
    }

    // MARK: running

    /// Checks the job and lays it out as tasks, without running it. Throws the same errors
    /// `execute()` would for an invalid job.
    public func explain() throws -> String {
        try ExecutionPlan(graph: graph, configuration: configuration).description
    }

    /// Starts the job and returns at once.
    public func executeAsync(_ jobName: String = "Rill Job") throws -> JobClient {
        let plan = try ExecutionPlan(graph: graph, configuration: configuration)
        let master = try JobMaster(jobName: jobName, plan: plan, configuration: configuration)
        master.start()
        return JobClient(master: master)
    }

    /// Runs the job to completion. Throws a ``RillError`` naming the operator and subtask if
    /// the job fails.
    @discardableResult
    public func execute(_ jobName: String = "Rill Job") async throws -> JobExecutionResult {
        let client = try executeAsync(jobName)
        return try await withTaskCancellationHandler {
            try await client.result()
        } onCancel: {
            client.cancel()
        }
    }

    /// Runs the job to completion, blocking the calling thread (for command-line tools and
    /// benchmarks; prefer ``execute(_:)`` in async code).
    @discardableResult
    public func executeBlocking(_ jobName: String = "Rill Job") throws -> JobExecutionResult {
        try executeAsync(jobName).waitForResult()
    }
}

/// A handle to a running job (Flink's `JobClient`).
public final class JobClient: Sendable {
    let master: JobMaster

    init(master: JobMaster) { self.master = master }

    public var jobName: String { master.jobName }
    /// The job's current state.
    public var status: JobStatus { master.status }
    /// Live record counts per operator (of the current attempt).
    public var operatorCounts: [OperatorRecordCounts] { master.currentAttempt.operatorCounts() }
    /// How many times the job restarted after a failure.
    public var restarts: Int { master.restarts }

    /// Stops the job: every task stops between records, and ``result()`` throws
    /// ``RillError/Code/jobCancelled``. Checkpoints are kept unless
    /// ``CheckpointConfig/retainOnCancellation`` is off.
    public func cancel() { master.cancel() }

    /// Waits for the job to end.
    public func result() async throws -> JobExecutionResult { try await master.result() }

    /// Waits for the job to end, blocking the calling thread.
    public func waitForResult() throws -> JobExecutionResult { try master.waitForResult() }

    /// Takes a checkpoint now (in addition to periodic ones) and returns its directory.
    public func triggerCheckpoint() async throws -> String { try await master.triggerCheckpoint() }

    /// Takes a savepoint: a self-contained snapshot in `directory` that a later job (also with
    /// another parallelism) can start from. Returns its directory.
    public func triggerSavepoint(to directory: String) async throws -> String {
        try await master.triggerSavepoint(to: directory)
    }

    /// Takes a savepoint, then stops the job. Returns the savepoint's directory. Transactional
    /// sinks commit what the savepoint covers; anything after it is rolled back, and a job
    /// started from the savepoint continues exactly there.
    public func stopWithSavepoint(to directory: String) async throws -> String {
        let path = try await master.triggerSavepoint(to: directory)
        master.cancel()
        _ = try? await master.result()
        return path
    }

    /// Record batches queued in each input channel of one task right now (chain index and
    /// subtask as in ``StreamEnvironment/explain()``), for tests of backpressure.
    public func queuedBatches(task: Int, subtask: Int) -> [Int] {
        master.currentAttempt.gate(chain: task, subtask: subtask).queuedBatches
    }
    /// The most record batches ever queued at once in each input channel of one task.
    public func maxQueuedBatches(task: Int, subtask: Int) -> [Int] {
        master.currentAttempt.gate(chain: task, subtask: subtask).highWaterMarks
    }
    /// Checkpoints completed and failed so far, and the last ones' durations and sizes.
    public var checkpointStatistics: CheckpointStatistics {
        guard let checkpoints = master.checkpoints else { return CheckpointStatistics() }
        return checkpoints.statistics
    }
}
