import XCTest
@testable import Rill
import RillTesting

final class WindowAssignerTests: XCTestCase {
    let clock = ManualClock(startMillis: 0)
    lazy var context = WindowAssignerContext(timeService: ProcessingTimeService(clock: clock))

    // MARK: windows

    func testTimeWindowMaxTimestampIsEndMinusOne() {
        XCTAssertEqual(TimeWindow(start: 0, end: 10).maxTimestamp, 9)
        XCTAssertEqual(TimeWindow(start: -10, end: 0).maxTimestamp, -1)
        XCTAssertEqual(GlobalWindow().maxTimestamp, Int64.max)
    }

    func testTimeWindowsIntersectWhenTheyOverlapOrTouch() {
        let window = TimeWindow(start: 0, end: 10)
        XCTAssertTrue(window.intersects(TimeWindow(start: 10, end: 20)), "touching windows intersect")
        XCTAssertTrue(window.intersects(TimeWindow(start: -5, end: 0)), "touching windows intersect")
        XCTAssertTrue(window.intersects(TimeWindow(start: 3, end: 4)))
        XCTAssertFalse(window.intersects(TimeWindow(start: 11, end: 20)))
        XCTAssertFalse(window.intersects(TimeWindow(start: -5, end: -1)))
        XCTAssertEqual(window.cover(TimeWindow(start: 15, end: 20)), TimeWindow(start: 0, end: 20))
        XCTAssertEqual(window.cover(TimeWindow(start: 2, end: 3)), window)
    }

    func testWindowStartWithOffsetHandlesNegativeTimestampsAndOffsets() {
        XCTAssertEqual(TimeWindow.windowStart(timestamp: 5, offset: 0, windowSize: 10), 0)
        XCTAssertEqual(TimeWindow.windowStart(timestamp: 10, offset: 0, windowSize: 10), 10)
        XCTAssertEqual(TimeWindow.windowStart(timestamp: -5, offset: 0, windowSize: 10), -10)
        XCTAssertEqual(TimeWindow.windowStart(timestamp: -10, offset: 0, windowSize: 10), -10)
        XCTAssertEqual(TimeWindow.windowStart(timestamp: -11, offset: 0, windowSize: 10), -20)
        XCTAssertEqual(TimeWindow.windowStart(timestamp: 15, offset: 3, windowSize: 10), 13)
        XCTAssertEqual(TimeWindow.windowStart(timestamp: 2, offset: 3, windowSize: 10), -7)
        XCTAssertEqual(TimeWindow.windowStart(timestamp: -7, offset: -3, windowSize: 10), -13)
        XCTAssertEqual(TimeWindow.windowStart(timestamp: -3, offset: -3, windowSize: 10), -3)
    }

    func testMergeWindowsGroupsOverlappingAndTouchingWindows() {
        var merges: [([TimeWindow], TimeWindow)] = []
        TimeWindow.mergeWindows([TimeWindow(start: 20, end: 25), TimeWindow(start: 0, end: 5), TimeWindow(start: 5, end: 10),
                                 TimeWindow(start: 11, end: 15), TimeWindow(start: 24, end: 30), TimeWindow(start: 0, end: 5)]) {
            merges.append(($0, $1))
        }
        XCTAssertEqual(merges.count, 2, "[11,15) stays alone; a duplicate window is no merge on its own")
        XCTAssertEqual(merges[0].1, TimeWindow(start: 0, end: 10))
        XCTAssertEqual(Set(merges[0].0), [TimeWindow(start: 0, end: 5), TimeWindow(start: 5, end: 10)])
        XCTAssertEqual(merges[1].1, TimeWindow(start: 20, end: 30))
        XCTAssertEqual(Set(merges[1].0), [TimeWindow(start: 20, end: 25), TimeWindow(start: 24, end: 30)])
    }

    // MARK: assigners

