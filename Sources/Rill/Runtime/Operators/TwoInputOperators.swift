/// Runs a ``KeyedCoProcessFunction``.
@usableFromInline
final class KeyedCoProcessOperator<F: KeyedCoProcessFunction>: TwoInputStreamOperator, KeyedFunctionOperator {
    @usableFromInline let function: F
    @usableFromInline let key1: @Sendable (F.In1) -> F.Key
    @usableFromInline let key2: @Sendable (F.In2) -> F.Key
    @usableFromInline let core: KeyedOperatorCore<F.Key, F.Out>
    @inlinable var process: ProcessCore<F.Out, KeyedProcessContext<F.Key, F.Out>> { core.process }

    @inlinable
    init(function: F, key1: @escaping @Sendable (F.In1) -> F.Key, key2: @escaping @Sendable (F.In2) -> F.Key,
         setup: OperatorSetup, output: Output<F.Out>) throws {
        self.function = function
        self.key1 = key1
        self.key2 = key2
        core = try KeyedOperatorCore(setup: setup, output: output)
    }

    @inlinable
    func processBatch1(_ batch: [StreamRecord<F.In1>]) throws {
        try core.processBatch(batch, key: key1) { try function.processElement1($0, $1, $2) }
    }

    @inlinable
    func processBatch2(_ batch: [StreamRecord<F.In2>]) throws {
        try core.processBatch(batch, key: key2) { try function.processElement2($0, $1, $2) }
    }

    @inlinable
    func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<F.Key, F.Out>, _ out: Collector<F.Out>) throws {
        try function.onTimer(timestamp, context, out)
    }
}

/// Runs a ``BroadcastProcessFunction``: input 1 is the regular stream, input 2 the broadcast one.
@usableFromInline
final class BroadcastProcessOperator<F: BroadcastProcessFunction, K: Hashable, V>: TwoInputStreamOperator, ProcessFunctionOperator {
    @usableFromInline let function: F
    /// Its context is the regular input's, where broadcast state is read-only.
    @usableFromInline let process: ProcessCore<F.Out, BroadcastReadOnlyContext<F.Out>>
    @usableFromInline let broadcastContext: BroadcastContext<F.Out>
    @usableFromInline let store = OperatorStateStore()

    @inlinable
    init(function: F, descriptor: BroadcastStateDescriptor<K, V>, setup: OperatorSetup, output: Output<F.Out>) throws {
        self.function = function
        process = ProcessCore(setup: setup, output: output,
                              context: BroadcastReadOnlyContext(output: output, timeService: setup.timeService, store: store))
        broadcastContext = BroadcastContext(output: output, timeService: setup.timeService, store: store)
        _ = try store.broadcastState(name: descriptor.name, keyType: K.self, valueType: V.self)
    }

    @inlinable
    func processBatch1(_ batch: [StreamRecord<F.In>]) throws {
        try process.processBatch(batch) { try function.processElement($0, $1, $2) }
    }

    @inlinable
    func processBatch2(_ batch: [StreamRecord<F.BroadcastIn>]) throws {
        try process.processBatch(batch, stamping: broadcastContext) { try function.processBroadcastElement($0, $1, $2) }
    }

    @usableFromInline func processWatermark(_ watermark: Int64) throws {
        broadcastContext.watermark = watermark
        try process.processWatermark(watermark)
    }
}

extension BroadcastProcessOperator: CheckpointedOperator {
    @usableFromInline func initializeState(_ restore: OperatorRestoreState) throws {
        try store.restore(restore.operatorState)
    }

    @usableFromInline func snapshotState(checkpointId: Int64, into snapshot: OperatorSnapshot, incremental: Bool) throws {
        store.snapshot(into: snapshot)
    }
}
