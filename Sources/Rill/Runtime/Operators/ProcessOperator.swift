/// Runs a non-keyed process function: a ``ProcessFunction`` on one input, or a
/// ``CoProcessFunction`` on two (Flink's `ProcessOperator` and `CoProcessOperator`, which
/// differ only in their inputs).
@usableFromInline
final class ProcessOperator<Function: RichFunction, Out>: ProcessFunctionOperator {
    @usableFromInline let function: Function
    @usableFromInline let process: ProcessCore<Out, ProcessContext<Out>>

    @inlinable
    init(function: Function, setup: OperatorSetup, output: Output<Out>) {
        self.function = function
        process = ProcessCore(setup: setup, output: output)
    }
}

extension ProcessOperator: OneInputStreamOperator where Function: ProcessFunction, Function.Out == Out {
    @inlinable
    func processBatch(_ batch: [StreamRecord<Function.In>]) throws {
        try process.processBatch(batch) { try function.processElement($0, $1, $2) }
    }
}

extension ProcessOperator: TwoInputStreamOperator where Function: CoProcessFunction, Function.Out == Out {
    @inlinable
    func processBatch1(_ batch: [StreamRecord<Function.In1>]) throws {
        try process.processBatch(batch) { try function.processElement1($0, $1, $2) }
    }

    @inlinable
    func processBatch2(_ batch: [StreamRecord<Function.In2>]) throws {
        try process.processBatch(batch) { try function.processElement2($0, $1, $2) }
    }
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
