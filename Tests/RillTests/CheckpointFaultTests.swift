import Foundation
import Synchronization
import XCTest
@testable import Rill
import RillTesting

final class CheckpointFaultTests: XCTestCase {
    /// A checkpoint that cannot complete in time is aborted and counted; the job goes on.
    func testATimedOutCheckpointIsAbortedAndTheJobGoesOn() async throws {
        let release = DispatchSemaphore(value: 0)
        let blocked = Atomic<Bool>(false)
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        env.configuration.checkpoints.directory = temporaryDirectory("timeout")
        env.configuration.checkpoints.timeout = .milliseconds(50)
        env.configuration.checkpoints.tolerableFailedCheckpoints = 10
        let results = CollectedResults<Int64>()
        env.fromSequence(0...999).setParallelism(1)
            .map { value -> Int64 in
                if value == 10, !blocked.exchange(true, ordering: .relaxed) { release.wait() }
                return value
            }
            .rebalance()
            .collect(into: results)
        let client = try env.executeAsync("timeout")
        try waitUntil("the map to block") { blocked.load(ordering: .relaxed) }
        do {
            _ = try await client.triggerCheckpoint()
            XCTFail("a checkpoint cannot complete while a task is stuck")
        } catch let error as RillError {
            XCTAssertTrue(error.message.contains("timeout"), "says why: \(error)")
        }
        XCTAssertEqual(client.checkpointStatistics.failed, 1)
        XCTAssertEqual(client.status, .running, "a failed checkpoint within the tolerance does not fail the job")
        release.signal()
        _ = try await client.result()
        XCTAssertEqual(results.count, 1_000)
    }

