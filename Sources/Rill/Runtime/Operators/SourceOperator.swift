/// Runs a ``SplitEnumerator`` for all subtasks of one source, on whichever thread calls it,
/// one call at a time.
@usableFromInline final class SourceCoordinator<S: Source>: @unchecked Sendable {
    // Every access to `enumerator` and `context` happens under `lock`.
    private let lock = ConditionLock()
    private let context: SplitEnumeratorContext<S.Split>
    private var enumerator: S.Enumerator?
    private let source: S
    private let parallelism: Int
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
                let created = try source.createEnumerator(context)
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

    /// Closes the enumerator when the last reader is gone.
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