    func testTumblingEventTimeWindows() throws {
        let assigner = TumblingEventTimeWindows<Int>.of(.milliseconds(5))
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: 0, context: context), [TimeWindow(start: 0, end: 5)])
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: 4, context: context), [TimeWindow(start: 0, end: 5)])
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: 5, context: context), [TimeWindow(start: 5, end: 10)])
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: -1, context: context), [TimeWindow(start: -5, end: 0)])
        XCTAssertTrue(assigner.isEventTime)
        XCTAssertTrue(assigner.defaultTrigger is EventTimeTrigger<Int>)
        XCTAssertThrowsError(try assigner.assignWindows(0, timestamp: Int64.min, context: context),
                             "an event-time assigner needs timestamps")
    }

    func testTumblingWindowsWithOffset() throws {
        let assigner = TumblingEventTimeWindows<Int>.of(.milliseconds(5), offset: .milliseconds(2))
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: 1, context: context), [TimeWindow(start: -3, end: 2)])
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: 2, context: context), [TimeWindow(start: 2, end: 7)])
        let negative = TumblingEventTimeWindows<Int>.of(.seconds(3_600), offset: .seconds(-900))
        XCTAssertEqual(try negative.assignWindows(0, timestamp: 0, context: context),
                       [TimeWindow(start: -900_000, end: 2_700_000)])
    }

    func testTumblingProcessingTimeWindowsUseTheClockNotTheTimestamp() throws {
        let assigner = TumblingProcessingTimeWindows<Int>.of(.milliseconds(10), offset: .milliseconds(1))
        clock.set(to: 25)
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: 999, context: context), [TimeWindow(start: 21, end: 31)])
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: Int64.min, context: context), [TimeWindow(start: 21, end: 31)])
        XCTAssertFalse(assigner.isEventTime)
        XCTAssertTrue(assigner.defaultTrigger is ProcessingTimeTrigger<Int>)
    }

    func testSlidingWindowsContainEachElementSizeOverSlideTimesAndMayStartBeforeZero() throws {
        let assigner = SlidingEventTimeWindows<Int>.of(.milliseconds(10), .milliseconds(5))
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: 7, context: context),
                       [TimeWindow(start: 5, end: 15), TimeWindow(start: 0, end: 10)], "latest start first, as Flink")
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: 0, context: context),
                       [TimeWindow(start: 0, end: 10), TimeWindow(start: -5, end: 5)])
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: -3, context: context),
                       [TimeWindow(start: -5, end: 5), TimeWindow(start: -10, end: 0)])
        let tenOfOne = SlidingEventTimeWindows<Int>.of(.seconds(10), .seconds(1))
        for timestamp: Int64 in [-12_345, -1, 0, 1, 999, 1_000, 987_654] {
            let windows = try tenOfOne.assignWindows(0, timestamp: timestamp, context: context)
            XCTAssertEqual(windows.count, 10, "each element lands in size/slide windows (ts \(timestamp))")
            XCTAssertTrue(windows.allSatisfy { $0.start <= timestamp && timestamp < $0.end })
            XCTAssertEqual(Set(windows.map(\.start)).count, 10)
        }
        XCTAssertEqual(try tenOfOne.assignWindows(0, timestamp: 0, context: context).last, TimeWindow(start: -9_000, end: 1_000))
        XCTAssertThrowsError(try assigner.assignWindows(0, timestamp: Int64.min, context: context))
    }

    func testSlidingWindowsWithOffsetAndUnevenSlide() throws {
        let assigner = SlidingEventTimeWindows<Int>.of(.milliseconds(10), .milliseconds(3), offset: .milliseconds(1))
        let windows = try assigner.assignWindows(0, timestamp: 0, context: context)
        XCTAssertEqual(windows, [TimeWindow(start: -2, end: 8), TimeWindow(start: -5, end: 5), TimeWindow(start: -8, end: 2)])
    }

    func testSlidingProcessingTimeWindowsUseTheClock() throws {
        let assigner = SlidingProcessingTimeWindows<Int>.of(.milliseconds(10), .milliseconds(5))
        clock.set(to: 12)
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: 0, context: context),
                       [TimeWindow(start: 10, end: 20), TimeWindow(start: 5, end: 15)])
        XCTAssertFalse(assigner.isEventTime)
    }

    func testSessionWindowsOpenAGapLongWindowPerElement() throws {
        let assigner = EventTimeSessionWindows<Int>.withGap(.milliseconds(10))
        XCTAssertEqual(try assigner.assignWindows(0, timestamp: 5, context: context), [TimeWindow(start: 5, end: 15)])
        XCTAssertTrue(assigner.isEventTime)
        let dynamic = EventTimeSessionWindows<Int>.withDynamicGap { .milliseconds($0) }
        XCTAssertEqual(try dynamic.assignWindows(3, timestamp: 5, context: context), [TimeWindow(start: 5, end: 8)])
        XCTAssertThrowsError(try dynamic.assignWindows(0, timestamp: 5, context: context), "a gap of zero fails the job")
        let processing = ProcessingTimeSessionWindows<Int>.withGap(.milliseconds(4))
        clock.set(to: 30)
        XCTAssertEqual(try processing.assignWindows(0, timestamp: 5, context: context), [TimeWindow(start: 30, end: 34)])
        XCTAssertFalse(processing.isEventTime)
        let dynamicProcessing = ProcessingTimeSessionWindows<Int>.withDynamicGap { .milliseconds($0) }
        XCTAssertEqual(try dynamicProcessing.assignWindows(2, timestamp: 5, context: context), [TimeWindow(start: 30, end: 32)])
    }

    func testGlobalWindows() throws {
        let assigner = GlobalWindows<Int>.create()
        XCTAssertEqual(try assigner.assignWindows(1, timestamp: 5, context: context), [GlobalWindow()])
        XCTAssertEqual(try assigner.assignWindows(1, timestamp: Int64.min, context: context), [GlobalWindow()])
        XCTAssertFalse(assigner.isEventTime, "global windows are never late and never cleaned up")
        XCTAssertFalse(assigner.defaultTrigger.firesAtEndOfStream)
        XCTAssertTrue(GlobalWindows<Int>.createWithEndOfStreamTrigger().defaultTrigger.firesAtEndOfStream)
    }

    // MARK: assigners in operators

    func testTumblingEventTimeWindowsInAnOperator() throws {
        let harness = try OperatorTestHarness<WEvent, WResult> { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).process(WSumWithWindow())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, -3)), .element(WEvent("a", 2, 0)), .element(WEvent("a", 4, 9)),
                                         .element(WEvent("b", 8, 10)), .watermark(Int64.max)])
        XCTAssertEqual(harness.output, [WResult("a", 1, -10, 0), WResult("a", 6, 0, 10), WResult("b", 8, 10, 20)])
    }

    func testTumblingProcessingTimeWindowsInAnOperator() throws {
        let clock = ManualClock(startMillis: 3)
        let harness = try OperatorTestHarness<WEvent, WResult>(clock: clock) { input in
            input.keyBy(\.key).window(TumblingProcessingTimeWindows.of(.milliseconds(10))).process(WSumWithWindow())
        }
        try harness.processElement(WEvent("a", 1, 500))
        try harness.processElement(WEvent("a", 2, -500))
        try harness.setProcessingTime(8)
        XCTAssertEqual(harness.output, [])
        try harness.setProcessingTime(9)
        XCTAssertEqual(harness.output, [WResult("a", 3, 0, 10)], "fires when processing time reaches end - 1")
        try harness.setProcessingTime(12)
        try harness.processElement(WEvent("a", 4, 0))
        try harness.setProcessingTime(100)
        XCTAssertEqual(harness.output, [WResult("a", 3, 0, 10), WResult("a", 4, 10, 20)])
    }

    func testSlidingEventTimeWindowsInAnOperator() throws {
        let harness = try OperatorTestHarness<WEvent, WResult> { input in
            input.keyBy(\.key).window(SlidingEventTimeWindows.of(.milliseconds(10), .milliseconds(5))).process(WSumWithWindow())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 2)), .element(WEvent("a", 10, 7)), .watermark(4)])
        XCTAssertEqual(harness.output, [WResult("a", 1, -5, 5)], "the window starting before 0 fires first")
        try harness.processWatermark(Int64.max)
        XCTAssertEqual(harness.output, [WResult("a", 1, -5, 5), WResult("a", 11, 0, 10), WResult("a", 10, 5, 15)])
    }

    func testSlidingProcessingTimeWindowsInAnOperator() throws {
        let harness = try OperatorTestHarness<WEvent, WResult>(clock: ManualClock(startMillis: 7)) { input in
            input.keyBy(\.key).window(SlidingProcessingTimeWindows.of(.milliseconds(10), .milliseconds(5))).process(WSumWithWindow())
        }
        try harness.processElement(WEvent("a", 1, 0))
        try harness.setProcessingTime(9)
        XCTAssertEqual(harness.output, [WResult("a", 1, 0, 10)])
        try harness.setProcessingTime(14)
        XCTAssertEqual(harness.output, [WResult("a", 1, 0, 10), WResult("a", 1, 5, 15)])
    }

    func testGlobalWindowsNeverFireByDefaultNotEvenAtTheEnd() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent> { input in
            input.keyBy(\.key).window(GlobalWindows.create()).reduce(wAdd)
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 1)), .element(WEvent("a", 2, 2)), .watermark(Int64.max)])
        try harness.endInput()
        XCTAssertEqual(harness.output, [])
    }
}
