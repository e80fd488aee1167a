import Synchronization
import XCTest
@testable import Rill
import RillTesting

struct OnlySplit: SourceSplit {
    var splitId: String { "only" }
}

/// A source that emits a few records and then throws.
struct FailingSource: Source {
    typealias Output = Int
    var boundedness: Boundedness { .bounded }

    func createEnumerator(_ context: SplitEnumeratorContext<OnlySplit>) throws -> StaticSplitEnumerator<OnlySplit> {
        StaticSplitEnumerator(context: context, splits: [OnlySplit()])
    }

    func createReader(_ context: SourceReaderContext) throws -> Reader { Reader(context: context) }

    final class Reader: SourceReader {
        typealias Output = Int
        typealias Split = OnlySplit
        let context: SourceReaderContext
        var emitted = 0
        init(context: SourceReaderContext) { self.context = context }

        func start() throws { try context.sendSplitRequest() }
        func pollNext(_ output: ReaderOutput<Int>) throws -> InputStatus {
            guard emitted < 3 else { throw InjectedFailure(detail: "the source broke") }
            try output.collect(emitted)
            emitted += 1
            return .moreAvailable
        }
        func addSplits(_ splits: [OnlySplit]) {}
        func notifyNoMoreSplits() {}
        func snapshotState(checkpointId: Int64) -> [OnlySplit] { [] }
    }
}

/// Throws on the 10th record of subtask 1.
final class FailOnSubtask1: ProcessFunction {
    var subtask = -1
    var seen = 0
    func open(_ context: RuntimeContext) throws { subtask = context.subtaskIndex }
    func processElement(_ value: Int64, _ context: ProcessContext<Int64>, _ out: Collector<Int64>) throws {
        seen += 1
        if subtask == 1 && seen == 10 { throw InjectedFailure(detail: "subtask 1, record 10") }
        try out.collect(value)
    }
}

final class FailureTests: XCTestCase {
    /// Starts the concurrency pool's threads and any lazily created runtime thread, then counts.
    private func warmedUpThreadCount() async throws -> Int {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.fromSequence(1...10).map { $0 }.collect(into: CollectedResults<Int64>())
        try await env.execute()
        try await Task.sleep(for: .milliseconds(1))
        let baseline = RuntimeTestKit.threadCount()
        XCTAssertGreaterThanOrEqual(baseline, 0, "/proc/self/task is readable")
        return baseline
    }

    private func assertThreadsReturn(to baseline: Int, file: StaticString = #filePath, line: UInt = #line) async throws {
        try await RuntimeTestKit.waitUntil("the job's threads exit (baseline \(baseline))", file: file, line: line) {
            RuntimeTestKit.threadCount() <= baseline
        }
    }

    func testThrowingMapFailsTheJobNamingOperatorSubtaskAndCause() async throws {
        let baseline = try await warmedUpThreadCount()
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.fromSequence(1...1_000)
            .map { value -> Int64 in
                if value == 500 { throw InjectedFailure(detail: "record 500") }
                return value
            }
            .name("Boom")
            .collect(into: CollectedResults<Int64>())
        // An unbounded branch: the job only ends because the failure stops every task.
        env.fromGenerator(count: Int64.max) { $0 }.addSink(name: "Endless Sink") { _ in }

        let error = await RuntimeTestKit.expectRillError(code: .userFunctionFailed) { try await env.execute("failing") }
        XCTAssertEqual(error?.operatorName, "Boom")
        let subtask = try XCTUnwrap(error?.subtaskIndex)
        XCTAssertTrue((0..<2).contains(subtask))
        XCTAssertEqual(error?.underlying as? InjectedFailure, InjectedFailure(detail: "record 500"))
        let text = error?.description ?? ""
        XCTAssertTrue(text.contains("'Boom'"), text)
        XCTAssertTrue(text.contains("subtask \(subtask + 1) of 2"), text)
        XCTAssertTrue(text.contains("record 500"), text)
        try await assertThreadsReturn(to: baseline)
    }

