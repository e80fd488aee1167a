import XCTest
@testable import Rill
import RillTesting

/// Even numbers go to the main output; odd ones to `odd` as text.
final class OddEvenSplitter: ProcessFunction {
    let odd: OutputTag<String>
    init(odd: OutputTag<String>) { self.odd = odd }

    func processElement(_ value: Int64, _ context: ProcessContext<Int64>, _ out: Collector<Int64>) throws {
        if value % 2 == 0 {
            try out.collect(value)
        } else {
            try context.output(odd, "odd \(value)")
        }
    }
}

final class SideOutputTests: XCTestCase {
    func testSideOutputStreamCollectsOddNumbersInAJob() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let odd = OutputTag<String>("odd")
        let evens = CollectedResults<Int64>()
        let odds = CollectedResults<String>()
        let split = env.fromSequence(1...1_000).setParallelism(1).rebalance().process(OddEvenSplitter(odd: odd))
        split.collect(into: evens)
        split.sideOutput(odd).collect(into: odds)
        let result = try await env.execute()

        XCTAssertEqual(evens.values.sorted(), (1...500).map { Int64($0) * 2 })
        XCTAssertEqual(odds.values.sorted(), (0..<500).map { "odd \($0 * 2 + 1)" }.sorted())
        XCTAssertEqual(result.counts("Process")?.recordsIn, 1_000)
    }

    func testSideOutputCanBeRepartitionedAndConsumedByAnotherTask() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let odd = OutputTag<String>("odd")
        let odds = CollectedResults<Tagged<String>>()
        let split = env.fromSequence(1...100).setParallelism(1).rebalance().process(OddEvenSplitter(odd: odd))
        split.sideOutput(odd).rebalance().process(TagWithSubtask<String>()).setParallelism(3).collect(into: odds)
        try await env.execute()
        XCTAssertEqual(odds.values.map(\.value).sorted(), (0..<50).map { "odd \($0 * 2 + 1)" }.sorted())
        XCTAssertEqual(Set(odds.values.map(\.subtask)), [0, 1, 2])
    }

    func testSideOutputRecordsKeepTheirTimestamps() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let odd = OutputTag<String>("odd")
        let odds = CollectedResults<String>()
        env.fromCollection(Array(Int64(1)...10),
                           watermarkStrategy: .forMonotonousTimestamps().withTimestampAssigner { value, _ in value * 100 })
            .process(OddEvenSplitter(odd: odd))
            .sideOutput(odd)
            .collect(into: odds)
        try await env.execute()
        XCTAssertEqual(odds.timestampedValues.map(\.timestamp), [100, 300, 500, 700, 900])
    }

    /// Flink forwards watermarks to side outputs too, so event time works downstream of them
    /// (and the final watermark of a bounded job fires their timers).
    ///
    /// Regression test: `Output.emitWatermark` (Runtime/Output.swift) forwards watermarks to the main
    /// output's consumers only; the side outputs attached to it never get one.
    func testSideOutputStreamReceivesWatermarks() async throws {
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 1
        configuration.clock = ManualClock()
        let env = StreamEnvironment(configuration: configuration)
        let odd = OutputTag<String>("odd")
        let mainLog = SharedLog<SinkEvent<Int64>>()
        let sideLog = SharedLog<SinkEvent<String>>()
        let split = env.fromCollection(Array(Int64(1)...10),
                                       watermarkStrategy: .forMonotonousTimestamps().withTimestampAssigner { v, _ in v })
            .process(OddEvenSplitter(odd: odd))
        split.sinkTo(OrderedEventSink(log: mainLog), name: "Main Sink")
        split.sideOutput(odd).sinkTo(OrderedEventSink(log: sideLog), name: "Side Sink")
        try await env.execute()

        guard case .watermark(let mainLast)? = mainLog.values.last else {
            return XCTFail("main output ends with the final watermark")
        }
        XCTAssertEqual(mainLast, Int64.max)
        let sideWatermarks = sideLog.values.compactMap { event -> Int64? in
            if case .watermark(let w) = event { return w }
            return nil
        }
        XCTAssertEqual(sideWatermarks.last, Int64.max, "the side output never received the final watermark")
    }

    /// Regression test: the final watermark never reaches a side output, so
    /// event-time timers downstream of one never fire.
    func testEventTimersDownstreamOfASideOutputFireAtJobEnd() async throws {
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 2
        configuration.clock = ManualClock()
        let env = StreamEnvironment(configuration: configuration)
        let odd = OutputTag<String>("odd")
        let fired = CollectedResults<FiredTimer>()
        env.fromCollection(Array(Int64(1)...20),
                           watermarkStrategy: .forMonotonousTimestamps().withTimestampAssigner { v, _ in v })
            .process(OddEvenSplitter(odd: odd))
            .sideOutput(odd)
            .map { TimedEvent(key: $0, time: Int64($0.dropFirst(4))!) }
            .keyBy { $0.key }
            .process(DelayedTimerFunction())
            .collect(into: fired)
        try await RuntimeTestKit.executeGuarded(env)
        XCTAssertEqual(fired.values.map(\.time).sorted(), stride(from: Int64(1), through: 19, by: 2).map { $0 + 5 })
    }

    func testHarnessCollectsSideOutputs() throws {
        let odd = OutputTag<String>("odd")
        let harness = try OperatorTestHarness<Int64, Int64> { input in input.process(OddEvenSplitter(odd: odd)) }
        try harness.processElement(1, timestamp: 10)
        try harness.processElement(2, timestamp: 20)
        try harness.processElement(3)
        XCTAssertEqual(harness.output, [2])
        XCTAssertEqual(harness.sideOutput(odd).map(\.value), ["odd 1", "odd 3"])
        XCTAssertEqual(harness.sideOutput(odd).map(\.timestamp), [10, StreamRecord<String>.noTimestamp])
        XCTAssertEqual(harness.sideOutput(OutputTag<String>("odd")).count, 0,
                       "a tag is identified by its instance, not its name")
        harness.clearOutput()
        XCTAssertEqual(harness.sideOutput(odd).count, 0)
    }

    func testKeyedHarnessCollectsSideOutputs() throws {
        final class LateSplitter: KeyedProcessFunction {
            static let late = OutputTag<Int>("late")
            func processElement(_ value: Int, _ context: KeyedProcessContext<Int, Int>, _ out: Collector<Int>) throws {
                if let timestamp = context.timestamp, timestamp <= context.currentWatermark {
                    try context.output(Self.late, value)
                } else {
                    try out.collect(value)
                }
            }
        }
        let harness = try KeyedOneInputOperatorTestHarness(function: LateSplitter(), key: { (v: Int) in v % 2 })
        try harness.processElement(1, timestamp: 5)
        try harness.processWatermark(10)
        try harness.processElement(2, timestamp: 8)
        try harness.processElement(3, timestamp: 12)
        XCTAssertEqual(harness.output, [1, 3])
        XCTAssertEqual(harness.sideOutput(LateSplitter.late).map(\.value), [2])
    }
}
