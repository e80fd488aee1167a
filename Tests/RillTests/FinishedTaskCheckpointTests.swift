import Foundation
import Synchronization
import XCTest
@testable import Rill
import RillTesting

/// What a test appends for an unbounded source to read; the source ends once it is closed and
/// read to the end.
final class Feed: Sendable {
    private struct State {
        var values: [Int64] = []
        var closed = false
        var wakeUps: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    func append<S: Sequence<Int64>>(_ values: S) {
        let wakeUps = state.withLock { state in
            state.values.append(contentsOf: values)
            return state.wakeUps
        }
        for wakeUp in wakeUps { wakeUp() }
    }

    func close() {
        let wakeUps = state.withLock { state in
            state.closed = true
            return state.wakeUps
        }
        for wakeUp in wakeUps { wakeUp() }
    }

    func onAppend(_ wakeUp: @escaping @Sendable () -> Void) { state.withLock { $0.wakeUps.append(wakeUp) } }

    /// Up to `limit` values from `position`, and whether the feed is closed and read to its end.
    func read(from position: Int, limit: Int) -> (values: ArraySlice<Int64>, atEnd: Bool) {
        state.withLock { state in
            let end = min(state.values.count, position + limit)
            return (state.values[position..<end], state.closed && end == state.values.count)
        }
    }
}

/// An unbounded source over a ``Feed``: one split whose progress is the position in the feed.
struct FeedSource: Source {
    typealias Output = Int64
    let feed: Feed

    struct Split: SourceSplit {
        var splitId = "feed"
        var position = 0
    }

    var boundedness: Boundedness { .continuousUnbounded }

    func createEnumerator(_ context: SplitEnumeratorContext<Split>) throws -> StaticSplitEnumerator<Split> {
        StaticSplitEnumerator(context: context, splits: [Split()])
    }

    func createReader(_ context: SourceReaderContext) throws -> Reader { Reader(context: context, feed: feed) }

    final class Reader: SourceReader {
        let context: SourceReaderContext
        let feed: Feed
        var split: Split?
        var noMoreSplits = false

        init(context: SourceReaderContext, feed: Feed) {
            self.context = context
            self.feed = feed
        }

        func start() throws {
            feed.onAppend { [context] in context.wakeUp() }
            try context.sendSplitRequest()
        }

        func pollNext(_ output: ReaderOutput<Int64>) throws -> InputStatus {
            guard var split else { return noMoreSplits ? .endOfInput : .nothingAvailable }
            let (values, atEnd) = feed.read(from: split.position, limit: context.batchSize)
            for value in values { try output.collect(value) }
            split.position += values.count
            self.split = split
            if atEnd { return .endOfInput }
            return values.isEmpty ? .nothingAvailable : .moreAvailable
        }

        func addSplits(_ splits: [Split]) {
            split = splits.first
            context.wakeUp()
        }

        func notifyNoMoreSplits() { noMoreSplits = true }
        func snapshotState(checkpointId: Int64) -> [Split] { split.map { [$0] } ?? [] }
    }
}

/// Counts the times its input ended (a writer that, say, writes a file's footer then).
struct EndOfInputCountingSink: Sink {
    final class Writer: SinkWriter {
        let counter: Counter
        init(counter: Counter) { self.counter = counter }
        func write(_ element: Int64, _ context: SinkWriteContext) throws {}
        func flush(endOfInput: Bool) throws {
            if endOfInput { counter.ends.add(1, ordering: .relaxed) }
        }
    }

    final class Counter: Sendable { let ends = Atomic<Int>(0) }
    let counter: Counter

    func createWriter(_ context: SinkContext) throws -> Writer { Writer(counter: counter) }
}

/// Flink's FLIP-147: checkpoints go on after some tasks finished, and a restored job does not
/// run what had finished again.
final class FinishedTaskCheckpointTests: XCTestCase {
    let keys: Int64 = 10

    let endsOfInput = EndOfInputCountingSink.Counter()

    func makeJob(_ results: TransactionalResults<KeySum>, feed: Feed, directory: String,
                 restore: RestoreSettings = .none) -> StreamEnvironment {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.configuration.checkpoints.directory = directory
        env.configuration.restore = restore
        let keys = self.keys
        let bounded = env.fromSequence(0...99).setParallelism(1).uid("bounded")
        bounded.sinkTo(EndOfInputCountingSink(counter: endsOfInput)).setParallelism(1).uid("end-counter")
        let unbounded = env.fromSource(FeedSource(feed: feed), name: "Feed").setParallelism(1).uid("feed")
        bounded.union(unbounded)
            .keyBy { $0 % keys }
            .process(RunningSum()).uid("running-sum")
            .sinkTo(TransactionalCollectSink(results)).uid("sink")
        return env
    }

