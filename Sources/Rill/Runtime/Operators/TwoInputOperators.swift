
/// Runs a ``CoProcessFunction``.
@usableFromInline
final class CoProcessOperator<F: CoProcessFunction>: TwoInputStreamOperator {
    @usableFromInline let function: F
    @usableFromInline let output: Output<F.Out>
    @usableFromInline let collector: Collector<F.Out>
    @usableFromInline let context: ProcessContext<F.Out>
    @usableFromInline let setup: OperatorSetup

    @inlinable
    init(function: F, setup: OperatorSetup, output: Output<F.Out>) {
        self.function = function
        self.setup = setup
        self.output = output
        collector = Collector(output)
        context = ProcessContext(output: output, timeService: setup.timeService)
    }

    @usableFromInline func open() throws { try function.open(setup.makeRuntimeContext()) }

    @inlinable
    func processBatch1(_ batch: [StreamRecord<F.In1>]) throws {
        for record in batch {
            context.currentTimestamp = record.timestamp
            collector.timestamp = record.timestamp
            try function.processElement1(record.value, context, collector)
        }
        try output.flush()
    }

    @inlinable
    func processBatch2(_ batch: [StreamRecord<F.In2>]) throws {
        for record in batch {
            context.currentTimestamp = record.timestamp
            collector.timestamp = record.timestamp
            try function.processElement2(record.value, context, collector)
        }
        try output.flush()
    }

    @usableFromInline func processWatermark(_ watermark: Int64) throws {
        context.watermark = watermark
        try output.emitWatermark(watermark)
    }

    @usableFromInline func processWatermarkStatus(idle: Bool) throws { try output.emitWatermarkStatus(idle: idle) }
    @usableFromInline func close() throws { try function.close() }
}

/// Runs a ``KeyedCoProcessFunction``.
@usableFromInline
final class KeyedCoProcessOperator<F: KeyedCoProcessFunction>: TwoInputStreamOperator {
    @usableFromInline let function: F
    @usableFromInline let key1: @Sendable (F.In1) -> F.Key
    @usableFromInline let key2: @Sendable (F.In2) -> F.Key
    @usableFromInline let core: KeyedOperatorCore<F.Key>
    @usableFromInline let output: Output<F.Out>
    @usableFromInline let collector: Collector<F.Out>
    @usableFromInline let context: KeyedProcessContext<F.Key, F.Out>
    @usableFromInline let setup: OperatorSetup

    @inlinable
    init(function: F, key1: @escaping @Sendable (F.In1) -> F.Key, key2: @escaping @Sendable (F.In2) -> F.Key,
         setup: OperatorSetup, output: Output<F.Out>) throws {
        self.function = function
        self.key1 = key1
        self.key2 = key2
        self.setup = setup
        self.output = output
        core = try KeyedOperatorCore(setup: setup)
        collector = Collector(output)
        context = KeyedProcessContext(output: output, timerService: core.timerService, timeService: setup.timeService)
    }

    @usableFromInline func open() throws {
        core.timers.fireProcessingTimer = { [unowned self] timestamp, key, _ in
            try onTimer(timestamp, key: key, domain: .processingTime)
            try output.flush()
        }
        try function.open(setup.makeRuntimeContext(keyedState: core.backend))
    }

    @inlinable
    func setKey(_ key: F.Key, timestamp: Int64) {
        core.setCurrentKey(key)
        context.key = key
        context.domain = nil
        context.currentTimestamp = timestamp
        collector.timestamp = timestamp
    }

    @inlinable
    func processBatch1(_ batch: [StreamRecord<F.In1>]) throws {
        for record in batch {
            setKey(key1(record.value), timestamp: record.timestamp)
            try function.processElement1(record.value, context, collector)
        }
        try output.flush()
    }

    @inlinable
    func processBatch2(_ batch: [StreamRecord<F.In2>]) throws {
        for record in batch {
            setKey(key2(record.value), timestamp: record.timestamp)
            try function.processElement2(record.value, context, collector)
        }
        try output.flush()
    }

    @inlinable
    func onTimer(_ timestamp: Int64, key: F.Key, domain: TimeDomain) throws {
        setKey(key, timestamp: domain == .eventTime ? timestamp : Int64.min)
        context.domain = domain
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

/// Runs a ``BroadcastProcessFunction``: input 1 is the regular stream, input 2 the broadcast one.
@usableFromInline
final class BroadcastProcessOperator<F: BroadcastProcessFunction, K: Hashable, V>: TwoInputStreamOperator {
    @usableFromInline let function: F
    @usableFromInline let output: Output<F.Out>
    @usableFromInline let collector: Collector<F.Out>
    @usableFromInline let readOnlyContext: BroadcastReadOnlyContext<F.Out>
    @usableFromInline let broadcastContext: BroadcastContext<F.Out>
    @usableFromInline let store = OperatorStateStore()
    @usableFromInline let setup: OperatorSetup

    @inlinable
    init(function: F, descriptor: BroadcastStateDescriptor<K, V>, setup: OperatorSetup, output: Output<F.Out>) throws {
        self.function = function
        self.setup = setup
        self.output = output
        collector = Collector(output)
        readOnlyContext = BroadcastReadOnlyContext(output: output, timeService: setup.timeService, store: store)
        broadcastContext = BroadcastContext(output: output, timeService: setup.timeService, store: store)
        _ = try store.broadcastState(name: descriptor.name, keyType: K.self, valueType: V.self)
    }

    @usableFromInline func open() throws { try function.open(setup.makeRuntimeContext()) }

    @inlinable
    func processBatch1(_ batch: [StreamRecord<F.In>]) throws {
        for record in batch {
            readOnlyContext.currentTimestamp = record.timestamp
            collector.timestamp = record.timestamp
            try function.processElement(record.value, readOnlyContext, collector)
        }
        try output.flush()
    }

    @inlinable
    func processBatch2(_ batch: [StreamRecord<F.BroadcastIn>]) throws {
        for record in batch {
            broadcastContext.currentTimestamp = record.timestamp
            collector.timestamp = record.timestamp
            try function.processBroadcastElement(record.value, broadcastContext, collector)
        }
        try output.flush()
    }

    @usableFromInline func processWatermark(_ watermark: Int64) throws {
        readOnlyContext.watermark = watermark
        broadcastContext.watermark = watermark
        try output.emitWatermark(watermark)
    }

    @usableFromInline func processWatermarkStatus(idle: Bool) throws { try output.emitWatermarkStatus(idle: idle) }
    @usableFromInline func close() throws { try function.close() }
}
