import Foundation
import Synchronization
import XCTest
@testable import Rill
import RillTesting

/// A transactional sink that writes one record per permit and notes how many records it had
/// written when each pre-commit (its part of a checkpoint) happened.
struct GatedTransactionalSink: TwoPhaseCommitSink {
    final class Probe: Sendable {
        /// Records written when each pre-commit happened.
        let preCommits = Mutex<[Int]>([])
        let written = Atomic<Int>(0)
    }

    let inner: TransactionalCollectSink<KeySum>
    let gate: PermitGate
    let probe = Probe()

    init(_ results: TransactionalResults<KeySum>, gate: PermitGate) {
        inner = TransactionalCollectSink(results)
        self.gate = gate
    }

    func beginTransaction(_ context: SinkContext) throws -> TransactionalCollectSink<KeySum>.Transaction {
        context.onCancel { [gate] in gate.open() }
        return try inner.beginTransaction(context)
    }

    func write(_ element: KeySum, to transaction: inout TransactionalCollectSink<KeySum>.Transaction,
               _ context: SinkWriteContext) throws {
        gate.acquire()
        probe.written.add(1, ordering: .relaxed)
        try inner.write(element, to: &transaction, context)
    }

    func preCommit(_ transaction: inout TransactionalCollectSink<KeySum>.Transaction) throws {
        let count = probe.written.load(ordering: .relaxed)
        probe.preCommits.withLock { $0.append(count) }
        try inner.preCommit(&transaction)
    }

    func commit(_ transaction: TransactionalCollectSink<KeySum>.Transaction) throws { try inner.commit(transaction) }
    func abort(_ transaction: TransactionalCollectSink<KeySum>.Transaction) { inner.abort(transaction) }
    func abortLingering(_ context: SinkContext, keeping: [TransactionalCollectSink<KeySum>.Transaction]) throws {
        try inner.abortLingering(context, keeping: keeping)
    }
}

final class UnalignedCheckpointTests: XCTestCase {
    let records: Int64 = 20_000
    let keys: Int64 = 50
    let batchSize = 16
    let capacity = 4

    // MARK: the alignment state machine

    func barrier(_ id: Int64, unaligned: Bool = false, timeout: Int64? = nil, at millis: Int64 = 0) -> CheckpointBarrier {
        CheckpointBarrier(checkpointId: id, timestampMillis: millis, type: .checkpoint, unaligned: unaligned,
                          alignedTimeoutMillis: timeout)
    }

    func testTheFirstUnalignedBarrierSnapshotsAtOnceAndTheOthersEndTheRecording() {
        var aligner = BarrierAligner(mode: .exactlyOnce, channelCount: 3)
        XCTAssertEqual(aligner.barrierArrived(barrier(1, unaligned: true), channel: 1, nowMillis: 0),
                       .snapshotUnaligned(barrier(1, unaligned: true), awaiting: [0, 2]))
        XCTAssertEqual(aligner.barrierArrived(barrier(1, unaligned: true), channel: 0, nowMillis: 0),
                       .unalignedProgress(checkpointId: 1, channel: 0, complete: false))
        XCTAssertEqual(aligner.channelEnded(2), .unalignedProgress(checkpointId: 1, channel: 2, complete: true))
        XCTAssertNil(aligner.pendingCheckpoint)
        XCTAssertEqual(aligner.barrierArrived(barrier(1, unaligned: true), channel: 1, nowMillis: 0), .none,
                       "a barrier of a finished checkpoint is stale")
    }

    func testAnUnalignedBarrierOnASingleChannelCompletesAtOnce() {
        var aligner = BarrierAligner(mode: .exactlyOnce, channelCount: 1)
        XCTAssertEqual(aligner.barrierArrived(barrier(4, unaligned: true), channel: 0, nowMillis: 0),
                       .snapshotUnaligned(barrier(4, unaligned: true), awaiting: []))
        XCTAssertNil(aligner.pendingCheckpoint)
    }

    func testAlignmentThatTimesOutContinuesUnalignedWithoutTheBlockedChannels() {
        var aligner = BarrierAligner(mode: .exactlyOnce, channelCount: 3)
        let aligned = barrier(2, timeout: 100, at: 1_000)
        XCTAssertEqual(aligner.barrierArrived(aligned, channel: 0, nowMillis: 1_010), .block(channel: 0))
        XCTAssertEqual(aligner.alignmentTimedOut(1), .none, "another checkpoint's timeout changes nothing")
        XCTAssertEqual(aligner.alignmentTimedOut(2), .snapshotUnaligned(aligned.asUnaligned(), awaiting: [1, 2]))
        XCTAssertEqual(aligner.barrierArrived(aligned, channel: 1, nowMillis: 1_200),
                       .unalignedProgress(checkpointId: 2, channel: 1, complete: false))
    }

