import XCTest
@testable import Rill
import RillTesting

/// The corner cases again, each run through the operator test harness and through whole jobs at
/// parallelism 1 and 2 (a scripted source emits the same watermarks at the same places): all
/// three must give the expected output.
final class WindowScriptedJobTests: XCTestCase {
    private func check<Out: Sendable & Comparable>(
        _ steps: [WStep], expected: [Out], file: StaticString = #filePath, line: UInt = #line,
        _ build: @escaping (DataStream<WEvent>) -> DataStream<Out>
    ) async throws {
        let harness = try OperatorTestHarness<WEvent, Out>(build)
        try WindowTestKit.feed(harness, steps)
        try harness.processWatermark(Int64.max)   // what a bounded source sends last
        try harness.endInput()
        XCTAssertEqual(harness.output.sorted(), expected.sorted(), "harness", file: file, line: line)
        for parallelism in [1, 2] {
            let (records, _) = try await WindowTestKit.runJob(parallelism: parallelism, steps, file: file, line: line, build)
            XCTAssertEqual(records.map(\.value).sorted(), expected.sorted(), "job at parallelism \(parallelism)", file: file, line: line)
        }
    }

    func testAllowedLatenessRefiringAndCleanup() async throws {
        try await check([.element(WEvent("a", 1, 3)), .element(WEvent("b", 10, 4)), .watermark(12), .element(WEvent("a", 2, 4)),
                         .watermark(14), .element(WEvent("a", 4, 5)), .element(WEvent("b", 20, 15))],
                        expected: [WResult("a", 1, 0, 10), WResult("b", 10, 0, 10), WResult("a", 3, 0, 10), WResult("b", 20, 10, 20)]) {
            $0.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).allowedLateness(.milliseconds(5))
                .process(WSumWithWindow())
        }
    }

    func testSlidingWindowsBeforeZeroSlicedAndNot() async throws {
        let steps: [WStep] = [.element(WEvent("a", 1, 2)), .element(WEvent("a", 10, 7)), .element(WEvent("b", 100, -3))]
        let expected = [WResult("b", 100, -10, 0), WResult("a", 1, -5, 5), WResult("b", 100, -5, 5), WResult("a", 11, 0, 10),
                        WResult("a", 10, 5, 15)]
        try await check(steps, expected: expected) {
            $0.keyBy(\.key).window(SlidingEventTimeWindows.of(.milliseconds(10), .milliseconds(5))).process(WSumWithWindow())
        }
        try await check(steps, expected: expected) {
            $0.keyBy(\.key).window(SlidingEventTimeWindows.of(.milliseconds(10), .milliseconds(5))).reduce(wAdd)
                .process(LabelWithWindow(size: 10))
        }
    }

    func testSessionsBridgedByAnOutOfOrderElement() async throws {
        try await check([.element(WEvent("a", 1, 0)), .element(WEvent("a", 2, 15)), .element(WEvent("b", 4, 0)), .watermark(5),
                         .element(WEvent("a", 8, 8))],
                        expected: [WResult("a", 11, 0, 25), WResult("b", 4, 0, 10)]) {
            $0.keyBy(\.key).window(EventTimeSessionWindows.withGap(.milliseconds(10))).process(WSumWithWindow())
        }
    }

    func testCountTriggerRunningTotalsAndPurging() async throws {
        let steps = (1...7).map { WStep.element(WEvent("a", $0, Int64($0))) } + [.element(WEvent("b", 100, 1))]
        try await check(steps, expected: [6, 21]) {
            $0.keyBy(\.key).window(GlobalWindows.create()).trigger(CountTrigger.of(3)).reduce(wAdd).map(\.value)
        }
        try await check(steps, expected: [6, 15]) {
            $0.keyBy(\.key).window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(3))).reduce(wAdd).map(\.value)
        }
        try await check(steps, expected: [Int]()) {
            $0.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(100))).trigger(CountTrigger.of(10)).reduce(wAdd)
                .map(\.value)
        }
    }

    func testContinuousEventTimeTriggerChain() async throws {
        try await check([.element(WEvent("a", 1, 5)), .watermark(30), .element(WEvent("a", 2, 40)), .watermark(1_000)],
                        expected: [1, 3, 3, 3]) {
            $0.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(100)))
                .trigger(ContinuousEventTimeTrigger.of(.milliseconds(30))).reduce(wAdd).map(\.value)
        }
    }

    func testDeltaTriggerAndEndOfStream() async throws {
        try await check([1, 3, 6, 7, 11, 13].map { WStep.element(WEvent("a", $0, 0)) }, expected: [17, 41]) {
            $0.keyBy(\.key).window(GlobalWindows.create())
                .trigger(DeltaTrigger.of(5, { old, new in Double(abs(new.value - old.value)) })).reduce(wAdd).map(\.value)
        }
        try await check([.element(WEvent("a", 1, 1)), .element(WEvent("b", 2, 2)), .element(WEvent("a", 4, 3))], expected: [2, 5]) {
            $0.keyBy(\.key).window(GlobalWindows.createWithEndOfStreamTrigger()).reduce(wAdd).map(\.value)
        }
    }

    func testProcessingTimeoutTriggerFiresOnEventTimeTimers() async throws {
        try await check([.element(WEvent("a", 1, 1)), .element(WEvent("a", 2, 2)), .element(WEvent("b", 4, 15))],
                        expected: [WResult("a", 3, 0, 10), WResult("b", 4, 10, 20)]) {
            $0.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10)))
                .trigger(ProcessingTimeoutTrigger.of(CountTrigger.of(10), .seconds(3_600))).process(WSumWithWindow())
        }
    }

    func testEvictorsInJobs() async throws {
        let steps = (1...6).map { WStep.element(WEvent("a", $0, Int64($0))) }
        try await check(steps, expected: [5, 11]) {
            $0.keyBy(\.key).window(GlobalWindows.create()).trigger(CountTrigger.of(3)).evictor(CountEvictor.of(2))
                .aggregate(WSum())
        }
        try await check([.element(WEvent("a", 1, 1)), .element(WEvent("a", 9, 9)), .element(WEvent("a", 4, 4)),
                         .element(WEvent("a", 5, 5))], expected: [14]) {
            $0.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).evictor(TimeEvictor.of(.milliseconds(5)))
                .aggregate(WSum())
        }
        try await check([1, 8, 10].map { WStep.element(WEvent("a", $0, 0)) }, expected: [18]) {
            $0.keyBy(\.key).window(GlobalWindows.create()).trigger(CountTrigger.of(3))
                .evictor(DeltaEvictor.of(3, { a, b in Double(abs(a.value - b.value)) })).aggregate(WSum())
        }
    }

    func testIncrementalAndProcessFunctionsInJobs() async throws {
        let steps: [WStep] = [.element(WEvent("a", 1, 1)), .element(WEvent("b", 2, 2)), .element(WEvent("a", 4, 3)),
                              .element(WEvent("a", 8, 12))]
        let expected = [WResult("a", 5, 0, 10), WResult("b", 2, 0, 10), WResult("a", 8, 10, 20)]
        try await check(steps, expected: expected) {
            $0.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).reduce(wAdd, process: WLabelEvent())
        }
        try await check(steps, expected: expected) {
            $0.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).aggregate(WSum(), process: WLabelSum())
        }
        try await check(steps, expected: [WResult("*", 7, 0, 10), WResult("*", 8, 10, 20)]) {
            $0.windowAll(TumblingEventTimeWindows.of(.milliseconds(10))).process(AllSum())
        }
    }
}
