import XCTest
@testable import Rill
import RillTesting

/// Registers a timer `delay` after each element (event time, or processing time) and never
/// fires on its own: shows what a wrapping trigger makes of another trigger's timers.
struct TimerProbeTrigger<W: Window>: Trigger {
    typealias Element = WEvent
    let delay: Int64
    let processingTime: Bool

    func onElement(_ element: WEvent, timestamp: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        if processingTime {
            context.registerProcessingTimeTimer(context.currentProcessingTime + delay)
        } else {
            context.registerEventTimeTimer(timestamp + delay)
        }
        return .continue
    }
    func onEventTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult { .continue }
    func onProcessingTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult { .continue }
    func clear(window: W, context: TriggerContext<W>) throws {}
}

/// A user trigger with partitioned state: fires (and purges) every second element of a window.
struct EverySecondElement<W: Window>: Trigger {
    typealias Element = WEvent
    var seen: ValueStateDescriptor<Bool> { ValueStateDescriptor(name: "seen-one") }

    func onElement(_ element: WEvent, timestamp: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        let state = try context.getPartitionedState(seen)
        if state.value() == true {
            state.clear()
            return .fireAndPurge
        }
        state.update(true)
        return .continue
    }
    func onEventTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult { .continue }
    func onProcessingTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult { .continue }
    func clear(window: W, context: TriggerContext<W>) throws { try context.getPartitionedState(seen).clear() }
}

final class WindowTriggerTests: XCTestCase {
    typealias Harness = OperatorTestHarness<WEvent, WResult>

    private func values(_ harness: Harness) -> [Int] { harness.output.map(\.value) }

    // MARK: EventTimeTrigger