    func testAnAlignedBarrierArrivingAfterItsTimeoutIsHandledUnaligned() {
        var aligner = BarrierAligner(mode: .exactlyOnce, channelCount: 2)
        let late = barrier(3, timeout: 100, at: 1_000)
        XCTAssertEqual(aligner.barrierArrived(late, channel: 1, nowMillis: 1_100),
                       .snapshotUnaligned(late.asUnaligned(), awaiting: [0]))
    }

    func testANewerCheckpointAbortsTheUnalignedOneInProgress() {
        var aligner = BarrierAligner(mode: .exactlyOnce, channelCount: 2)
        _ = aligner.barrierArrived(barrier(1, unaligned: true), channel: 0, nowMillis: 0)
        XCTAssertEqual(aligner.barrierArrived(barrier(2, unaligned: true), channel: 0, nowMillis: 0),
                       .abort(checkpointId: 1, then: .snapshotUnaligned(barrier(2, unaligned: true), awaiting: [1])))
        XCTAssertEqual(aligner.pendingCheckpoint, 2)
    }

    // MARK: the gate

    func testAPriorityBarrierOvertakesQueuedRecordsEvenOnABlockedChannel() throws {
        let gate = InputGate(channelCount: 2, capacity: 8)
        let first = RecordBatch([StreamRecord<Int>(1)]), second = RecordBatch([StreamRecord<Int>(2)])
        try gate.push(.records(first, count: 1), channel: 0)
        try gate.push(.watermark(5), channel: 0)
        try gate.push(.records(second, count: 1), channel: 0)
        gate.setBlocked(true, channel: 0)
        try gate.pushPriority(barrier(7, unaligned: true), channel: 0)
        guard case let (0, .priorityBarrier(polled, overtaken))? = gate.poll() else {
            return XCTFail("the priority barrier comes first, though the channel is blocked")
        }
        XCTAssertEqual(polled.checkpointId, 7)
        XCTAssertEqual(overtaken.map(ObjectIdentifier.init), [ObjectIdentifier(first), ObjectIdentifier(second)],
                       "the overtaken record batches, in order, without the watermark")
        XCTAssertNil(gate.poll(), "the records behind it stay blocked")
        gate.setBlocked(false, channel: 0)
        guard case (0, .records)? = gate.poll() else { return XCTFail("the overtaken records are still delivered") }
    }

    func testAQueuedAlignedBarrierCanBeTakenOutWithTheRecordsInFrontOfIt() throws {
        let gate = InputGate(channelCount: 1, capacity: 8)
        let batch = RecordBatch([StreamRecord<Int>(1)])
        try gate.push(.records(batch, count: 1), channel: 0)
        try gate.push(.barrier(barrier(3)), channel: 0)
        try gate.push(.records(RecordBatch([StreamRecord<Int>(2)]), count: 1), channel: 0)
        XCTAssertNil(gate.extractBarrier(2, channel: 0))
        let (extracted, overtaken) = try XCTUnwrap(gate.extractBarrier(3, channel: 0))
        XCTAssertEqual(extracted.checkpointId, 3)
        XCTAssertEqual(overtaken.map(ObjectIdentifier.init), [ObjectIdentifier(batch)])
        var kinds: [String] = []
        while let (_, element) = gate.poll() {
            if case .records = element { kinds.append("records") } else { kinds.append("other") }
        }
        XCTAssertEqual(kinds, ["records", "records"], "the barrier is gone; both batches remain")
    }

    func testRestoredInFlightRecordsAreTakenBeforeAnyNewInput() throws {
        let gate = InputGate(channelCount: 2, capacity: 1)
        let restored = [RecordBatch([StreamRecord<Int>(1)]), RecordBatch([StreamRecord<Int>(2)])]
        gate.setRestoringInFlightRecords(true)
        for batch in restored { try gate.push(.records(batch, count: 1), channel: 1) }
        gate.setRestoringInFlightRecords(false)
        try gate.push(.records(RecordBatch([StreamRecord<Int>(3)]), count: 1), channel: 0)
        var order: [Int] = []
        while let (channel, element) = gate.poll() {
            guard case .records(let batch, _) = element else { continue }
            order.append(unsafeDowncast(batch, to: RecordBatch<Int>.self).records[0].value)
            XCTAssertEqual(channel, order.count <= 2 ? 1 : 0)
        }
        XCTAssertEqual(order, [1, 2, 3], "both restored batches first (beyond the capacity), then new input")
    }

    // MARK: jobs

