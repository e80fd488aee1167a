import XCTest
@testable import Rill
import RillTesting

final class SourcesSinksTests: XCTestCase {
    /// Regression test: `SourceCoordinator.readerClosed()` (Runtime/Operators/SourceOperator.swift)
    /// drops the split enumerator when the readers registered so far have all closed; a subtask
    /// that registers later creates a fresh enumerator and reads every split again. Whether it
    /// shows depends on thread start-up order, so the job runs several times.
    func testParallelSequenceSourceEmitsEachNumberOnce() async throws {
        for (range, parallelism) in [(-5...3_000, 3), (7...8, 4), (1...100, 2)] as [(ClosedRange<Int64>, Int)] {
            for attempt in 0..<5 {
                let env = StreamEnvironment()
                env.configuration.parallelism = parallelism
                let results = CollectedResults<Tagged<Int64>>()
                env.fromSequence(range).process(TagWithSubtask<Int64>()).collect(into: results)
                let result = try await RuntimeTestKit.executeGuarded(env)
                XCTAssertEqual(results.values.map(\.value).sorted(), Array(range),
                               "fromSequence(\(range)) at parallelism \(parallelism), attempt \(attempt)")
                XCTAssertEqual(result?.counts("Sequence Source")?.recordsOut, range.count)
            }
        }
    }

    /// Regression test: as above, through `DataGeneratorSource`.
    func testParallelGeneratorEmitsEachIndexOnce() async throws {
        for (count, parallelism) in [(1_000, 2), (3, 4)] {
            for attempt in 0..<5 {
                let env = StreamEnvironment()
                env.configuration.parallelism = parallelism
                let results = CollectedResults<String>()
                env.fromGenerator(count: Int64(count)) { "g\($0)" }.collect(into: results)
                try await RuntimeTestKit.executeGuarded(env)
                XCTAssertEqual(results.values.sorted(), (0..<count).map { "g\($0)" }.sorted(),
                               "count \(count) at parallelism \(parallelism), attempt \(attempt)")
            }
        }
    }

