/// Runs a ``ProcessFunction``.
@usableFromInline
final class ProcessOperator<F: ProcessFunction>: OneInputStreamOperator {
    @usableFromInline let function: F
    @usableFromInline let output: Output<F.Out>
    @usableFromInline let collector: Collector<F.Out>
    @usableFromInline let context: ProcessContext<F.Out>
    @usableFromInline let setup: OperatorSetup

    @inlinable
    init(function: F, setup: OperatorSetup, output: Output<F.Out>) {
        self.function = function
        self.output = output
        self.setup = setup
        collector = Collector(output)
        context = ProcessContext(output: output, timeService: setup.timeService)
    }

    @usableFromInline func open() throws { try function.open(setup.makeRuntimeContext()) }

    @inlinable
    func processBatch(_ batch: [StreamRecord<F.In>]) throws {
        for record in batch {
            context.currentTimestamp = record.timestamp
            collector.timestamp = record.timestamp
            try function.processElement(record.value, context, collector)
        }
        try output.flush()
    }

    @usableFromInline func processWatermark(_ watermark: Int64) throws {
        context.watermark = watermark
        try output.emitWatermark(watermark)
    }

    @usableFromInline func processWatermarkStatus(idle: Bool) throws { try output.emitWatermarkStatus(idle: idle) }
    @usableFromInline func finish() throws { try output.flush() }
    @usableFromInline func close() throws { try function.close() }
}

/// Assigns timestamps and generates watermarks mid-stream (Flink's `TimestampsAndWatermarksOperator`).
@usableFromInline
final class TimestampsAndWatermarksOperator<T>: OneInputStreamOperator {
    @usableFromInline let output: Output<T>
    @usableFromInline let strategy: WatermarkStrategy<T>
    @usableFromInline let generator: any WatermarkGenerator<T>
    @usableFromInline let emitter: WatermarkEmitter
    @usableFromInline let setup: OperatorSetup

    @inlinable
    init(strategy: WatermarkStrategy<T>, setup: OperatorSetup, output: Output<T>) {
        self.strategy = strategy
        self.setup = setup
        self.output = output
        generator = strategy.makeGenerator(clock: setup.clock)
        emitter = WatermarkEmitter(emit: { try output.emitWatermark($0) },
                                   emitStatus: { try output.emitWatermarkStatus(idle: $0) })
    }

    @usableFromInline func open() throws {
        let interval = setup.configuration.autoWatermarkInterval.milliseconds
        guard interval > 0 else { return }
        setup.timeService.scheduleAtFixedRate(period: interval) { [unowned self] _ in
            generator.onPeriodicEmit(output: emitter)
            try emitter.rethrowPending()
        }
    }

    @inlinable
    func processBatch(_ batch: [StreamRecord<T>]) throws {
        for record in batch {
            let timestamp = strategy.extractTimestamp(record.value, recordTimestamp: record.timestamp)
            generator.onEvent(record.value, timestamp: timestamp, output: emitter)
            try output.collect(record.value, timestamp: timestamp)
        }
        try output.flush()
        try emitter.rethrowPending()
    }

    /// Upstream watermarks are replaced by this operator's own, except the end-of-input one.
    @usableFromInline func processWatermark(_ watermark: Int64) throws {
        if watermark == Int64.max {
            emitter.emitWatermark(watermark)
            try emitter.rethrowPending()
        }
    }

    @usableFromInline func processWatermarkStatus(idle: Bool) throws {}
}