    /// Source (parallelism 1) → keyBy → running sum → gated transactional sink.
    func makeJob(_ results: TransactionalResults<KeySum>, gate: PermitGate, directory: String, keyedParallelism: Int,
                 unaligned: Bool, alignedTimeout: Duration = .zero, restore: RestoreSettings = .none)
        -> (StreamEnvironment, GatedTransactionalSink) {
        let env = StreamEnvironment()
        env.configuration.parallelism = keyedParallelism
        env.configuration.batchSize = batchSize
        env.configuration.channelCapacity = capacity
        env.configuration.checkpoints.directory = directory
        env.configuration.checkpoints.unalignedCheckpoints = unaligned
        env.configuration.checkpoints.alignedCheckpointTimeout = alignedTimeout
        env.configuration.restore = restore
        let sink = GatedTransactionalSink(results, gate: gate)
        let keys = self.keys
        env.fromSequence(0...(records - 1)).setParallelism(1).uid("numbers")
            .keyBy { $0 % keys }
            .process(RunningSum()).uid("running-sum")
            .sinkTo(sink).uid("sink")
        return (env, sink)
    }

    /// Waits until every keyed subtask is blocked in the sink and the channels before it are
    /// full: the job is backpressured.
    func waitForBackpressure(_ client: JobClient, _ env: StreamEnvironment, gate: PermitGate, subtasks: Int) async throws {
        let plan = try env.explain()
        let keyedTask = try XCTUnwrap(RuntimeTestKit.taskIndex(of: "KeyedProcess", in: plan), plan)
        try await RuntimeTestKit.waitUntil("the keyed tasks block and their input is full") {
            gate.state.waiting == subtasks
                && (0..<subtasks).contains { client.queuedBatches(task: keyedTask, subtask: $0) == [capacity] }
        }
    }

    /// Releases permits one at a time, each time waiting until the sink used it and blocks
    /// again, until `done()` or `limit` permits were released. Returns the permits released.
    func releaseOneByOne(_ gate: PermitGate, subtasks: Int, limit: Int, until done: () -> Bool) async throws -> Int {
        var released = 0
        let start = gate.state.taken
        while !done() && released < limit {
            gate.release()
            released += 1
            try await RuntimeTestKit.waitUntil("the sink wrote the released record and blocks again") {
                let state = gate.state
                return state.taken == start + released && state.waiting == subtasks
            }
        }
        return released
    }

    func testUnalignedCheckpointCompletesUnderBackpressureWhereAnAlignedOneCannot() async throws {
        var recordsBeforeSnapshot: [Bool: Int] = [:]
        for unaligned in [true, false] {
            let results = TransactionalResults<KeySum>()
            let gate = PermitGate()
            let directory = temporaryDirectory("unaligned-bp")
            let (env, sink) = makeJob(results, gate: gate, directory: directory, keyedParallelism: 1, unaligned: unaligned)
            let client = try env.executeAsync("backpressure \(unaligned ? "unaligned" : "aligned")")
            try await waitForBackpressure(client, env, gate: gate, subtasks: 1)
            let writtenAtTrigger = sink.probe.written.load(ordering: .relaxed)
            let checkpoint = Task { try await client.triggerCheckpoint() }

            // The source takes the checkpoint request though its output is full (a backpressured
            // task still runs mails); an unaligned barrier then only waits for the sink to finish
            // the batch it is in.
            let released = try await releaseOneByOne(gate, subtasks: 1, limit: batchSize + 1) {
                !sink.probe.preCommits.withLock { $0.isEmpty }
            }
            if unaligned {
                XCTAssertFalse(sink.probe.preCommits.withLock { $0.isEmpty }, "the unaligned barrier overtook the queued records")
                let path = try await checkpoint.value
                XCTAssertEqual(client.checkpointStatistics.completed, 1)
                let metadata = try CheckpointStorage.load(path: path)
                let channelState = metadata.operators.flatMap { $0.subtasks.flatMap(\.channelState) }
                XCTAssertFalse(channelState.isEmpty, "the overtaken records are stored with the checkpoint")
            } else {
                XCTAssertEqual(released, batchSize + 1)
                XCTAssertTrue(sink.probe.preCommits.withLock { $0.isEmpty }, "the aligned barrier still waits behind the queued records")
                XCTAssertEqual(client.checkpointStatistics.completed, 0)
            }
            gate.open()
            _ = try await checkpoint.value
            _ = try await client.result()
            recordsBeforeSnapshot[unaligned] = try XCTUnwrap(sink.probe.preCommits.withLock { $0.first }) - writtenAtTrigger
            XCTAssertEqual(results.committed.count, Int(records), "every record is committed once")
        }
        XCTAssertLessThanOrEqual(recordsBeforeSnapshot[true]!, batchSize)
        XCTAssertGreaterThanOrEqual(recordsBeforeSnapshot[false]!, capacity * batchSize,
                                    "aligned: the sink first worked through the full channel")
    }

    func expectedPerKey() -> [Int64: [KeySum]] {
        var sums: [Int64: Int64] = [:]
        var output: [KeySum] = []
        for value in 0..<records {
            let key = value % keys
            sums[key, default: 0] += value
            output.append(KeySum(key: key, sum: sums[key]!))
        }
        return Dictionary(grouping: output, by: \.key)
    }

