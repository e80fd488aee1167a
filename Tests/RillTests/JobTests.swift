import XCTest
@testable import Rill
import RillTesting

struct WordCount: Sendable, Equatable {
    let word: String
    let count: Int
}

/// Counts words in keyed state and emits each word's total once, from an event-time timer at
/// `Int64.max` (which only the final watermark of a bounded job reaches).
final class FinalWordCount: KeyedProcessFunction {
    var count: ValueState<Int>!

    func open(_ context: RuntimeContext) throws {
        count = try context.getState(ValueStateDescriptor<Int>(name: "count"))
    }

    func processElement(_ value: String, _ context: KeyedProcessContext<String, WordCount>, _ out: Collector<WordCount>) throws {
        count.update((count.value() ?? 0) + 1)
        context.timerService.registerEventTimeTimer(Int64.max)
    }

    func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<String, WordCount>, _ out: Collector<WordCount>) throws {
        try out.collect(WordCount(word: context.currentKey, count: count.value() ?? 0))
    }
}

final class JobTests: XCTestCase {
    /// Deterministic text: 3,000 lines over a vocabulary of 37 words with skewed frequencies.
    static let lines: [String] = {
        let vocabulary = (0..<37).map { "w\($0)" } + ["the", "the", "the", "a", "a"]
        var state: UInt64 = 42
        var lines: [String] = []
        for _ in 0..<3_000 {
            var words: [String] = []
            for _ in 0..<(1 + Int(state % 9)) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                words.append(vocabulary[Int((state >> 33) % UInt64(vocabulary.count))])
            }
            state = state &* 6364136223846793005 &+ 1442695040888963407
            lines.append(words.joined(separator: " "))
        }
        return lines
    }()

    static let expectedCounts: [String: Int] = {
        var counts: [String: Int] = [:]
        for line in lines { for word in line.split(separator: " ") { counts[String(word), default: 0] += 1 } }
        return counts
    }()

    static var totalWords: Int { expectedCounts.values.reduce(0, +) }

    private func reduceWordCount(parallelism: Int) async throws -> (counts: [String: Int], result: JobExecutionResult) {
        let env = StreamEnvironment()
        env.configuration.parallelism = parallelism
        let results = CollectedResults<WordCount>()
        env.fromCollection(Self.lines)
            .flatMap { line in line.split(separator: " ").map { WordCount(word: String($0), count: 1) } }
            .keyBy { $0.word }
            .reduce { WordCount(word: $0.word, count: $0.count + $1.count) }
            .collect(into: results)
        let result = try await env.execute("word count p\(parallelism)")

        // A rolling reduce emits every intermediate count; one key's results stay in order
        // because the key lives on one subtask, so the last one is the total.
        var last: [String: Int] = [:]
        var previous: [String: Int] = [:]
        for record in results.values {
            XCTAssertEqual(record.count, (previous[record.word] ?? 0) + 1,
                           "the counts of '\(record.word)' must arrive in order, one step at a time")
            previous[record.word] = record.count
            last[record.word] = record.count
        }
        XCTAssertEqual(results.count, Self.totalWords, "a rolling reduce emits once per input record")
        return (last, result)
    }

    func testWordCountWithReduceIsTheSameAtParallelism1_2And4() async throws {
        var perParallelism: [Int: [String: Int]] = [:]
        for parallelism in [1, 2, 4] {
            let (counts, result) = try await reduceWordCount(parallelism: parallelism)
            XCTAssertEqual(counts, Self.expectedCounts, "parallelism \(parallelism)")
            XCTAssertEqual(result.counts("Keyed Reduce")?.recordsIn, Self.totalWords, "parallelism \(parallelism)")
            XCTAssertEqual(result.counts("FlatMap")?.recordsOut, Self.totalWords, "parallelism \(parallelism)")
            XCTAssertEqual(result.counts("Collection Source")?.recordsOut, Self.lines.count, "parallelism \(parallelism)")
            perParallelism[parallelism] = counts
        }
        XCTAssertEqual(perParallelism[1], perParallelism[2])
        XCTAssertEqual(perParallelism[2], perParallelism[4])
    }

    func testWordCountWithKeyedProcessFunctionEmitsEachTotalOnceAtEveryParallelism() async throws {
        for parallelism in [1, 2, 4] {
            let env = StreamEnvironment()
            env.configuration.parallelism = parallelism
            let results = CollectedResults<WordCount>()
            env.fromCollection(Self.lines)
                .flatMap { line in line.split(separator: " ").map(String.init) }
                .keyBy { $0 }
                .process(FinalWordCount())
                .collect(into: results)
            try await env.execute()

            let words = results.values.map(\.word)
            XCTAssertEqual(words.count, Set(words).count, "one total per word at parallelism \(parallelism)")
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: results.values.map { ($0.word, $0.count) }),
                           Self.expectedCounts, "parallelism \(parallelism)")
            XCTAssertTrue(results.timestampedValues.allSatisfy { $0.timestamp == Int64.max },
                          "event-time timer output carries the timer's timestamp")
        }
    }

    func testFinishedJobReportsStatusAndCounts() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let results = CollectedResults<Int64>()
        // The source runs once (see testParallelSequenceSourceEmitsEachNumberOnce, once a bug);
        // filter, map and sink run at parallelism 2.
        env.fromSequence(1...1_000).setParallelism(1)
            .filter { $0 % 2 == 0 }
            .map { $0 * 10 }
            .collect(into: results)
        let client = try env.executeAsync("counts")
        XCTAssertEqual(client.jobName, "counts")
        let result = try await client.result()
        XCTAssertEqual(client.status, .finished)
        XCTAssertTrue(client.status.isTerminal)
        XCTAssertEqual(result.jobName, "counts")
        XCTAssertEqual(result.counts("Sequence Source")?.recordsOut, 1_000)
        XCTAssertEqual(result.counts("Filter")?.recordsIn, 1_000)
        XCTAssertEqual(result.counts("Filter")?.recordsOut, 500)
        XCTAssertEqual(result.counts("Map")?.recordsOut, 500)
        XCTAssertEqual(result.counts("Collect Sink")?.recordsIn, 500)
        XCTAssertEqual(results.values.sorted(), (1...500).map { Int64($0) * 20 })
        // A second wait returns the same outcome.
        let again = try await client.result()
        XCTAssertEqual(again.operators, result.operators)
    }

    func testExecuteBlockingRunsTheJobToCompletion() throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let results = CollectedResults<Int64>()
        env.fromSequence(1...100).setParallelism(1).map { $0 + 1 }.collect(into: results)
        let result = try env.executeBlocking()
        XCTAssertEqual(result.counts("Map")?.recordsIn, 100)
        XCTAssertEqual(results.values.sorted(), Array(2...101))
    }
}
