import XCTest
@testable import Rill
import RillTesting

struct TimedEvent: Sendable {
    let key: String
    let time: Int64
}

struct FiredTimer: Sendable, Hashable {
    let key: String
    let time: Int64
    /// The timestamp the record carried in `processElement` (for the registering record).
    let elementTimestamp: Int64?
}

/// Registers an event-time timer 5 ms after each element; emits the firings.
final class DelayedTimerFunction: KeyedProcessFunction {
    var elementTimestamps: [Int64: Int64?] = [:]

    func processElement(_ value: TimedEvent, _ context: KeyedProcessContext<String, FiredTimer>,
                        _ out: Collector<FiredTimer>) throws {
        elementTimestamps[value.time + 5] = context.timestamp
        context.timerService.registerEventTimeTimer(value.time + 5)
    }

    func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<String, FiredTimer>, _ out: Collector<FiredTimer>) throws {
        try out.collect(FiredTimer(key: context.currentKey, time: timestamp,
                                   elementTimestamp: elementTimestamps[timestamp] ?? nil))
    }
}

final class WatermarkJobTests: XCTestCase {
    func testMonotonousTimestampsFeedEventTimersThatAllFireByJobEnd() async throws {
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 2
        let env = StreamEnvironment(configuration: configuration)
        let events = (0..<1_000).map { TimedEvent(key: "k\($0 % 7)", time: Int64($0) * 10) }
        let log = SharedLog<SinkEvent<FiredTimer>>()
        let strategy = WatermarkStrategy<TimedEvent>.forMonotonousTimestamps().withTimestampAssigner { event, _ in event.time }
        env.fromCollection(events, watermarkStrategy: strategy)
            .keyBy { $0.key }
            .process(DelayedTimerFunction())
            .sinkTo(OrderedEventSink(log: log), name: "Ordered Sink")
            .setParallelism(1)
        try await env.execute()

        var fired: [FiredTimer] = []
        var timestamps: [Int64] = []
        var watermarks: [Int64] = []
        for event in log.values {
            switch event {
            case .record(let timer, let timestamp):
                XCTAssertTrue(watermarks.allSatisfy { $0 < timer.time },
                              "timer \(timer.time) output came after a watermark that had already passed it")
                fired.append(timer)
                timestamps.append(timestamp)
            case .watermark(let watermark):
                watermarks.append(watermark)
            }
        }
        XCTAssertEqual(Set(fired), Set(events.map { FiredTimer(key: $0.key, time: $0.time + 5, elementTimestamp: $0.time) }))
        XCTAssertEqual(fired.count, events.count, "every timer fires exactly once")
        XCTAssertEqual(timestamps, fired.map(\.time), "timer output carries the timer's timestamp")
        XCTAssertEqual(watermarks.last, Int64.max, "the bounded job ends with the final watermark")
        XCTAssertEqual(watermarks, watermarks.sorted(), "watermarks never go backwards")
        XCTAssertEqual(Set(watermarks).count, watermarks.count, "each combined watermark is forwarded once")
    }

    func testAssignTimestampsAndWatermarksMidStream() async throws {
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 2
        configuration.clock = ManualClock()
        let env = StreamEnvironment(configuration: configuration)
        let results = CollectedResults<FiredTimer>()
        env.fromSequence(0...199).setParallelism(1)
            .map { TimedEvent(key: "k\($0 % 3)", time: $0 * 2) }
            .assignTimestampsAndWatermarks(.forBoundedOutOfOrderness(.milliseconds(50)).withTimestampAssigner { e, _ in e.time })
            .keyBy { $0.key }
            .process(DelayedTimerFunction())
            .collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.count, 200)
        XCTAssertEqual(Set(results.values.map(\.time)), Set((0...199).map { Int64($0) * 2 + 5 }))
        XCTAssertTrue(results.values.allSatisfy { $0.elementTimestamp == $0.time - 5 },
                      "records carry the timestamps the mid-stream assigner gave them")
    }

    func testRecordsWithoutAssignerHaveNoTimestamp() async throws {
        final class TimestampProbe: ProcessFunction {
            func processElement(_ value: Int, _ context: ProcessContext<Bool>, _ out: Collector<Bool>) throws {
                try out.collect(context.timestamp == nil)
            }
        }
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let results = CollectedResults<Bool>()
        env.fromCollection([1, 2, 3]).process(TimestampProbe()).collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.values, [true, true, true])
    }
}
