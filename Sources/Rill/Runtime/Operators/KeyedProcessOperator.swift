/// Per-subtask keyed machinery shared by keyed operators: the state backend, timers, and the
/// current key.
@usableFromInline
final class KeyedOperatorCore<Key: StableHashable> {
    @usableFromInline let backend: KeyedStateBackend<Key>
    @usableFromInline let timers: InternalTimerService<Key, VoidNamespace>
    @usableFromInline let timerService: TimerService<Key>

    @usableFromInline
    init(setup: OperatorSetup) throws {
        backend = try KeyedStateBackend(maxParallelism: setup.maxParallelism, keyGroupRange: setup.keyGroupRange,
                                        clock: setup.clock)
        timers = InternalTimerService(timeService: setup.timeService)
        timerService = TimerService(timers: timers)
    }

    @inlinable
    func setCurrentKey(_ key: Key) {
        backend.setCurrentKey(key)
        timerService.currentKey = key
    }
}

/// Runs a ``KeyedProcessFunction``.
@usableFromInline
final class KeyedProcessOperator<F: KeyedProcessFunction>: OneInputStreamOperator {
    @usableFromInline let function: F
    @usableFromInline let key: @Sendable (F.In) -> F.Key
    @usableFromInline let core: KeyedOperatorCore<F.Key>
    @usableFromInline let output: Output<F.Out>
    @usableFromInline let collector: Collector<F.Out>
    @usableFromInline let context: KeyedProcessContext<F.Key, F.Out>
    @usableFromInline let setup: OperatorSetup

    @inlinable
    init(function: F, key: @escaping @Sendable (F.In) -> F.Key, setup: OperatorSetup, output: Output<F.Out>) throws {
        self.function = function
        self.key = key
        self.setup = setup
        self.output = output
        core = try KeyedOperatorCore(setup: setup)
        collector = Collector(output)
        context = KeyedProcessContext(output: output, timerService: core.timerService, timeService: setup.timeService)
    }

    @usableFromInline
    func open() throws {
        core.timers.fireProcessingTimer = { [unowned self] timestamp, key, _ in
            try onTimer(timestamp, key: key, domain: .processingTime)
            try output.flush()
        }
        try function.open(setup.makeRuntimeContext(keyedState: core.backend))
    }

    @inlinable
    func processBatch(_ batch: [StreamRecord<F.In>]) throws {
        context.domain = nil
        for record in batch {
            let key = key(record.value)
            core.setCurrentKey(key)
            context.key = key
            context.currentTimestamp = record.timestamp
            collector.timestamp = record.timestamp
            try function.processElement(record.value, context, collector)
        }
        try output.flush()
    }

    @inlinable
    func onTimer(_ timestamp: Int64, key: F.Key, domain: TimeDomain) throws {
        core.setCurrentKey(key)
        context.key = key
        context.domain = domain
        // Event-time timer output carries the timer's time; processing-time output none (as Flink).
        let outputTimestamp = domain == .eventTime ? timestamp : Int64.min
        context.currentTimestamp = outputTimestamp
        collector.timestamp = outputTimestamp
        try function.onTimer(timestamp, context, collector)
    }

    @inlinable
    func processWatermark(_ watermark: Int64) throws {
        context.watermark = watermark
        try core.timers.advanceWatermark(watermark) { timestamp, key, _ in
            try onTimer(timestamp, key: key, domain: .eventTime)
        }
        context.domain = nil
        try output.emitWatermark(watermark)
    }

    @usableFromInline func processWatermarkStatus(idle: Bool) throws { try output.emitWatermarkStatus(idle: idle) }
    @usableFromInline func finish() throws { try output.flush() }
    @usableFromInline func close() throws { try function.close() }
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
