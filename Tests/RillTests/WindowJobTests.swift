import XCTest
@testable import Rill
import RillTesting

/// Whole jobs with windows, at parallelism 1 and 2.
final class WindowJobTests: XCTestCase {
    /// `count` events: key `k(i % keys)`, value `i`, event time `i / 3` (in order).
    private func events(_ env: StreamEnvironment, count: Int64, keys: Int64) -> DataStream<WEvent> {
        env.fromGenerator(count: count, watermarkStrategy: WatermarkStrategy<WEvent>.forMonotonousTimestamps()
            .withTimestampAssigner { event, _ in event.ts }) { i in
            WEvent("k\(i % keys)", Int(i), i / 3)
        }
    }

    /// What sliding windows of `size`/`slide` over those events must give: key, window → sum.
    private func expectedSums(count: Int64, keys: Int64, size: Int64, slide: Int64) -> [WResult: Int] {
        var sums: [WResult: Int] = [:]
        for i in 0..<count {
            let ts = i / 3
            var start = TimeWindow.windowStart(timestamp: ts, offset: 0, windowSize: slide)
            while start > ts - size {
                sums[WResult("k\(i % keys)", 0, start, start + size), default: 0] += Int(i)
                start -= slide
            }
        }
        return sums
    }

    private func execute(_ env: StreamEnvironment) async throws -> JobExecutionResult {
        let result = try await RuntimeTestKit.executeGuarded(env)
        return try XCTUnwrap(result)
    }