    func testEventTimeTriggerFiresWhenTheWatermarkReachesEndMinusOne() throws {
        let harness = try Harness { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).trigger(EventTimeTrigger.create()).process(WSumWithWindow())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 0)), .element(WEvent("a", 2, 9)), .watermark(8)])
        XCTAssertEqual(harness.output, [], "watermark end - 2: not yet")
        try harness.processWatermark(9)
        XCTAssertEqual(harness.output, [WResult("a", 3, 0, 10)])
        XCTAssertEqual(harness.outputRecords.map(\.timestamp), [9], "a window result carries the window's maxTimestamp")
    }

    // MARK: ContinuousEventTimeTrigger

    private func continuousEventTime(interval: Int64) throws -> Harness {
        try Harness { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(100)))
                .trigger(ContinuousEventTimeTrigger.of(.milliseconds(interval))).process(WSumWithWindow())
        }
    }

    func testContinuousEventTimeTriggerAlignsTheFirstFiringToTheIntervalAndChainsTheNext() throws {
        let harness = try continuousEventTime(interval: 30)
        try harness.processElement(WEvent("a", 1, 5), timestamp: 5)
        try harness.processWatermark(29)
        XCTAssertEqual(values(harness), [], "first firing at 5 - 5 % 30 + 30 = 30, not 5 + 30")
        try harness.processWatermark(30)
        XCTAssertEqual(values(harness), [1])
        try harness.processElement(WEvent("a", 2, 40), timestamp: 40)
        try harness.processWatermark(59)
        XCTAssertEqual(values(harness), [1], "a later element does not move the pending firing")
        try harness.processWatermark(60)
        XCTAssertEqual(values(harness), [1, 3], "each firing registered the next one, interval later")
        try harness.processWatermark(89)
        XCTAssertEqual(values(harness), [1, 3])
        try harness.processWatermark(90)
        XCTAssertEqual(values(harness), [1, 3, 3], "fires again with nothing new: repeated result")
        try harness.processWatermark(99)
        XCTAssertEqual(values(harness), [1, 3, 3, 3], "the capped interval timer and the end-of-window timer coincide at 99")
        try harness.processWatermark(Int64.max)
        XCTAssertEqual(values(harness), [1, 3, 3, 3], "the window was cleaned up at 99")
        XCTAssertTrue(harness.outputRecords.allSatisfy { $0.timestamp == 99 })
    }

    func testContinuousEventTimeTriggerCapsTheFirstFiringAtTheWindowEnd() throws {
        let harness = try continuousEventTime(interval: 30)
        try harness.processElement(WEvent("a", 7, 95), timestamp: 95)
        try harness.processWatermark(98)
        XCTAssertEqual(values(harness), [])
        try harness.processWatermark(99)
        XCTAssertEqual(values(harness), [7], "95 - 95 % 30 + 30 = 120, capped at maxTimestamp 99: one firing")
    }

    func testAWatermarkJumpFiresTheWholeChain() throws {
        let harness = try continuousEventTime(interval: 30)
        try harness.processElement(WEvent("a", 1, 5), timestamp: 5)
        try harness.processWatermark(1_000)
        XCTAssertEqual(values(harness), [1, 1, 1, 1], "firings at 30, 60, 90 and 99 in one watermark")
    }

    func testContinuousEventTimeTriggerFiresAtOnceForAnElementAfterTheWindowEnd() throws {
        let harness = try Harness { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(100))).allowedLateness(.milliseconds(50))
                .trigger(ContinuousEventTimeTrigger.of(.milliseconds(30))).process(WSumWithWindow())
        }
        try harness.processElement(WEvent("a", 1, 5), timestamp: 5)
        try harness.processWatermark(120)
        XCTAssertEqual(values(harness), [1, 1, 1, 1])
        try harness.processElement(WEvent("a", 2, 50), timestamp: 50)
        XCTAssertEqual(values(harness), [1, 1, 1, 1, 3], "late but allowed: fires at once")
    }

    // MARK: ContinuousProcessingTimeTrigger

    func testContinuousProcessingTimeTriggerFiresEveryIntervalOfTheClock() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent>(clock: ManualClock(startMillis: 3)) { input in
            input.keyBy(\.key).window(GlobalWindows.create())
                .trigger(ContinuousProcessingTimeTrigger.of(.milliseconds(10))).reduce(wAdd)
        }
        try harness.processElement(WEvent("a", 1, 0))
        try harness.setProcessingTime(9)
        XCTAssertEqual(harness.output.map(\.value), [])
        try harness.setProcessingTime(10)
        XCTAssertEqual(harness.output.map(\.value), [1], "first firing at the next multiple of the interval")
        try harness.processElement(WEvent("a", 2, 0))
        try harness.setProcessingTime(35)
        XCTAssertEqual(harness.output.map(\.value), [1, 3, 3], "firings at 20 and 30; never purges")
        XCTAssertEqual(harness.outputRecords.map(\.timestamp), [Int64.max, Int64.max, Int64.max])
    }

    func testContinuousProcessingTimeTriggerIsCappedAtTheWindowEnd() throws {
        let harness = try Harness(clock: ManualClock(startMillis: 0)) { input in
            input.keyBy(\.key).window(TumblingProcessingTimeWindows.of(.milliseconds(25)))
                .trigger(ContinuousProcessingTimeTrigger.of(.milliseconds(10))).process(WSumWithWindow())
        }
        try harness.processElement(WEvent("a", 1, 0))
        try harness.setProcessingTime(100)
        XCTAssertEqual(values(harness), [1, 1, 1], "at 10, 20 and 24 (capped at maxTimestamp), then cleaned up")
    }

    func testContinuousProcessingTimeTriggerOnAnEventTimeWindowEndsItsChainAtTheWindowEnd() throws {
        let harness = try Harness(clock: ManualClock(startMillis: 1_000_000)) { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(100)))
                .trigger(ContinuousProcessingTimeTrigger.of(.milliseconds(30))).process(WSumWithWindow())
        }
        try harness.processElement(WEvent("a", 1, 5), timestamp: 5)
        try harness.setProcessingTime(1_000_001)
        XCTAssertEqual(values(harness), [1], "the first fire time is capped at 99, long past: fires once and stops")
        try harness.setProcessingTime(2_000_000)
        XCTAssertEqual(values(harness), [1])
    }

    func testContinuousEventTimeTriggerOnAGlobalWindowFinishesAtTheFinalWatermark() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent> { input in
            input.keyBy(\.key).window(GlobalWindows.create()).trigger(ContinuousEventTimeTrigger.of(.milliseconds(10))).reduce(wAdd)
        }
        try harness.processElement(WEvent("a", 1, 5), timestamp: 5)
        try harness.processWatermark(35)
        XCTAssertEqual(harness.output.map(\.value), [1, 1, 1], "at 10, 20 and 30")
        try harness.processWatermark(Int64.max)
        XCTAssertEqual(harness.output.map(\.value), [1, 1, 1, 1, 1], "the pending 40, then the end of the window")
    }

    // MARK: CountTrigger and PurgingTrigger

    func testCountTriggerFiresWithoutPurgingSoResultsAreRunningTotals() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent> { input in
            input.keyBy(\.key).window(GlobalWindows.create()).trigger(CountTrigger.of(3)).reduce(wAdd)
        }
        for value in 1...7 { try harness.processElement(WEvent("a", value, Int64(value)), timestamp: Int64(value)) }
        XCTAssertEqual(harness.output.map(\.value), [6, 21], "1+2+3, then 1+…+6")
        try harness.processWatermark(Int64.max)
        try harness.endInput()
        XCTAssertEqual(harness.output.map(\.value), [6, 21], "the leftover 7 is never emitted, not even at the end")
    }

    func testPurgingTriggerTurnsFireIntoFireAndPurge() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent> { input in
            input.keyBy(\.key).window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(3))).reduce(wAdd)
        }
        for value in 1...7 { try harness.processElement(WEvent("a", value, Int64(value)), timestamp: Int64(value)) }
        try harness.processWatermark(Int64.max)
        try harness.endInput()
        XCTAssertEqual(harness.output.map(\.value), [6, 15], "one result per three elements; 7 is left over")
        XCTAssertEqual(PurgingTrigger<CountTrigger<WEvent, GlobalWindow>>.purging(.fire), .fireAndPurge)
        XCTAssertEqual(PurgingTrigger<CountTrigger<WEvent, GlobalWindow>>.purging(.continue), .continue)
        XCTAssertEqual(PurgingTrigger<CountTrigger<WEvent, GlobalWindow>>.purging(.purge), .purge)
    }

    func testCountTriggerOnATumblingWindowNeverFiresOnTimeAndItsContentsAreDroppedAtCleanup() throws {
        let harness = try Harness { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).trigger(CountTrigger.of(3))
                .process(WSumWithWindow())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 1)), .element(WEvent("a", 2, 2)), .watermark(Int64.max)])
        try harness.endInput()
        XCTAssertEqual(harness.output, [], "the end of the window does not fire a count trigger")
    }

    func testCountTriggerWindowKeepsItsContentsUntilCleanup() throws {
        let late = OutputTag<WEvent>("late")
        let harness = try Harness { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).allowedLateness(.milliseconds(10))
                .sideOutputLateData(late).trigger(CountTrigger.of(3)).process(WSumWithWindow())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 1)), .element(WEvent("a", 2, 2)), .watermark(15),
                                         .element(WEvent("a", 4, 3))])
        XCTAssertEqual(harness.output, [WResult("a", 7, 0, 10)], "the third element, within lateness, completes the count")
        try WindowTestKit.feed(harness, [.element(WEvent("a", 8, 4)), .watermark(19), .element(WEvent("a", 16, 5))])
        XCTAssertEqual(harness.output, [WResult("a", 7, 0, 10)])
        XCTAssertEqual(harness.sideOutput(late).map(\.value.value), [16], "after cleanup at 9 + 10 the window is gone")
    }

    // MARK: DeltaTrigger

    func testDeltaTriggerStoresTheFirstElementAndFiresStrictlyAboveTheThreshold() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent> { input in
            input.keyBy(\.key).window(GlobalWindows.create())
                .trigger(DeltaTrigger.of(5, { old, new in Double(abs(new.value - old.value)) })).reduce(wAdd)
        }
        for value in [1, 3, 6] { try harness.processElement(WEvent("a", value, 0), timestamp: 0) }
        XCTAssertEqual(harness.output.map(\.value), [], "3 - 1 = 2 and 6 - 1 = 5 are not above 5")
        try harness.processElement(WEvent("a", 7, 0), timestamp: 0)
        XCTAssertEqual(harness.output.map(\.value), [17], "7 - 1 = 6 > 5: fires with everything so far")
        try harness.processElement(WEvent("a", 11, 0), timestamp: 0)
        XCTAssertEqual(harness.output.map(\.value), [17], "compared with 7, the element of the last firing: 4")
        try harness.processElement(WEvent("a", 13, 0), timestamp: 0)
        XCTAssertEqual(harness.output.map(\.value), [17, 41])
    }

    // MARK: GlobalWindows triggers

    func testEndOfStreamTriggerFiresOnceAtTheFinalWatermark() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent> { input in
            input.keyBy(\.key).window(GlobalWindows.createWithEndOfStreamTrigger()).reduce(wAdd)
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 1)), .element(WEvent("b", 2, 2)), .element(WEvent("a", 4, 3)),
                                         .watermark(1_000_000)])
        XCTAssertEqual(harness.output, [])
        try harness.processWatermark(Int64.max)
        XCTAssertEqual(harness.output.map(\.value), [5, 2])
        XCTAssertEqual(harness.outputRecords.map(\.timestamp), [Int64.max, Int64.max])
    }

    func testNeverTriggerNeverFires() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent> { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).trigger(NeverTrigger()).reduce(wAdd)
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 1)), .watermark(Int64.max)])
        XCTAssertEqual(harness.output, [])
    }

    // MARK: ProcessingTimeoutTrigger

    func testProcessingTimeoutTriggerFiresOnTimeoutWithoutPurging() throws {
        let clock = ManualClock(startMillis: 0)
        let harness = try OperatorTestHarness<WEvent, WEvent>(clock: clock) { input in
            input.keyBy(\.key).window(GlobalWindows.create())
                .trigger(ProcessingTimeoutTrigger.of(CountTrigger.of(3), .milliseconds(100))).reduce(wAdd)
        }
        try harness.processElement(WEvent("a", 1, 0))
        try harness.setProcessingTime(50)
        try harness.processElement(WEvent("a", 2, 0))
        try harness.setProcessingTime(99)
        XCTAssertEqual(harness.output.map(\.value), [])
        try harness.setProcessingTime(100)
        XCTAssertEqual(harness.output.map(\.value), [3], "100 ms after the first element; the second did not reset the timer")
        try harness.setProcessingTime(120)
        for value in [4, 8] { try harness.processElement(WEvent("a", value, 0)) }
        try harness.setProcessingTime(200)
        XCTAssertEqual(harness.output.map(\.value), [3], "the timeout cleared the count, and a new timeout runs to 220")
        try harness.processElement(WEvent("a", 16, 0))
        XCTAssertEqual(harness.output.map(\.value), [3, 31], "the count fires (contents were never purged)")
        try harness.setProcessingTime(1_000)
        XCTAssertEqual(harness.output.map(\.value), [3, 31], "the nested firing cleared the pending timeout")
    }

    func testProcessingTimeoutTriggerCanResetTheTimerOnEveryRecord() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent>(clock: ManualClock(startMillis: 0)) { input in
            input.keyBy(\.key).window(GlobalWindows.create())
                .trigger(PurgingTrigger.of(ProcessingTimeoutTrigger.of(CountTrigger.of(10), .milliseconds(100),
                                                                         resetTimerOnNewRecord: true)))
                .reduce(wAdd)
        }
        try harness.processElement(WEvent("a", 1, 0))
        try harness.setProcessingTime(80)
        try harness.processElement(WEvent("a", 2, 0))
        try harness.setProcessingTime(179)
        XCTAssertEqual(harness.output.map(\.value), [])
        try harness.setProcessingTime(180)
        XCTAssertEqual(harness.output.map(\.value), [3])
    }

    func testProcessingTimeoutTriggerFiresOnTheNestedTriggersOwnTimers() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent>(clock: ManualClock(startMillis: 0)) { input in
            input.keyBy(\.key).window(GlobalWindows.create())
                .trigger(ProcessingTimeoutTrigger.of(TimerProbeTrigger(delay: 5, processingTime: false), .seconds(60)))
                .reduce(wAdd)
        }
        try harness.processElement(WEvent("a", 1, 10), timestamp: 10)
        try harness.processWatermark(14)
        XCTAssertEqual(harness.output.map(\.value), [])
        try harness.processWatermark(15)
        XCTAssertEqual(harness.output.map(\.value), [1], "the nested trigger said continue on its timer; the timeout trigger fires")
        try harness.setProcessingTime(60_000)
        XCTAssertEqual(harness.output.map(\.value), [1], "that firing cleared the timeout")
    }

    func testProcessingTimeoutTriggerFiresOnTheWindowCleanupTimer() throws {
        let harness = try Harness(clock: ManualClock(startMillis: 0)) { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10)))
                .trigger(ProcessingTimeoutTrigger.of(CountTrigger.of(10), .seconds(60))).process(WSumWithWindow())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 1)), .element(WEvent("a", 2, 2)), .watermark(9)])
        XCTAssertEqual(harness.output, [WResult("a", 3, 0, 10)], "the cleanup timer is a timer too: fire")
    }

    func testProcessingTimeoutTriggerKeepsItsStateWhenAskedNotToClear() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent>(clock: ManualClock(startMillis: 0)) { input in
            input.keyBy(\.key).window(GlobalWindows.create())
                .trigger(ProcessingTimeoutTrigger.of(CountTrigger.of(3), .milliseconds(100), shouldClearOnTimeout: false))
                .reduce(wAdd)
        }
        try harness.processElement(WEvent("a", 1, 0))
        try harness.processElement(WEvent("a", 2, 0))
        try harness.setProcessingTime(100)
        XCTAssertEqual(harness.output.map(\.value), [3])
        try harness.processElement(WEvent("a", 4, 0))
        XCTAssertEqual(harness.output.map(\.value), [3, 7], "the count survived the timeout: third element fires")
    }

    // MARK: user triggers and merging

    func testUserTriggerWithPartitionedStatePerWindow() throws {
        let harness = try Harness { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).trigger(EverySecondElement())
                .process(WSumWithWindow())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 1)), .element(WEvent("a", 2, 11)), .element(WEvent("a", 4, 2)),
                                         .element(WEvent("a", 8, 3)), .element(WEvent("a", 16, 12))])
        XCTAssertEqual(harness.output, [WResult("a", 5, 0, 10), WResult("a", 18, 10, 20)],
                       "state is per window: the element at 11 does not count for [0, 10)")
    }

    func testCountTriggerCountsMergeWhenSessionsMerge() throws {
        let harness = try Harness { input in
            input.keyBy(\.key).window(EventTimeSessionWindows.withGap(.milliseconds(10))).trigger(CountTrigger.of(3))
                .process(WSumWithWindow())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 0)), .element(WEvent("a", 2, 20))])
        XCTAssertEqual(harness.output, [])
        try harness.processElement(WEvent("a", 4, 10), timestamp: 10)
        XCTAssertEqual(harness.output, [WResult("a", 7, 0, 30)], "1 + 1 merged counts, + 1 for the bridging element")
    }

    func testATriggerThatCannotMergeIsRejectedForSessions() {
        XCTAssertThrowsError(try Harness { input in
            input.keyBy(\.key).window(EventTimeSessionWindows.withGap(.milliseconds(10)))
                .trigger(DeltaTrigger.of(1, { _, _ in 0 })).process(WSumWithWindow())
        }) { error in
            XCTAssertTrue("\(error)".contains("merg"), "\(error)")
        }
    }
}