    /// Takes an unaligned checkpoint with records in flight, kills the job, and restores with
    /// `restoredParallelism`: the committed output is exactly the failure-free output.
    func assertRestoredInFlightRecordsAreExactlyOnce(restoredParallelism: Int, alignedTimeout: Duration = .zero) async throws {
        let results = TransactionalResults<KeySum>()
        let gate = PermitGate()
        let directory = temporaryDirectory("unaligned-restore")
        let (env, sink) = makeJob(results, gate: gate, directory: directory, keyedParallelism: 2, unaligned: true,
                                  alignedTimeout: alignedTimeout)
        let client = try env.executeAsync("unaligned before")
        try await waitForBackpressure(client, env, gate: gate, subtasks: 2)
        let checkpoint = Task { try await client.triggerCheckpoint() }
        if alignedTimeout > .zero {
            try await RuntimeTestKit.waitUntil("the alignment timeout passed") {
                (client.master.checkpoints?.alignmentTimeouts ?? 0) == 1
            }
        }
        _ = try await releaseOneByOne(gate, subtasks: 2, limit: 8 * batchSize) {
            sink.probe.preCommits.withLock { $0.count } == 2
        }
        guard sink.probe.preCommits.withLock({ $0.count }) == 2 else {
            gate.open()
            _ = try? await checkpoint.value
            return XCTFail("the checkpoint did not overtake the backpressure within \(8 * batchSize) records")
        }
        let path = try await checkpoint.value
        let metadata = try CheckpointStorage.load(path: path)
        let inFlight = metadata.operators.flatMap { $0.subtasks.flatMap(\.channelState) }
        XCTAssertFalse(inFlight.isEmpty, "records were in flight when the checkpoint was taken")
        client.cancel()
        _ = try? await client.result()

        let restoredGate = PermitGate()
        restoredGate.open()
        let (restoredEnv, _) = makeJob(results, gate: restoredGate, directory: temporaryDirectory("unaligned-after"),
                                       keyedParallelism: restoredParallelism, unaligned: true,
                                       restore: .path(path))
        _ = try await restoredEnv.executeAsync("unaligned after").result()

        let perKey = Dictionary(grouping: results.committed, by: \.key)
        XCTAssertEqual(results.committed.count, Int(records), "nothing lost, nothing duplicated")
        for (key, expected) in expectedPerKey() {
            let actual = perKey[key] ?? []
            guard actual != expected else { continue }
            let firstDifference = Array(zip(actual, expected)).firstIndex { $0 != $1 } ?? min(actual.count, expected.count)
            XCTFail("key \(key): \(actual.count) running sums instead of \(expected.count), first difference at position \(firstDifference)")
        }
        XCTAssertEqual(results.unfinishedTransactions, 0)
    }

    func testInFlightRecordsAreReplayedExactlyOnceAfterRestore() async throws {
        try await assertRestoredInFlightRecordsAreExactlyOnce(restoredParallelism: 2)
    }

    func testInFlightRecordsAreRepartitionedByKeyGroupWhenRestoringAtAnotherParallelism() async throws {
        try await assertRestoredInFlightRecordsAreExactlyOnce(restoredParallelism: 3)
    }

    func testAnAlignedCheckpointWhoseAlignmentTimesOutContinuesUnaligned() async throws {
        try await assertRestoredInFlightRecordsAreExactlyOnce(restoredParallelism: 2, alignedTimeout: .milliseconds(1))
    }

    // MARK: configuration

    func testUnalignedCheckpointsRejectAtLeastOnceAndConcurrentCheckpoints() {
        var config = CheckpointConfig()
        config.unalignedCheckpoints = true
        config.mode = .atLeastOnce
        XCTAssertThrowsError(try config.validate()) { XCTAssertTrue("\($0)".contains("exactlyOnce"), "\($0)") }
        config.mode = .exactlyOnce
        config.maxConcurrentCheckpoints = 2
        XCTAssertThrowsError(try config.validate()) { XCTAssertTrue("\($0)".contains("maxConcurrentCheckpoints = 1"), "\($0)") }
    }

    func testRecordsThatCannotBeStoredAreRejectedWhenTheJobIsBuilt() throws {
        final class Opaque: @unchecked Sendable { let value = 1 }
        let env = StreamEnvironment()
        env.configuration.checkpoints.directory = temporaryDirectory("unaligned-opaque")
        env.configuration.checkpoints.unalignedCheckpoints = true
        env.fromSequence(1...10).map { _ in Opaque() }.disableChaining().addSink { _ in }
        XCTAssertThrowsError(try env.executeAsync()) { error in
            XCTAssertTrue("\(error)".contains("neither BinaryCodable nor Codable"), "\(error)")
        }
    }
}