    func testTumblingAndSlidingWindowsInAJob() async throws {
        let count: Int64 = 20_000
        let tumbling = expectedSums(count: count, keys: 13, size: 100, slide: 100)
        let sliding = expectedSums(count: count, keys: 13, size: 100, slide: 25)
        for parallelism in [1, 2] {
            let env = StreamEnvironment()
            env.configuration.parallelism = parallelism
            let keyed = events(env, count: count, keys: 13).keyBy(\.key)
            let sliced = CollectedResults<WResult>()
            keyed.window(TumblingEventTimeWindows.of(.milliseconds(100))).aggregate(WSum(), process: WLabelSum())
                .collect(into: sliced)
            let reduced = CollectedResults<StreamRecord<WEvent>>()
            keyed.window(SlidingEventTimeWindows.of(.milliseconds(100), .milliseconds(25))).reduce(wAdd)
                .process(KeepTimestamp()).collect(into: reduced)
            let general = CollectedResults<WResult>()
            keyed.window(SlidingEventTimeWindows.of(.milliseconds(100), .milliseconds(25))).process(WSumWithWindow())
                .collect(into: general)
            _ = try await execute(env)
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: sliced.values.map { (WResult($0.key, 0, $0.start, $0.end), $0.value) }),
                           tumbling, "parallelism \(parallelism)")
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: reduced.values.map {
                (WResult($0.value.key, 0, $0.timestamp + 1 - 100, $0.timestamp + 1), $0.value.value)
            }), sliding, "sliced sliding windows, parallelism \(parallelism)")
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: general.values.map { (WResult($0.key, 0, $0.start, $0.end), $0.value) }),
                           sliding, "per-window sliding windows, parallelism \(parallelism)")
        }
    }

    func testGlobalWindowsWithACountTriggerInAJob() async throws {
        for parallelism in [1, 2] {
            let env = StreamEnvironment()
            env.configuration.parallelism = parallelism
            let results = CollectedResults<WEvent>()
            events(env, count: 1_000, keys: 4).keyBy(\.key).window(GlobalWindows.create())
                .trigger(PurgingTrigger.of(CountTrigger.of(100))).reduce(wAdd).collect(into: results)
            _ = try await execute(env)
            XCTAssertEqual(results.count, 8, "250 elements per key: two full counts each, 50 left over")
            XCTAssertEqual(Set(results.values.map(\.key)), ["k0", "k1", "k2", "k3"])
        }
    }

    func testEndOfStreamWindowsFireAtTheEndOfAJob() async throws {
        for parallelism in [1, 2] {
            let env = StreamEnvironment()
            env.configuration.parallelism = parallelism
            let results = CollectedResults<WEvent>()
            events(env, count: 1_000, keys: 4).keyBy(\.key).window(GlobalWindows.createWithEndOfStreamTrigger())
                .reduce(wAdd).collect(into: results)
            _ = try await execute(env)
            XCTAssertEqual(results.values.sorted { $0.key < $1.key }.map(\.value), [124_500, 124_750, 125_000, 125_250])
        }
    }

    func testWindowAllRunsWithParallelismOne() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let results = CollectedResults<WResult>()
        events(env, count: 3_000, keys: 5).windowAll(TumblingEventTimeWindows.of(.milliseconds(100)))
            .process(AllSum()).collect(into: results)
        let plan = try env.explain()
        let line = try XCTUnwrap(plan.split(separator: "\n").first { $0.contains("AllWindow") })
        XCTAssertTrue(line.contains("parallelism 1"), "\(plan)")
        _ = try await execute(env)
        XCTAssertEqual(results.count, 10)
        XCTAssertEqual(results.values.map(\.value).reduce(0, +), 2_999 * 3_000 / 2)
        XCTAssertEqual(results.values.sorted().first, WResult("*", (0..<300).reduce(0, +), 0, 100))
        let reduced = CollectedResults<WEvent>()
        let env2 = StreamEnvironment()
        env2.configuration.parallelism = 2
        events(env2, count: 3_000, keys: 5).windowAll(SlidingEventTimeWindows.of(.milliseconds(200), .milliseconds(100)))
            .reduce(wAdd).collect(into: reduced)
        _ = try await execute(env2)
        XCTAssertEqual(reduced.count, 11, "slices over all keys: windows from -100 to 1,000")
        XCTAssertEqual(reduced.values.map(\.value).reduce(0, +), 2 * (2_999 * 3_000 / 2))
    }

    func testProcessingTimeWindowsDoNotFireAtTheEndOfAJob() async throws {
        for parallelism in [1, 2] {
            let env = StreamEnvironment()
            env.configuration.parallelism = parallelism
            env.configuration.clock = ManualClock(startMillis: 0)
            let results = CollectedResults<WEvent>()
            let eventTime = CollectedResults<WEvent>()
            let keyed = events(env, count: 500, keys: 3).keyBy(\.key)
            keyed.window(TumblingProcessingTimeWindows.of(.milliseconds(10))).reduce(wAdd).collect(into: results)
            keyed.window(TumblingEventTimeWindows.of(.seconds(3_600))).reduce(wAdd).collect(into: eventTime)
            _ = try await execute(env)
            XCTAssertEqual(results.count, 0, "processing-time timers do not fire at the end of input")
            XCTAssertEqual(eventTime.count, 3, "the final watermark fires every event-time window")
        }
    }

    func testScriptedLateDataAtParallelismOneAndTwo() async throws {
        for parallelism in [1, 2] {
            let (records, result) = try await WindowTestKit.runJob(parallelism: parallelism, [
                .element(WEvent("a", 1, 1)), .element(WEvent("b", 2, 5)), .watermark(9),
                .element(WEvent("a", 4, 8)), .element(WEvent("b", 8, 12)), .watermark(30), .element(WEvent("b", 16, 25)),
                .watermark(40), .element(WEvent("b", 32, 26)),
            ]) { events in
                events.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).allowedLateness(.milliseconds(10))
                    .process(WSumWithWindow())
            }
            XCTAssertEqual(records.map(\.value).sorted(), [WResult("a", 1, 0, 10), WResult("b", 2, 0, 10), WResult("a", 5, 0, 10),
                                                           WResult("b", 8, 10, 20), WResult("b", 16, 20, 30)].sorted(),
                           "a:4 and b:16 arrived within lateness and fired at once; b:32 came after [20,30) was cleaned at 39")
            XCTAssertEqual(result?.counts("Window")?.numLateRecordsDropped, 1)
        }
    }
}

/// Forwards a record with its timestamp as part of the value.
final class KeepTimestamp: ProcessFunction {
    func processElement(_ value: WEvent, _ context: ProcessContext<StreamRecord<WEvent>>,
                        _ out: Collector<StreamRecord<WEvent>>) throws {
        try out.collect(StreamRecord(value, timestamp: context.timestamp!))
    }
}
