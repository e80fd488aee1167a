/// Per-subtask keyed machinery shared by the keyed process operators: the state backend,
/// timers and the current key, around a ``ProcessCore`` whose context carries key and timers.
@usableFromInline
final class KeyedOperatorCore<Key: StableHashable, Out> {
    @usableFromInline let backend: KeyedStateBackend<Key>
    @usableFromInline let timers: InternalTimerService<Key, VoidNamespace>
    @usableFromInline let process: ProcessCore<Out, KeyedProcessContext<Key, Out>>

    /// A keyed function's `processElement` (or `processElement1`/`2`).
    @usableFromInline typealias OnElement<In> = (In, KeyedProcessContext<Key, Out>, Collector<Out>) throws -> Void
    /// A keyed function's `onTimer`.
    @usableFromInline typealias OnTimer = OnElement<Int64>

    @usableFromInline
    init(setup: OperatorSetup, output: Output<Out>) throws {
        backend = try KeyedStateBackend(maxParallelism: setup.maxParallelism, keyGroupRange: setup.keyGroupRange,
                                        clock: setup.clock)
        let timers = InternalTimerService<Key, VoidNamespace>(timeService: setup.timeService)
        self.timers = timers
        process = ProcessCore(setup: setup, output: output,
                              context: KeyedProcessContext(output: output, timerService: TimerService(timers: timers),
                                                           timeService: setup.timeService))
    }

    /// Opens `function` with keyed state; processing-time timers call `onTimer`.
    @usableFromInline
    func open(_ function: some RichFunction, onTimer: @escaping OnTimer) throws {
        timers.fireProcessingTimer = { [unowned self] timestamp, key, _ in
            try fireTimer(timestamp, key: key, domain: .processingTime, onTimer)
            try process.output.flush()
        }
        try function.open(process.setup.makeRuntimeContext(keyedState: backend))
    }

    /// Makes `key` current for state, timers and `context`.
    @inlinable @inline(__always)
    func setCurrentKey(_ key: Key, _ context: KeyedProcessContext<Key, Out>) {
        backend.setCurrentKey(key)
        context.timerService.currentKey = key
        context.key = key
    }

    /// Calls `body` for each record of `batch` under its key (`key`), then flushes.
    @inlinable @inline(__always)
    func processBatch<In>(_ batch: [StreamRecord<In>], key: (In) -> Key, _ body: OnElement<In>) throws {
        process.context.domain = nil
        try process.processBatch(batch) { value, context, collector in
            setCurrentKey(key(value), context)
            try body(value, context, collector)
        }
    }

    @inlinable @inline(__always)
    func fireTimer(_ timestamp: Int64, key: Key, domain: TimeDomain, _ onTimer: OnTimer) throws {
        let context = process.context
        let collector = process.collector
        setCurrentKey(key, context)
        context.domain = domain
        // Event-time timer output carries the timer's time; processing-time output none (as Flink).
        let outputTimestamp = domain == .eventTime ? timestamp : Int64.min
        context.currentTimestamp = outputTimestamp
        collector.timestamp = outputTimestamp
        try onTimer(timestamp, context, collector)
    }

    /// Fires the event-time timers `watermark` reaches, then forwards it.
    @inlinable @inline(__always)
    func processWatermark(_ watermark: Int64, onTimer: OnTimer) throws {
        process.context.watermark = watermark
        try timers.advanceWatermark(watermark) { timestamp, key, _ in
            try fireTimer(timestamp, key: key, domain: .eventTime, onTimer)
        }
        process.context.domain = nil
        try process.output.emitWatermark(watermark)
    }
}

/// An operator that runs a keyed process function through a ``KeyedOperatorCore``: opening
/// with keyed state, and firing timers (processing time, and event time on watermarks) into
/// the function's `onTimer`.
@usableFromInline
protocol KeyedFunctionOperator: ProcessFunctionOperator where Context == KeyedProcessContext<Key, Out> {
    associatedtype Key: StableHashable
    var core: KeyedOperatorCore<Key, Out> { get }
    /// Calls the function's `onTimer`.
    func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<Key, Out>, _ out: Collector<Out>) throws
}

extension KeyedFunctionOperator {
    @inlinable
    func open() throws { try core.open(function) { [unowned self] in try onTimer($0, $1, $2) } }

    @inlinable
    func processWatermark(_ watermark: Int64) throws {
        try core.processWatermark(watermark) { try onTimer($0, $1, $2) }
    }
}

/// Runs a ``KeyedProcessFunction``.
@usableFromInline
final class KeyedProcessOperator<F: KeyedProcessFunction>: OneInputStreamOperator, KeyedFunctionOperator {
    @usableFromInline let function: F
    @usableFromInline let key: @Sendable (F.In) -> F.Key
    @usableFromInline let core: KeyedOperatorCore<F.Key, F.Out>
    @inlinable var process: ProcessCore<F.Out, KeyedProcessContext<F.Key, F.Out>> { core.process }

    @inlinable
    init(function: F, key: @escaping @Sendable (F.In) -> F.Key, setup: OperatorSetup, output: Output<F.Out>) throws {
        self.function = function
        self.key = key
        core = try KeyedOperatorCore(setup: setup, output: output)
    }

    @inlinable
    func processBatch(_ batch: [StreamRecord<F.In>]) throws {
        try core.processBatch(batch, key: key) { try function.processElement($0, $1, $2) }
    }

    @inlinable
    func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<F.Key, F.Out>, _ out: Collector<F.Out>) throws {
        try function.onTimer(timestamp, context, out)
    }
}

/// A rolling reduce per key: emits the running result after every record (Flink's
/// `KeyedStream.reduce`).
@usableFromInline
final class KeyedReduceOperator<T, Key: StableHashable>: OneInputStreamOperator {
    @usableFromInline let key: @Sendable (T) -> Key
    @usableFromInline let reduce: @Sendable (T, T) throws -> T
    @usableFromInline let backend: KeyedStateBackend<Key>
    @usableFromInline let state: ValueState<T>
    @usableFromInline let output: Output<T>

    @inlinable
    init(key: @escaping @Sendable (T) -> Key, reduce: @escaping @Sendable (T, T) throws -> T,
         setup: OperatorSetup, output: Output<T>) throws {
        self.key = key
        self.reduce = reduce
        self.output = output
        backend = try KeyedStateBackend(maxParallelism: setup.maxParallelism, keyGroupRange: setup.keyGroupRange,
                                        clock: setup.clock)
        state = try backend.getState(ValueStateDescriptor<T>(name: "_reduce"))
    }

    @inlinable
    func processBatch(_ batch: [StreamRecord<T>]) throws {
        for record in batch {
            backend.setCurrentKey(key(record.value))
            let result: T
            if let current = state.value() {
                result = try reduce(current, record.value)
            } else {
                result = record.value
            }
            state.update(result)
            try output.collect(result, timestamp: record.timestamp)
        }
        try output.flush()
    }

    @usableFromInline func processWatermark(_ watermark: Int64) throws { try output.emitWatermark(watermark) }
    @usableFromInline func processWatermarkStatus(idle: Bool) throws { try output.emitWatermarkStatus(idle: idle) }
}
