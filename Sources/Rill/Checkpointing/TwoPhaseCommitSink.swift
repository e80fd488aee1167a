/// A sink that delivers exactly once by writing into transactions that commit with
/// checkpoints (Flink's `TwoPhaseCommitSinkFunction`).
///
/// Per subtask: records go into the current transaction; on a checkpoint barrier the
/// transaction is pre-committed (after which commit must not fail) and a new one begins; when
/// the checkpoint completes, its pre-committed transactions are committed. After a restore,
/// the transactions the checkpoint says were pre-committed are committed again (so `commit`
/// must be idempotent), and every other transaction this sink owns is aborted.
public protocol TwoPhaseCommitSink<Input>: Sendable {
    associatedtype Input
    /// Enough to commit or abort the transaction from another process: it is checkpointed.
    associatedtype Transaction: Codable & Sendable

    func beginTransaction(_ context: SinkContext) throws -> Transaction
    func write(_ element: Input, to transaction: inout Transaction, _ context: SinkWriteContext) throws
    /// Makes the transaction durable but invisible; after this, `commit` must succeed.
    func preCommit(_ transaction: inout Transaction) throws
    /// Makes the transaction visible. Called again after a restore: must be idempotent.
    func commit(_ transaction: Transaction) throws
    func abort(_ transaction: Transaction)
    /// After a restore, before new transactions: abort every transaction this subtask owns
    /// that is neither committed nor in `keeping` (the restored pre-committed ones). A
    /// transaction begun by former subtask `i` is owned by subtask `i % parallelism` — the
    /// same rule decides which subtask gets it back in `keeping` — so each is handled once.
    func abortLingering(_ context: SinkContext, keeping: [Transaction]) throws
}

/// Drives a ``TwoPhaseCommitSink``.
@usableFromInline
final class TwoPhaseCommitSinkOperator<S: TwoPhaseCommitSink>: OneInputStreamOperator, CheckpointedOperator {
    @usableFromInline let sink: S
    @usableFromInline let context = SinkWriteContext()
    let sinkContext: SinkContext
    @usableFromInline var current: S.Transaction?
    /// Pre-committed transactions by the checkpoint that covers them.
    var pending: [(checkpointId: Int64, transaction: S.Transaction)] = []
    var restored: [S.Transaction] = []
    /// Pre-committed at end of input, waiting for the next checkpoint.
    var lastTransaction: S.Transaction?

    @usableFromInline
    init(sink: S, setup: OperatorSetup) {
        self.sink = sink
        sinkContext = SinkContext(setup: setup)
    }

    @usableFromInline func initializeState(_ restore: OperatorRestoreState) throws {
        let decoder = BinaryCodableDecoder()
        for state in restore.operatorState where state.name == "pending-transactions" {
            for element in state.bytes {
                var reader = BinaryReader(element)
                let formerSubtask = try reader.readLength()
                guard formerSubtask % sinkContext.parallelism == sinkContext.subtaskIndex else { continue }
                restored.append(try decoder.decode(S.Transaction.self, from: try reader.readBytes()))
            }
        }
    }

    @usableFromInline func open() throws {
        // Finish what the checkpoint pre-committed, then clear out anything else of ours.
        for transaction in restored { try sink.commit(transaction) }
        try sink.abortLingering(sinkContext, keeping: restored)
        restored = []
        current = try sink.beginTransaction(sinkContext)
    }

    @inlinable
    func processBatch(_ batch: [StreamRecord<S.Input>]) throws {
        for record in batch {
            context.currentTimestamp = record.timestamp
            try sink.write(record.value, to: &current!, context)
        }
    }

    @usableFromInline func processWatermark(_ watermark: Int64) throws { context.watermark = watermark }

    @usableFromInline func snapshotState(checkpointId: Int64, into snapshot: OperatorSnapshot, incremental: Bool) throws {
        if let last = lastTransaction {
            // Input ended: the last transaction (pre-committed then) commits with this checkpoint.
            pending.append((checkpointId, last))
            lastTransaction = nil
        } else if var transaction = current {
            try sink.preCommit(&transaction)
            pending.append((checkpointId, transaction))
            current = try sink.beginTransaction(sinkContext)
        }
        let encoder = BinaryCodableEncoder()
        let subtask = sinkContext.subtaskIndex
        let elements = try pending.map {
            var writer = BinaryWriter(capacity: 64)
            writer.writeVarUInt(UInt64(subtask))
            writer.writeBytes(try encoder.encode($0.transaction))
            return writer.bytes
        }
        snapshot.operatorState.append((name: "pending-transactions", distribution: "union", elements: { elements }))
    }

    @usableFromInline func notifyCheckpointComplete(_ checkpointId: Int64) throws {
        let (done, waiting) = (pending.filter { $0.checkpointId <= checkpointId }, pending.filter { $0.checkpointId > checkpointId })
        for entry in done { try sink.commit(entry.transaction) }
        pending = waiting
    }

    /// End of input: the last transaction is pre-committed here. With periodic checkpoints it
    /// commits with the next checkpoint, which the task waits for (``awaitsFinalCheckpoint``);
    /// without, it commits with those still pending when the whole job attempt has finished
    /// (``FinalCommits``).
    @usableFromInline func finish() throws {
        guard var last = current else { return }
        try sink.preCommit(&last)
        current = nil
        if sinkContext.setup.configuration.checkpoints.interval != nil {
            lastTransaction = last
            return
        }
        let (sink, transaction) = (self.sink, last)
        let waiting = pending.map(\.transaction)
        pending = []
        let (name, subtask, parallelism) = (sinkContext.operatorName, sinkContext.subtaskIndex, sinkContext.parallelism)
        sinkContext.setup.job.finalCommits.add(
            commit: {
                do {
                    for earlier in waiting { try sink.commit(earlier) }
                    try sink.commit(transaction)
                } catch {
                    throw RillError(.sinkFailed, "operator '\(name)' (subtask \(subtask + 1) of \(parallelism)) could not commit its last transactions at the end of the job: \(error)",
                                    operatorName: name, subtaskIndex: subtask, underlying: error)
                }
            },
            // The pending ones belong to checkpoints that may have completed: a restored sink
            // commits or aborts them.
            abort: { sink.abort(transaction) })
    }

    @usableFromInline func close() throws {
        if let current { sink.abort(current) }
        current = nil
    }
}

extension TwoPhaseCommitSinkOperator: FinalCheckpointAwaiting {
    @usableFromInline var awaitsFinalCheckpoint: Bool { lastTransaction != nil || !pending.isEmpty }
}

extension DataStream {
    /// Sends the stream to a transactional sink with exactly-once delivery (requires
    /// checkpoints; without them, data commits only at the end of a bounded job).
    @discardableResult
    @inlinable
    public func sinkTo<S: TwoPhaseCommitSink>(_ sink: S, name: String = "Transactional Sink") -> DataStream<Never>
    where S.Input == T {
        let node = graph.addNode(name: name, kind: .sink, outputOps: nil) { setup, _ in
            BuiltOperator(oneInput: TwoPhaseCommitSinkOperator(sink: sink, setup: setup))
        }
        connect(to: node, inputIndex: 0)
        return DataStream<Never>(environment: environment, node: node.id)
    }
}