    func testFromSequenceAtParallelism1EmitsTheRangeInOrder() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let results = CollectedResults<Int64>()
        env.fromSequence(-5...20_000).collect(into: results)
        let result = try await env.execute()
        XCTAssertEqual(results.values, Array(-5...20_000))
        XCTAssertEqual(result.counts("Sequence Source")?.recordsOut, 20_006)
    }

    func testSequenceSplitsCoverTheRangeOnce() {
        for parallelism in 1...7 {
            let splits = NumberSequenceSource.split(from: -5, to: 20_000, into: parallelism)
            XCTAssertEqual(splits.count, parallelism)
            XCTAssertEqual(splits.flatMap { Array($0.from...$0.to) }, Array(-5...20_000))
            XCTAssertEqual(Set(splits.map(\.splitId)).count, parallelism)
        }
        XCTAssertEqual(NumberSequenceSource.split(from: 7, to: 8, into: 4).map { $0.from...$0.to }, [7...7, 8...8])
        XCTAssertEqual(NumberSequenceSource.split(from: Int64.max - 1, to: Int64.max, into: 1).map(\.to), [Int64.max])
    }

    func testFromSequenceEndingAtInt64MaxTerminates() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let results = CollectedResults<Int64>()
        env.fromSequence((Int64.max - 2)...Int64.max).collect(into: results)
        try await RuntimeTestKit.executeGuarded(env)
        XCTAssertEqual(results.values, [Int64.max - 2, Int64.max - 1, Int64.max])
    }

    func testFromGeneratorEmitsCountRecords() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let results = CollectedResults<String>()
        env.fromGenerator(count: 1_000) { "g\($0)" }.collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.values, (0..<1_000).map { "g\($0)" })
    }

    func testFromGeneratorWithZeroCountEndsAtOnce() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let results = CollectedResults<Int64>()
        env.fromGenerator(count: 0) { $0 }.collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.count, 0)
    }

    func testFromAsyncSequenceFeedsAJob() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let stream = AsyncStream<Int> { continuation in
            for value in 1...5_000 { continuation.yield(value) }
            continuation.finish()
        }
        let results = CollectedResults<Int>()
        env.fromAsyncSequence(stream).rebalance().map { $0 * 2 }.collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.values.sorted(), (1...5_000).map { $0 * 2 })
    }

    func testFromAsyncSequenceKeepsOrderAtParallelism1() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let results = CollectedResults<Int>()
        env.fromAsyncSequence(stream).collect(into: results)
        let client = try env.executeAsync()
        for value in 0..<3_000 { continuation.yield(value) }
        continuation.finish()
        try await client.result()
        XCTAssertEqual(results.values, Array(0..<3_000))
    }

    func testFromAsyncSequenceFailureFailsTheJob() async throws {
        struct Broken: AsyncSequence, Sendable {
            typealias Element = Int
            struct AsyncIterator: AsyncIteratorProtocol {
                var next = 0
                mutating func next() async throws -> Int? {
                    next += 1
                    if next > 5 { throw InjectedFailure(detail: "async sequence") }
                    return next
                }
            }
            func makeAsyncIterator() -> AsyncIterator { AsyncIterator() }
        }
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        env.fromAsyncSequence(Broken()).collect(into: CollectedResults<Int>())
        let error = await RuntimeTestKit.expectRillError(code: .sourceFailed) { try await env.execute() }
        XCTAssertEqual(error?.underlying as? InjectedFailure, InjectedFailure(detail: "async sequence"))
    }

    func testCollectAsyncConsumedWithForTryAwait() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let stream = env.fromSequence(1...20_000).setParallelism(1).rebalance().map { $0 * 3 }.collectAsync(bufferSize: 64)
        let client = try env.executeAsync()
        var values: [Int64] = []
        for try await value in stream { values.append(value) }
        try await client.result()
        XCTAssertEqual(values.sorted(), (1...20_000).map { Int64($0) * 3 })
    }

    func testCollectAsyncThrowsWhenTheJobFails() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let stream = env.fromSequence(1...100)
            .map { value -> Int64 in
                if value == 50 { throw InjectedFailure(detail: "collectAsync") }
                return value
            }
            .collectAsync()
        let client = try env.executeAsync()
        var values: [Int64] = []
        do {
            for try await value in stream { values.append(value) }
            XCTFail("the stream of a failed job must throw")
        } catch {}
        XCTAssertLessThan(values.count, 50)
        _ = await RuntimeTestKit.expectRillError(code: .userFunctionFailed) { try await client.result() }
    }

    func testPrintDoesNotCrash() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.fromCollection(["rill print test 1", "rill print test 2"]).print()
        env.fromSequence(1...3).setParallelism(1).print("numbers")
        let result = try await env.execute()
        XCTAssertEqual(result.operators.filter { $0.operatorName == "Print to Std. Out" }.map(\.recordsIn).sorted(), [2, 3])
    }

    func testCollectedResultsKeepTimestampsAndWatermarks() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let results = CollectedResults<Int>()
        env.fromCollection([1, 2, 3], watermarkStrategy: .forMonotonousTimestamps().withTimestampAssigner { v, _ in Int64(v) * 10 })
            .collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.timestampedValues, [StreamRecord(1, timestamp: 10), StreamRecord(2, timestamp: 20),
                                                   StreamRecord(3, timestamp: 30)])
        XCTAssertEqual(results.receivedWatermarks.last, Int64.max)
        results.clear()
        XCTAssertEqual(results.count, 0)
    }

    func testSinkWriterLifecycle() async throws {
        struct LifecycleSink: Sink {
            let log: SharedLog<String>
            func createWriter(_ context: SinkContext) throws -> Writer {
                log.append("create \(context.subtaskIndex)/\(context.parallelism) \(context.operatorName)")
                return Writer(log: log, subtask: context.subtaskIndex)
            }
            final class Writer: SinkWriter {
                let log: SharedLog<String>
                let subtask: Int
                var count = 0
                init(log: SharedLog<String>, subtask: Int) {
                    self.log = log
                    self.subtask = subtask
                }
                func write(_ element: Int64, _ context: SinkWriteContext) throws { count += 1 }
                func flush(endOfInput: Bool) throws { if endOfInput { log.append("flush \(subtask) \(count)") } }
                func close() throws { log.append("close \(subtask)") }
            }
        }
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let log = SharedLog<String>()
        env.fromSequence(1...100).setParallelism(1).sinkTo(LifecycleSink(log: log), name: "Lifecycle").setParallelism(2)
        try await env.execute()
        let entries = log.values
        XCTAssertEqual(entries.filter { $0.hasPrefix("create") }.sorted(), ["create 0/2 Lifecycle", "create 1/2 Lifecycle"])
        XCTAssertEqual(entries.filter { $0.hasPrefix("flush") }.map { Int($0.split(separator: " ")[2])! }.reduce(0, +), 100)
        XCTAssertEqual(entries.filter { $0.hasPrefix("close") }.sorted(), ["close 0", "close 1"])
        for subtask in 0..<2 {
            XCTAssertLessThan(entries.firstIndex(of: "create \(subtask)/2 Lifecycle")!,
                              entries.firstIndex { $0.hasPrefix("flush \(subtask)") }!)
            XCTAssertLessThan(entries.firstIndex { $0.hasPrefix("flush \(subtask)") }!, entries.firstIndex(of: "close \(subtask)")!)
        }
    }
}

