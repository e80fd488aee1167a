import XCTest
@testable import Rill
import RillTesting

/// Window state (contents, trigger state, timers, slices) survives stop-with-savepoint and a
/// restore at another parallelism: every window is emitted exactly once overall.
final class WindowCheckpointTests: XCTestCase {
    static let count: Int64 = 40_000
    static let keys: Int64 = 5

    struct Summed: Hashable, Sendable, Codable, Comparable {
        let kind: String
        let key: Int64
        let end: Int64
        let sum: Int64
        static func < (a: Summed, b: Summed) -> Bool { (a.kind, a.key, a.end, a.sum) < (b.kind, b.key, b.end, b.sum) }
    }

    /// Labels a window sum (the general operator's path).
    final class Label: ProcessWindowFunction {
        func process(_ key: Int64, _ context: ProcessWindowContext<TimeWindow, Summed>, _ elements: WindowElements<Int64>,
                     _ out: Collector<Summed>) throws {
            try out.collect(Summed(kind: "sliding", key: key, end: context.window.end, sum: elements.reduce(0, +)))
        }
    }

    /// Labels a sliced tumbling sum (key, sum) with the window its timestamp names.
    final class LabelSliced: ProcessFunction {
        func processElement(_ value: KeyedValue, _ context: ProcessContext<Summed>, _ out: Collector<Summed>) throws {
            try out.collect(Summed(kind: "tumbling", key: value.key, end: context.timestamp! + 1, sum: value.value))
        }
    }

    struct KeyedValue: Sendable, Codable {
        let key: Int64
        let value: Int64
    }

    static func expected() -> [Summed] {
        var sums: [Summed: Int64] = [:]
        for i in 0..<count {
            let key = i % keys
            sums[Summed(kind: "tumbling", key: key, end: i - i % 100 + 100, sum: 0), default: 0] += i
            var start = i - i % 50
            while start > i - 100 {
                sums[Summed(kind: "sliding", key: key, end: start + 100, sum: 0), default: 0] += i
                start -= 50
            }
        }
        return sums.map { Summed(kind: $0.key.kind, key: $0.key.key, end: $0.key.end, sum: $0.value) }.sorted()
    }

    func makeJob(parallelism: Int, checkpoints: String, restore: RestoreSettings,
                 results: TransactionalResults<Summed>) -> StreamEnvironment {
        let env = StreamEnvironment()
        env.configuration.parallelism = parallelism
        env.configuration.checkpoints.directory = checkpoints
        env.configuration.checkpoints.interval = .milliseconds(20)
        env.configuration.checkpoints.tolerableFailedCheckpoints = Int.max
        env.configuration.checkpoints.maxConcurrentCheckpoints = 2
        env.configuration.restore = restore
        env.configuration.autoWatermarkInterval = .milliseconds(5)
        env.configuration.batchSize = 64
        let keys = Self.keys
        let numbers = env.fromGenerator(count: Self.count, recordsPerSecond: 20_000,
                                        watermarkStrategy: WatermarkStrategy<Int64>.forMonotonousTimestamps()
                                            .withTimestampAssigner { i, _ in i }) { $0 }
            .setParallelism(1).uid("numbers")
        let keyed = numbers.keyBy { $0 % keys }
        let tumbling = numbers.map { KeyedValue(key: $0 % keys, value: $0) }.uid("pairs")
            .keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(100)))
            .reduce { a, b in KeyedValue(key: a.key, value: a.value + b.value) }.uid("tumbling")
            .process(LabelSliced()).uid("label")
        let sliding = keyed.window(SlidingEventTimeWindows.of(.milliseconds(100), .milliseconds(50)))
            .process(Label()).uid("sliding")
        tumbling.union(sliding).sinkTo(TransactionalCollectSink(results)).uid("sink")
        return env
    }

    func testWindowsAreExactlyOnceAcrossASavepointAndRescaling() async throws {
        let results = TransactionalResults<Summed>()
        let savepoints = temporaryDirectory("window-savepoints")
        let first = makeJob(parallelism: 1, checkpoints: temporaryDirectory("window-chk-1"), restore: .none, results: results)
        let client = try first.executeAsync("windows before the savepoint")
        let path: String
        do {
            try waitUntil("some windows committed") { results.committed.count > 20 }
            path = try await client.stopWithSavepoint(to: savepoints + "/sp")
        } catch {
            client.cancel()
            _ = try? await client.result()
            throw error
        }
        let before = results.committed.count
        XCTAssertLessThan(before, Self.expected().count, "the savepoint was taken mid-stream")
        let second = makeJob(parallelism: 2, checkpoints: temporaryDirectory("window-chk-2"), restore: .path(path), results: results)
        let result = try await RuntimeTestKit.executeGuarded(second, timeout: .seconds(60))
        XCTAssertNotNil(result)
        let committed = results.committed.sorted()
        let expected = Self.expected()
        XCTAssertEqual(committed.count, expected.count, "(\(before) committed before the savepoint)")
        var remaining = committed
        for window in expected {
            if let index = remaining.firstIndex(of: window) { remaining.remove(at: index) }
        }
        let missing = Set(expected).subtracting(committed)
        XCTAssertEqual(remaining.count, 0, "repeated or wrong: \(remaining.prefix(10))")
        XCTAssertEqual(missing.count, 0, "lost: \(missing.sorted().prefix(10))")
    }
}