    func testCheckpointsContinueAfterABoundedSourceFinishedAndItStaysFinishedOnRestore() async throws {
        let results = TransactionalResults<KeySum>()
        let feed = Feed()
        let directory = temporaryDirectory("finished-tasks")
        let env = makeJob(results, feed: feed, directory: directory)
        let client = try env.executeAsync("bounded and unbounded")
        try await RuntimeTestKit.waitUntil("the bounded source finished") {
            client.master.checkpoints?.finishedTaskCount == 1
        }
        _ = try await client.triggerCheckpoint()

        feed.append(100...199)
        try await RuntimeTestKit.waitUntil("the keyed operator took every record so far") {
            client.operatorCounts.first { $0.operatorName == "KeyedProcess" }?.recordsIn == 200
        }
        let checkpoint = try await client.triggerCheckpoint()
        XCTAssertEqual(client.checkpointStatistics.completed, 2, "no checkpoint was declined")
        let metadata = try CheckpointStorage.load(path: checkpoint)
        let bounded = try XCTUnwrap(metadata.operatorState(withId: "bounded"))
        XCTAssertTrue(bounded.subtasks.allSatisfy { $0.extra.contains { $0.name == "finished" } },
                      "the bounded source is recorded as finished")

        feed.append(200...249)   // read, but after the checkpoint: read again after the restore
        try await RuntimeTestKit.waitUntil("the keyed operator took the records after the checkpoint") {
            client.operatorCounts.first { $0.operatorName == "KeyedProcess" }?.recordsIn == 250
        }
        client.cancel()
        _ = try? await client.result()

        let restored = makeJob(results, feed: feed, directory: temporaryDirectory("finished-tasks-after"),
                               restore: .path(checkpoint))
        feed.append(250...299)
        feed.close()
        let result = try await restored.execute("restored")
        XCTAssertEqual(result.counts("Sequence Source")?.recordsOut, 0, "the finished source did not run again")
        XCTAssertEqual(endsOfInput.ends.load(ordering: .relaxed), 1,
                       "the finished chain was not opened again, so its sink saw its input end once")
        XCTAssertEqual(result.counts("Feed")?.recordsOut, 100, "the feed resumed at its checkpointed position")

        var sums: [Int64: Int64] = [:]
        var expected: [Int64: [KeySum]] = [:]
        for value in Int64(0)..<300 {
            let key = value % keys
            sums[key, default: 0] += value
            expected[key, default: []].append(KeySum(key: key, sum: sums[key]!))
        }
        XCTAssertEqual(results.committed.count, 300, "nothing lost, nothing duplicated")
        XCTAssertEqual(Dictionary(grouping: results.committed, by: \.key), expected)
        XCTAssertEqual(results.unfinishedTransactions, 0)
    }

    /// A bounded branch's transactional sink commits its last transaction with a final
    /// checkpoint before its task ends; a later failure elsewhere restarts the job from a
    /// checkpoint in which that branch is finished, so its records are committed exactly once.
    func testABoundedBranchCommitsWithAFinalCheckpointAndIsNotRepeatedAfterALaterFailure() async throws {
        let boundedResults = TransactionalResults<Int64>()
        let feedResults = TransactionalResults<Int64>()
        let feed = Feed()
        let injector = FailureInjector([25])
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        env.configuration.checkpoints.directory = temporaryDirectory("final-checkpoint")
        env.configuration.checkpoints.interval = .milliseconds(5)
        env.configuration.restartStrategy = .fixedDelay(attempts: 1, delay: .zero)
        env.fromSequence(0...99).uid("bounded")
            .sinkTo(TransactionalCollectSink(boundedResults, name: "bounded")).uid("bounded-sink")
        env.fromSource(FeedSource(feed: feed), name: "Feed").uid("feed")
            .map { value -> Int64 in
                try injector.check(value)
                return value
            }.uid("fails-once")
            .sinkTo(TransactionalCollectSink(feedResults, name: "feed")).uid("feed-sink")
        let client = try env.executeAsync("final checkpoint")
        try await RuntimeTestKit.waitUntil("the bounded branch committed and ended") {
            boundedResults.committed.count == 100 && client.master.checkpoints?.finishedTaskCount == 1
        }
        feed.append(0...49)
        try await RuntimeTestKit.waitUntil("the job restarted after the injected failure") { client.restarts == 1 }
        feed.close()
        _ = try await client.result()

        XCTAssertEqual(injector.firedCount, 1)
        XCTAssertEqual(boundedResults.committed, Array(0...99), "the finished branch did not run again")
        XCTAssertEqual(feedResults.committed.sorted(), Array(0...49))
        XCTAssertEqual(boundedResults.unfinishedTransactions + feedResults.unfinishedTransactions, 0)
    }

    /// Broadcast state is checkpointed: restored from a checkpoint taken after the rules
    /// stream ended, the job applies the rules though nothing sends them again.
    func testBroadcastStateIsRestoredFromACheckpoint() async throws {
        func makeJob(feed: Feed, applied: AtomicCounter, results: CollectedResults<String>, restore: RestoreSettings) -> StreamEnvironment {
            let env = StreamEnvironment()
            env.configuration.parallelism = 2
            env.configuration.checkpoints.directory = temporaryDirectory("broadcast")
            env.configuration.restore = restore
            env.fromSource(FeedSource(feed: feed), name: "Feed").setParallelism(1).uid("words")
                .map { "w\($0 % 5)" }.uid("to-words")
                .connect(env.fromCollection((0..<5).map { Rule(word: "w\($0)", multiplier: $0 + 1) }).uid("rules")
                    .broadcast(ApplyRules.rules))
                .process(ApplyRules(applied: applied)).uid("apply-rules")
                .collect(into: results)
            return env
        }
        let applied = AtomicCounter()
        let first = try makeJob(feed: Feed(), applied: applied, results: CollectedResults(), restore: .none).executeAsync("rules")
        try await RuntimeTestKit.waitUntil("both subtasks hold every rule") { applied.current == 10 }
        let checkpoint = try await first.triggerCheckpoint()
        first.cancel()
        _ = try? await first.result()

        let feed = Feed()
        let results = CollectedResults<String>()
        let appliedAgain = AtomicCounter()
        let restored = makeJob(feed: feed, applied: appliedAgain, results: results, restore: .path(checkpoint))
        feed.append(0..<20)
        feed.close()
        try await restored.execute("rules restored")
        XCTAssertEqual(appliedAgain.current, 0, "no rule arrived again")
        XCTAssertEqual(results.values.sorted(), (0..<20).map { "w\($0 % 5)=\(2 * ($0 % 5 + 1))" }.sorted())
    }
}