final class ChainingTests: XCTestCase {
    func testMapAndFilterFuseIntoOneTaskAndKeyByBreaksTheChain() throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.fromSequence(1...10)
            .map { $0 + 1 }
            .filter { $0 > 2 }
            .keyBy { $0 % 3 }
            .process(CountPerKey())
            .print()
        let plan = try env.explain()
        let tasks = plan.split(separator: "\n").filter { $0.hasPrefix("task ") }
        XCTAssertEqual(tasks.count, 2, plan)
        XCTAssertTrue(plan.contains("[Sequence Source -> Map -> Filter] parallelism 2"), plan)
        XCTAssertTrue(plan.contains("[KeyedProcess -> Print to Std. Out] parallelism 2"), plan)
        XCTAssertTrue(plan.contains("Filter --HASH--> KeyedProcess"), plan)
        XCTAssertNotEqual(RuntimeTestKit.taskIndex(of: "Filter", in: plan), RuntimeTestKit.taskIndex(of: "KeyedProcess", in: plan))
    }

    func testDisableChainingAndParallelismChangesBreakChains() throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.fromSequence(1...10)
            .map { $0 }.name("A")
            .map { $0 }.name("B").disableChaining()
            .map { $0 }.name("C").setParallelism(1)
            .map { $0 }.name("D").setParallelism(1)
            .print()
        let plan = try env.explain()
        XCTAssertTrue(plan.contains("[Sequence Source -> A] parallelism 2"), plan)
        XCTAssertTrue(plan.contains("[B] parallelism 2"), plan)
        XCTAssertTrue(plan.contains("[C -> D] parallelism 1"), plan)
        XCTAssertTrue(plan.contains("B --REBALANCE--> C"), plan)
    }

    func testChainingCanBeDisabledForTheJob() throws {
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 1
        configuration.chainingEnabled = false
        let env = StreamEnvironment(configuration: configuration)
        env.fromSequence(1...10).map { $0 }.filter { _ in true }.print()
        let plan = try env.explain()
        XCTAssertEqual(plan.split(separator: "\n").filter { $0.hasPrefix("task ") }.count, 4, plan)
    }

    func testUnchainedJobGivesTheSameResult() async throws {
        for chaining in [true, false] {
            var configuration = StreamEnvironment.Configuration()
            configuration.parallelism = 2
            configuration.chainingEnabled = chaining
            configuration.batchSize = 7
            let env = StreamEnvironment(configuration: configuration)
            let results = CollectedResults<Int64>()
            env.fromSequence(1...1_000).setParallelism(1).map { $0 * 2 }.filter { $0 % 3 == 0 }.collect(into: results)
            try await env.execute()
            XCTAssertEqual(results.values.sorted(), (1...1_000).map { Int64($0) * 2 }.filter { $0 % 3 == 0 },
                           "chaining \(chaining)")
        }
    }
}