    /// A corrupt newest checkpoint is reported by path and the previous one is used.
    func testRestoreLatestSkipsACorruptCheckpointForThePreviousOne() async throws {
        let results = TransactionalResults<KeySum>()
        let directory = temporaryDirectory("corrupt")
        let env = SavepointTests.makeJob(parallelism: 1, checkpointDirectory: directory, restore: .none, results: results)
        env.configuration.checkpoints.interval = nil
        env.configuration.checkpoints.retainedCheckpoints = 3
        let client = try env.executeAsync("first")
        let first = try await client.triggerCheckpoint()
        try waitUntil("more records") { client.operatorCounts[0].recordsOut > 1_000 }
        let second = try await client.triggerCheckpoint()
        client.cancel()
        _ = try? await client.result()

        // Flip one byte in a state file of the newest checkpoint.
        let files = try FileManager.default.contentsOfDirectory(atPath: second)
        guard let newest = files.first(where: { $0 != "_metadata" }) else { return XCTFail("no state files in \(second): \(files)") }
        let file = second + "/" + newest
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: file))

        let storage = try CheckpointStorage(directory: directory)
        let latest = try storage.latestCompleted(verification: .checksums)
        XCTAssertEqual(latest.path, first, "the previous checkpoint is the latest valid one")
        XCTAssertTrue(latest.skipped.contains { $0.path == second }, "the corrupt one is reported by path")

        let resumed = SavepointTests.makeJob(parallelism: 1, checkpointDirectory: directory, restore: .latestCheckpoint, results: results)
        resumed.configuration.checkpoints.interval = nil
        let second2 = try resumed.executeAsync("resumed")
        try waitUntil("resumed progress") { second2.operatorCounts[0].recordsOut > 100 }
        second2.cancel()
        _ = try? await second2.result()
    }

    /// A job restored from a checkpoint in another directory that fails before taking its own
    /// first checkpoint restarts from that checkpoint again, found where it is (it was once
    /// looked up in the new job's directory, and the restart failed).
    func testAFailureBeforeTheFirstOwnCheckpointRestoresFromTheOtherDirectoryAgain() async throws {
        let results = TransactionalResults<KeySum>()
        let origin = SavepointTests.makeJob(parallelism: 1, checkpointDirectory: temporaryDirectory("origin"),
                                            restore: .none, results: results)
        origin.configuration.checkpoints.interval = nil
        let first = try origin.executeAsync("origin")
        try waitUntil("records") { first.operatorCounts[0].recordsOut > 500 }
        let checkpoint = try await first.triggerCheckpoint()
        first.cancel()
        _ = try? await first.result()

        let failed = Atomic<Bool>(false)
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        env.configuration.checkpoints.directory = temporaryDirectory("elsewhere")
        env.configuration.restore = .path(checkpoint)
        env.configuration.restartStrategy = .fixedDelay(attempts: 1, delay: .zero)
        env.fromGenerator(count: Int64.max, recordsPerSecond: 200_000) { $0 }.setParallelism(1).uid("numbers")
            .map { value -> Int64 in
                if failed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged {
                    throw InjectedJobFailure(value: value)
                }
                return value
            }
            .keyBy { $0 % 10 }
            .process(RunningSum()).uid("running-sum")
            .sinkTo(TransactionalCollectSink(results)).uid("sink")
        let client = try env.executeAsync("restored elsewhere")
        try waitUntil("the restarted attempt makes progress, or the job ends") {
            (client.restarts == 1 && client.operatorCounts[0].recordsOut > 100) || client.status.isTerminal
        }
        XCTAssertEqual(client.status, .running, "the restart found the checkpoint it restored from")
        client.cancel()
        _ = try? await client.result()
    }

    /// A periodic checkpoint due while a failed job waits to restart does not start: it would
    /// wait for the failed attempt's tasks and hold the only checkpoint slot until it timed out,
    /// and the restarted job would take no checkpoint meanwhile.
    func testCheckpointsGoOnAfterARestartWithADelay() throws {
        let results = TransactionalResults<ValueSum>()
        let failure = FailureInjector([300])
        // The paced source moves on only when checkpoints are taken.
        let env = try makePacedJob(parallelism: 2, failures: failure, results: results)
        env.configuration.checkpoints.timeout = .seconds(2)
        env.configuration.checkpoints.tolerableFailedCheckpoints = 0
        // Periodic triggers fall into the delay.
        env.configuration.restartStrategy = .fixedDelay(attempts: 1, delay: .milliseconds(30))
        let client = try env.executeAsync("restart with a delay")
        XCTAssertNoThrow(try client.waitForResult(), "no checkpoint timed out after the restart")
        XCTAssertEqual(failure.firedCount, 1)
        XCTAssertEqual(client.restarts, 1)
        XCTAssertEqual(results.committed.count, 1_000)
    }

    /// A checkpoint being written still counts against `maxConcurrentCheckpoints`: periodic
    /// checkpoints must not pile up behind the disk, each holding its snapshots in memory and
    /// delaying every transactional commit. With one in flight at a time, a sink has at most
    /// one transaction waiting for its checkpoint when it pre-commits the next.
    func testCheckpointsBeingWrittenCountAsInFlight() throws {
        let results = TransactionalResults<ValueSum>()
        let env = try makePacedJob(parallelism: 1, failures: FailureInjector([]), results: results)
        env.configuration.checkpoints.maxConcurrentCheckpoints = 1
        let client = try env.executeAsync("one checkpoint at a time")
        _ = try client.waitForResult()
        XCTAssertGreaterThanOrEqual(client.checkpointStatistics.completed, 15, "about one checkpoint per chunk")
        XCTAssertLessThanOrEqual(results.maxPreCommittedAtOnce, 2)
        XCTAssertEqual(results.committed.count, 1_000)
    }

    /// A checkpoint taken before any source reader registered carries no enumerator state, so
    /// a restore from it starts the enumerator afresh: an empty list of unassigned splits would
    /// say that every split was handed out, and the restored job would read nothing.
    func testEnumeratorStateBeforeAnyReaderRegisteredIsAbsent() throws {
        let coordinator = SourceCoordinator(source: NumberSequenceSource(from: 0, to: 9), parallelism: 1)
        var injected = false
        XCTAssertNil(try coordinator.snapshot { injected = true })
        XCTAssertTrue(injected, "the barriers are injected all the same")
    }

    /// Every task may acknowledge a checkpoint before the triggering thread has attached the
    /// state of the sources' split enumerators; the checkpoint then waits for that state rather
    /// than completing without it (a restore would hand every split out again).
    func testACheckpointAcknowledgedBeforeItsEnumeratorStateIsAttachedKeepsThatState() throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        env.fromSequence(0...9).addSink { _ in }
        let plan = try ExecutionPlan(graph: env.graph, configuration: env.configuration)
        XCTAssertEqual(plan.chains.count, 1, "source and sink form one task")
        let storage = try CheckpointStorage(directory: try makeCheckpointDirectory())
        let coordinator = CheckpointCoordinator(config: CheckpointConfig(), storage: storage, jobName: "race",
                                                plan: plan, restoredFrom: nil)
        let sourceNode = try XCTUnwrap(plan.graph.nodes.first { $0.kind == .source }).id
        coordinator.injectBarriers = { [unowned coordinator] barrier in
            // The only task acknowledges before the enumerator state is handed back.
            coordinator.acknowledge(barrier.checkpointId, task: .init(chain: 0, subtask: 0),
                                    snapshots: Dictionary(uniqueKeysWithValues: plan.chains[0].nodes.map { ($0, OperatorSnapshot()) }))
            return [sourceNode: [1, 2, 3]]
        }
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<String, any Error>?>(nil)
        coordinator.trigger(type: .checkpoint) { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        let path = try XCTUnwrap(outcome.withLock { $0 }).get()
        let metadata = try CheckpointStorage.load(path: path)
        XCTAssertEqual(metadata.operators.flatMap { $0.subtasks.flatMap(\.extra) }.map(\.name), ["enumerator"])
    }

    /// The disk fills up while a job runs: each checkpoint whose state no longer fits fails and
    /// is counted, the job goes on to the exact output, nothing half-written is left behind, and
    /// a restore from the latest checkpoint takes the last complete one and resumes consistently
    /// from where it was taken.
    func testDiskFullDuringAJobFailsCheckpointsNotTheJob() throws {
        let volume = try makeTemporaryDirectory() + "/small"
        try mountSmallTmpfs(at: volume, kibibytes: 128)
        let directory = volume + "/checkpoints"
        let records: Int64 = 2_000
        func makeJob(restore: RestoreSettings, results: TransactionalResults<ValueSum>) -> StreamEnvironment {
            let env = StreamEnvironment()
            env.configuration.parallelism = 1
            env.configuration.checkpoints.directory = directory
            env.configuration.checkpoints.interval = .milliseconds(1)
            env.configuration.checkpoints.tolerableFailedCheckpoints = Int.max
            env.configuration.restore = restore
            // A checkpoint after every 50 records; 128 bytes of state more per record.
            env.fromSource(PacedSequenceSource(count: records, chunk: 50, failures: FailureInjector([])), name: "Paced Source")
                .uid("numbers")
                .keyBy { $0 % 4 }
                .process(PaddedRunningSum()).uid("padded-sum")
                .sinkTo(TransactionalCollectSink(results))
            return env
        }
        var sums: [Int64: Int64] = [:]
        let expected = (0..<records).map { value in
            sums[value % 4, default: 0] += value
            return ValueSum(key: value % 4, value: value, sum: sums[value % 4]!)
        }

        let results = TransactionalResults<ValueSum>()
        let client = try makeJob(restore: .none, results: results).executeAsync("disk full")
        // The job reads all its input although checkpoints fail; its sink's last transaction
        // then waits for a final checkpoint, which fits once an operator has made room.
        try waitUntil("the sink got every record") {
            client.operatorCounts.first { $0.operatorName == "Transactional Sink" }?.recordsIn == Int(records)
        }
        XCTAssertEqual(client.status, .running, "the final checkpoint does not fit yet")
        // What a restart would restore from now: the last checkpoint that fit (copied, as
        // checkpoints are relative to their directory, before retention replaces it).
        let copy = try makeTemporaryDirectory()
        let lastThatFit = try CheckpointStorage(directory: directory).latestCompleted(verification: .checksums).metadata
        XCTAssertFalse(lastThatFit.isIncremental, "a full checkpoint: its directory holds all it needs")
        try runCommand("/bin/cp", "-R", directory + "/chk-\(lastThatFit.checkpointId)", copy)
        try runCommand("/bin/mount", "-o", "remount,size=8m", volume)
        _ = try client.waitForResult()
        let statistics = client.checkpointStatistics
        XCTAssertGreaterThanOrEqual(statistics.completed, 1, "the first checkpoints fit")
        XCTAssertGreaterThanOrEqual(statistics.failed, 5, "later ones do not")
        XCTAssertEqual(client.restarts, 0, "a checkpoint that cannot be written does not fail the job")
        XCTAssertEqual(Dictionary(grouping: results.committed, by: \.key), Dictionary(grouping: expected, by: \.key))
        XCTAssertEqual(results.unfinishedTransactions, 0)

        let files = try FileManager.default.subpathsOfDirectory(atPath: directory)
        XCTAssertEqual(files.filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") }, [], "no temporary file is left")
        let storage = try CheckpointStorage(directory: directory)
        let latest = try storage.latestCompleted(verification: .checksums)
        XCTAssertEqual(storage.listCheckpoints().filter(\.isValid).map(\.checkpointId), [latest.metadata.checkpointId])

        XCTAssertGreaterThan(latest.metadata.checkpointId, lastThatFit.checkpointId, "the final checkpoint came once there was room")

        // The same store: the transactions the checkpoint lists were committed by the first job.
        let before = results.committed.count
        _ = try makeJob(restore: .path(copy + "/chk-\(lastThatFit.checkpointId)"), results: results)
            .executeBlocking("resumed after disk full")
        let output = Array(results.committed.dropFirst(before))
        let position = try XCTUnwrap(output.map(\.value).min(), "the restored job has records to read")
        XCTAssertGreaterThan(position, 0, "it resumes where the checkpoint was taken, not from the start")
        XCTAssertEqual(Dictionary(grouping: output, by: \.key),
                       Dictionary(grouping: expected.filter { $0.value >= position }, by: \.key),
                       "the restored state matches the restored position")
    }
}

/// Emits (key, value, running sum) per record and keeps 128 bytes per record in list state, so
/// the state outgrows a small disk as the job goes on.
final class PaddedRunningSum: KeyedProcessFunction {
    typealias Key = Int64
    var sum: ValueState<Int64>!
    var padding: ListState<[UInt8]>!

    func open(_ context: RuntimeContext) throws {
        sum = try context.getState(ValueStateDescriptor<Int64>(name: "sum"))
        padding = try context.getListState(ListStateDescriptor<[UInt8]>(name: "padding"))
    }

    func processElement(_ value: Int64, _ context: KeyedProcessContext<Int64, ValueSum>, _ out: Collector<ValueSum>) throws {
        padding.add([UInt8](repeating: UInt8(truncatingIfNeeded: value), count: 128))
        let next = (sum.value() ?? 0) + value
        sum.update(next)
        try out.collect(ValueSum(key: context.currentKey, value: value, sum: next))
    }
}