    func testFailureReportsTheSubtaskThatFailed() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.fromSequence(1...10_000).setParallelism(1)
            .rebalance()
            .process(FailOnSubtask1())
            .name("Picky")
            .collect(into: CollectedResults<Int64>())
        let client = try env.executeAsync()
        let error = await RuntimeTestKit.expectRillError(code: .userFunctionFailed) { try await client.result() }
        XCTAssertEqual(error?.operatorName, "Picky")
        XCTAssertEqual(error?.subtaskIndex, 1)
        XCTAssertEqual(error?.underlying as? InjectedFailure, InjectedFailure(detail: "subtask 1, record 10"))
        XCTAssertEqual(client.status, .failed)
    }

    func testFailureInAChainedOperatorNamesThatOperatorNotTheChainHead() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        env.fromSequence(1...100)
            .map { $0 * 2 }.name("Double")
            .filter { value in
                if value == 100 { throw InjectedFailure(detail: "filter") }
                return true
            }.name("Strict Filter")
            .collect(into: CollectedResults<Int64>())
        XCTAssertTrue(try env.explain().contains("Sequence Source -> Double -> Strict Filter"))
        let error = await RuntimeTestKit.expectRillError(code: .userFunctionFailed) { try await env.execute() }
        XCTAssertEqual(error?.operatorName, "Strict Filter")
    }

    func testThrowingSourceFailsWithSourceFailed() async throws {
        let baseline = try await warmedUpThreadCount()
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let results = CollectedResults<Int>()
        env.fromSource(FailingSource(), name: "Failing Source").setParallelism(1)
            .map { $0 + 1 }
            .collect(into: results)
        let error = await RuntimeTestKit.expectRillError(code: .sourceFailed) { try await env.execute() }
        XCTAssertEqual(error?.operatorName, "Failing Source")
        XCTAssertEqual(error?.subtaskIndex, 0)
        XCTAssertEqual(error?.underlying as? InjectedFailure, InjectedFailure(detail: "the source broke"))
        try await assertThreadsReturn(to: baseline)
    }

    func testThrowingSinkFailsWithSinkFailed() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        env.fromSequence(1...100).addSink(name: "Picky Sink") { value in
            if value == 50 { throw InjectedFailure(detail: "sink") }
        }
        let error = await RuntimeTestKit.expectRillError(code: .sinkFailed) { try await env.execute() }
        XCTAssertEqual(error?.operatorName, "Picky Sink")
        XCTAssertEqual(error?.underlying as? InjectedFailure, InjectedFailure(detail: "sink"))
    }

    func testCancelStopsASinkBlockedOnAnUnreadResultStream() async throws {
        let baseline = try await warmedUpThreadCount()
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let stream = env.fromSequence(1...100_000).collectAsync(bufferSize: 16)
        let client = try env.executeAsync()
        try await RuntimeTestKit.waitUntil("the result-stream sink has records") {
            (client.operatorCounts.first { $0.operatorName == "Result Stream" }?.recordsIn ?? 0) > 16
        }
        XCTAssertEqual(client.status, .running, "the sink waits for a consumer that never reads")
        client.cancel()
        let error = await RuntimeTestKit.expectRillError(code: .jobCancelled) { try await client.result() }
        XCTAssertTrue(error?.message.contains("cancelled") ?? false)
        XCTAssertEqual(client.status, .cancelled)

        // The consumer sees at most what was buffered, then an error.
        var consumed = 0
        do {
            for try await _ in stream { consumed += 1 }
            XCTFail("a cancelled job's result stream must not end normally")
        } catch {}
        XCTAssertLessThanOrEqual(consumed, 16)
        try await assertThreadsReturn(to: baseline)
    }

    func testCancellingTheSwiftTaskOfExecuteCancelsTheJob() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let started = SharedLog<Int>()
        env.fromGenerator(count: Int64.max) { $0 }.addSink { value in if value == 0 { started.append(0) } }
        let task = Task { try await env.execute() }
        try await RuntimeTestKit.waitUntil("the job runs") { started.count > 0 }
        task.cancel()
        let error = await RuntimeTestKit.expectRillError(code: .jobCancelled) { try await task.value }
        XCTAssertNotNil(error)
    }

    func testCancelReportsCancelledEvenIfUserCodeIgnoresIt() async throws {
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 1
        configuration.cancellationTimeout = .milliseconds(200)
        let env = StreamEnvironment(configuration: configuration)
        let latch = ThreadLatch()
        env.fromSequence(1...10).addSink(name: "Stuck Sink") { _ in latch.wait() }
        let baseline = try await warmedUpThreadCount()
        let client = try env.executeAsync()
        try await RuntimeTestKit.waitUntil("the sink is stuck") { latch.waitingThreads == 1 }
        XCTAssertGreaterThan(RuntimeTestKit.threadCount(), baseline, "the job's named threads are counted")
        client.cancel()
        let error = await RuntimeTestKit.expectRillError(code: .jobCancelled) { try await client.result() }
        XCTAssertTrue(error?.message.contains("did not stop") ?? false, "\(String(describing: error))")
        XCTAssertEqual(client.status, .cancelled)
        latch.open()
        try await assertThreadsReturn(to: baseline)
    }
}
