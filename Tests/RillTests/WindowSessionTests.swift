import XCTest
@testable import Rill
import RillTesting

/// Session windows: merging windows, merging state, trigger `onMerge`, lateness of merged windows.
final class WindowSessionTests: XCTestCase {
    typealias Harness = OperatorTestHarness<WEvent, WResult>
    let late = OutputTag<WEvent>("late")

    private func sessions(gap: Int64 = 10, lateness: Int64 = 0) throws -> Harness {
        let late = self.late
        return try Harness { input in
            input.keyBy(\.key).window(EventTimeSessionWindows.withGap(.milliseconds(gap)))
                .allowedLateness(.milliseconds(lateness)).sideOutputLateData(late).process(WSumWithWindow())
        }
    }

    func testSessionsMergeWhenTheyOverlapOrTouch() throws {
        let harness = try sessions()
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 0)), .element(WEvent("a", 2, 10)),
                                         .element(WEvent("b", 4, 0)), .element(WEvent("b", 8, 11)), .watermark(Int64.max)])
        XCTAssertEqual(harness.output.sorted(), [WResult("b", 4, 0, 10), WResult("a", 3, 0, 20), WResult("b", 8, 11, 21)],
                       "[0,10) and [10,20) touch and merge; [0,10) and [11,21) do not")
    }

    func testAnOutOfOrderElementBridgesTwoSessions() throws {
        let harness = try sessions()
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 0)), .element(WEvent("a", 2, 15)), .watermark(8)])
        XCTAssertEqual(harness.output, [])
        try WindowTestKit.feed(harness, [.element(WEvent("a", 4, 8)), .watermark(9)])
        XCTAssertEqual(harness.output, [], "the bridged session [0, 25) no longer ends at 10")
        try harness.processWatermark(24)
        XCTAssertEqual(harness.output, [WResult("a", 7, 0, 25)])
        try harness.processWatermark(Int64.max)
        XCTAssertEqual(harness.output, [WResult("a", 7, 0, 25)], "the old sessions' timers were deleted")
    }

    func testMergingMovesTheEndOfWindowTimer() throws {
        let harness = try sessions()
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 0)), .element(WEvent("a", 2, 5)), .watermark(9)])
        XCTAssertEqual(harness.output, [], "the merged session ends at 15, not 10")
        try harness.processWatermark(14)
        XCTAssertEqual(harness.output, [WResult("a", 3, 0, 15)])
    }

    func testLatenessIsJudgedOnTheMergedWindow() throws {
        let harness = try sessions()
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 0)), .watermark(5), .element(WEvent("a", 2, -8))])
        XCTAssertEqual(harness.sideOutput(late), [], "[-8, 2) alone would be late, but it merges into [-8, 10), which is not")
        try harness.processWatermark(9)
        XCTAssertEqual(harness.output, [WResult("a", 3, -8, 10)])
        try harness.processElement(WEvent("a", 4, -20), timestamp: -20)
        XCTAssertEqual(harness.sideOutput(late).map(\.value), [WEvent("a", 4, -20)], "[-20, -10) merges with nothing and is late")
    }

    func testALateElementMergingIntoAnAllowedSessionFiresItAgain() throws {
        let harness = try sessions(lateness: 20)
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 0)), .watermark(12)])
        XCTAssertEqual(harness.output, [WResult("a", 1, 0, 10)])
        try harness.processElement(WEvent("a", 2, 1), timestamp: 1)
        XCTAssertEqual(harness.output, [WResult("a", 1, 0, 10), WResult("a", 3, 0, 11)],
                       "merged into [0, 11), already past the watermark: fires at once")
        try harness.processWatermark(30)
        XCTAssertEqual(harness.output.count, 2, "no second firing from the merged window's timer")
        try harness.processWatermark(31)
        try harness.processElement(WEvent("a", 4, 2), timestamp: 2)
        XCTAssertEqual(harness.sideOutput(late).map(\.value.value), [4], "cleaned up at 10 + 20")
    }

    func testDynamicGapSessions() throws {
        let harness = try Harness { input in
            input.keyBy(\.key).window(EventTimeSessionWindows.withDynamicGap { event in .milliseconds(Int64(event.value)) })
                .process(WSumWithWindow())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 5, 0)), .element(WEvent("a", 20, 5)), .element(WEvent("a", 2, 30)),
                                         .watermark(Int64.max)])
        XCTAssertEqual(harness.output.sorted(), [WResult("a", 25, 0, 25), WResult("a", 2, 30, 32)])
    }

    func testProcessingTimeSessions() throws {
        let harness = try Harness(clock: ManualClock(startMillis: 0)) { input in
            input.keyBy(\.key).window(ProcessingTimeSessionWindows.withGap(.milliseconds(10))).process(WSumWithWindow())
        }
        try harness.processElement(WEvent("a", 1, 0))
        try harness.setProcessingTime(5)
        try harness.processElement(WEvent("a", 2, 0))
        try harness.setProcessingTime(13)
        XCTAssertEqual(harness.output, [], "the session moved to [0, 15)")
        try harness.setProcessingTime(14)
        XCTAssertEqual(harness.output, [WResult("a", 3, 0, 15)])
    }

    func testMergedSessionsKeepEveryElementForAProcessFunction() throws {
        let harness = try OperatorTestHarness<WEvent, [Int]> { input in
            input.keyBy(\.key).window(EventTimeSessionWindows.withGap(.milliseconds(10))).process(CollectValues())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 0)), .element(WEvent("a", 2, 30)), .element(WEvent("a", 3, 15)),
                                         .element(WEvent("a", 4, 22)), .element(WEvent("a", 5, 8)), .watermark(Int64.max)])
        XCTAssertEqual(harness.output.map { $0.sorted() }, [[1, 2, 3, 4, 5]],
                       "[15,25) and [30,40) merge through [22,32), then [0,10) joins through [8,18)")
    }

    func testAggregatingSessionsMergeAccumulators() throws {
        let harness = try OperatorTestHarness<WEvent, Int> { input in
            input.keyBy(\.key).window(EventTimeSessionWindows.withGap(.milliseconds(10))).aggregate(WSum())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 0)), .element(WEvent("a", 2, 30)), .element(WEvent("a", 4, 15)),
                                         .element(WEvent("a", 8, 22)), .watermark(Int64.max)])
        XCTAssertEqual(harness.output, [1, 14], "[0,10) stays alone; [15,25), [22,32) and [30,40) merge")
    }

    func testContinuousEventTimeTriggerOnSessionsKeepsTheEarliestFireTime() throws {
        let harness = try Harness { input in
            input.keyBy(\.key).window(EventTimeSessionWindows.withGap(.milliseconds(100)))
                .trigger(ContinuousEventTimeTrigger.of(.milliseconds(50))).process(WSumWithWindow())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 10)), .element(WEvent("a", 2, 200)), .element(WEvent("a", 4, 105))])
        try harness.processWatermark(49)
        XCTAssertEqual(harness.output, [])
        try harness.processWatermark(50)
        XCTAssertEqual(harness.output, [WResult("a", 7, 10, 300)], "fire times 50 and 250 merged: the earliest, 50")
        try harness.processWatermark(100)
        XCTAssertEqual(harness.output.map(\.value), [7, 7], "the chain goes on from the merged fire time")
    }

    func testPerWindowStateIsNotAvailableWithSessions() throws {
        let harness = try OperatorTestHarness<WEvent, String> { input in
            input.keyBy(\.key).window(EventTimeSessionWindows.withGap(.milliseconds(10))).process(CountingFirings())
        }
        try harness.processElement(WEvent("a", 1, 0), timestamp: 0)
        XCTAssertThrowsError(try harness.processWatermark(Int64.max)) { error in
            XCTAssertTrue("\(error)".contains("per-window state"), "\(error)")
        }
    }

    func testSessionsInAJob() async throws {
        for parallelism in [1, 2] {
            let (records, _) = try await WindowTestKit.runJob(parallelism: parallelism, [
                .element(WEvent("a", 1, 0)), .element(WEvent("b", 2, 3)), .element(WEvent("a", 4, 30)), .watermark(12),
                .element(WEvent("a", 8, 22)), .element(WEvent("b", 16, 40)), .element(WEvent("c", 32, 41)),
            ]) { events in
                events.keyBy(\.key).window(EventTimeSessionWindows.withGap(.milliseconds(10))).process(WSumWithWindow())
            }
            XCTAssertEqual(records.map(\.value).sorted(), [WResult("a", 1, 0, 10), WResult("b", 2, 3, 13),
                                                           WResult("a", 12, 22, 40), WResult("b", 16, 40, 50),
                                                           WResult("c", 32, 41, 51)], "parallelism \(parallelism)")
        }
    }
}

/// Emits the values of each window.
final class CollectValues: ProcessWindowFunction {
    func process(_ key: String, _ context: ProcessWindowContext<TimeWindow, [Int]>, _ elements: WindowElements<WEvent>,
                 _ out: Collector<[Int]>) throws {
        try out.collect(elements.map(\.value))
    }
}
