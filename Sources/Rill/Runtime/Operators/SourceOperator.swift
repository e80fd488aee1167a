/// Runs a ``SplitEnumerator`` for all subtasks of one source, on whichever thread calls it,
/// one call at a time.
@usableFromInline final class SourceCoordinator<S: Source>: SourceCoordinating, @unchecked Sendable {
    // Every access to `enumerator` and `context` happens under `lock`.
    private let lock = ConditionLock()
    private let context: SplitEnumeratorContext<S.Split>
    private var enumerator: S.Enumerator?
    private let source: S
    private let parallelism: Int
    /// Unassigned splits from the checkpoint being restored.
    private var restoredSplits: [S.Split]?
    private var closedReaders = 0

    @usableFromInline init(source: S, parallelism: Int) {
        self.source = source
        self.parallelism = parallelism
        context = SplitEnumeratorContext(currentParallelism: parallelism)
    }

    @usableFromInline func registerReader(subtask: Int, setup: OperatorSetup, addSplits: @escaping ([S.Split]) -> Void,
                        noMoreSplits: @escaping () -> Void) throws {
        try lock.withLock {
            if enumerator == nil {
                let created = try restoredSplits.map { try source.restoreEnumerator(context, unassignedSplits: $0) }
                    ?? source.createEnumerator(context)
                try created.start()
                enumerator = created
            }
            // Assignments run on the reader's own thread, between records.
            context.readers[subtask] = .init(
                addSplits: { splits in setup.gate.enqueueMail { addSplits(splits) } },
                noMoreSplits: { setup.gate.enqueueMail { noMoreSplits() } })
            try enumerator!.addReader(subtask: subtask)
        }
    }

    @usableFromInline func requestSplit(subtask: Int) throws {
        try lock.withLock { try enumerator?.handleSplitRequest(subtask: subtask) }
    }

    /// Restores the enumerator from a checkpoint (the first subtask to ask wins; all carry the
    /// same state).
    func restore(unassignedSplits: [S.Split]) {
        lock.withLock { if restoredSplits == nil && enumerator == nil { restoredSplits = unassignedSplits } }
    }

    /// The enumerator's unassigned splits, encoded, taken while `inject` runs under the lock, so
    /// that no split assignment falls between the snapshot and the barriers' injection. `nil`
    /// before any reader registered: no split is assigned yet, and a restore must start the
    /// enumerator afresh (an empty list would say that every split was handed out).
    func snapshot(whileInjecting inject: () -> Void) throws -> [UInt8]? {
        try lock.withLock {
            let splits = enumerator?.snapshotState() ?? restoredSplits
            inject()
            return try splits.map { try BinaryCodableEncoder().encode($0) }
        }
    }

    /// Closes the enumerator when every reader of the job attempt is gone (not merely those
    /// registered so far: a slow subtask must still find the same enumerator).
    @usableFromInline func readerClosed() {
        lock.withLock {
            closedReaders += 1
            if closedReaders >= parallelism {
                enumerator?.close()
                enumerator = nil
            }
        }
    }
}

/// The head of a source task: drives a ``SourceReader``, assigns timestamps, and emits
/// periodic watermarks.
@usableFromInline
final class SourceOperator<S: Source>: StreamOperator {
    @usableFromInline let reader: S.Reader
    @usableFromInline let readerOutput: ReaderOutput<S.Output>
    @usableFromInline let output: Output<S.Output>
    @usableFromInline let setup: OperatorSetup
    @usableFromInline let coordinator: SourceCoordinator<S>
    @usableFromInline let emitter: WatermarkEmitter
    @usableFromInline let generator: (any WatermarkGenerator<S.Output>)?
    @usableFromInline var ended = false

    @usableFromInline
    init(source: S, strategy: WatermarkStrategy<S.Output>, setup: OperatorSetup, output: Output<S.Output>) throws {
        self.output = output
        self.setup = setup
        coordinator = setup.job.object("source-coordinator-\(setup.nodeId)") {
            SourceCoordinator(source: source, parallelism: setup.parallelism)
        }
        let emitter = WatermarkEmitter(emit: { try output.emitWatermark($0) },
                                       emitStatus: { try output.emitWatermarkStatus(idle: $0) })
        self.emitter = emitter
        generator = !(strategy.makeGenerator(clock: setup.clock) is NoWatermarksGenerator<S.Output>) ? strategy.makeGenerator(clock: setup.clock) : nil
        let subtask = setup.subtaskIndex
        let coordinator = self.coordinator
        reader = try source.createReader(SourceReaderContext(setup: setup) {
            try coordinator.requestSplit(subtask: subtask)
        })
        readerOutput = ReaderOutput(output: output, timestampAssigner: strategy.timestampAssigner,
                                    generator: generator, watermarks: emitter)
    }

    @usableFromInline func open() throws {
        let reader = self.reader
        try coordinator.registerReader(subtask: setup.subtaskIndex, setup: setup,
                                       addSplits: { reader.addSplits($0) },
                                       noMoreSplits: { reader.notifyNoMoreSplits() })
        try reader.start()
        if let generator {
            let interval = setup.configuration.autoWatermarkInterval.milliseconds
            if interval > 0 {
                setup.timeService.scheduleAtFixedRate(period: interval) { [unowned self] _ in
                    guard !self.ended else { return }
                    generator.onPeriodicEmit(output: self.emitter)
                    try self.emitter.rethrowPending()
                }
            }
        }
    }

    @inlinable
    func pollNext() throws -> InputStatus {
        let status = try reader.pollNext(readerOutput)
        try output.flush()
        try emitter.rethrowPending()
        return status
    }

    @usableFromInline func processWatermark(_ watermark: Int64) throws {}

    /// A source that ends emits the final watermark, which fires every pending event-time timer
    /// downstream (Flink's `MAX_WATERMARK`).
    @usableFromInline func endInput() throws {
        ended = true
        if emitter.idle { emitter.markActive() }
        emitter.emitWatermark(Int64.max)
        try emitter.rethrowPending()
    }

    @usableFromInline func close() throws {
        defer { coordinator.readerClosed() }
        try reader.close()
    }
}

/// What the checkpoint coordinator needs of a source coordinator, whatever its source type.
protocol SourceCoordinating: AnyObject {
    func snapshot(whileInjecting inject: () -> Void) throws -> [UInt8]?
}

extension SourceOperator: CheckpointedOperator {
    @usableFromInline
    func initializeState(_ restore: OperatorRestoreState) throws {
        if let enumerator = restore.extra["enumerator"]?.first {
            coordinator.restore(unassignedSplits: try BinaryCodableDecoder().decode([S.Split].self, from: enumerator))
        }
        let splits = try restore.operatorState.filter { $0.name == "splits" }.flatMap(\.bytes).map {
            try BinaryCodableDecoder().decode(S.Split.self, from: $0)
        }
        if !splits.isEmpty { reader.addSplits(splits) }
    }

    @usableFromInline
    func snapshotState(checkpointId: Int64, into snapshot: OperatorSnapshot, incremental: Bool) throws {
        let splits = reader.snapshotState(checkpointId: checkpointId)
        let elements = try splits.map { try BinaryCodableEncoder().encode($0) }
        snapshot.operatorState.append((name: "splits", distribution: "split", elements: { elements }))
    }
}
