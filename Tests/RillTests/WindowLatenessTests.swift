import XCTest
@testable import Rill
import RillTesting

/// The corner cases of event time, lateness and cleanup (Flink's `WindowOperator` semantics).
final class WindowLatenessTests: XCTestCase {
    typealias Harness = OperatorTestHarness<WEvent, WResult>
    let late = OutputTag<WEvent>("late")

    /// Tumbling windows of 10 ms summed by a process function (the general operator).
    private func tumbling(lateness: Int64 = 0, slide: Int64? = nil) throws -> Harness {
        let late = self.late
        return try Harness { input in
            let keyed = input.keyBy(\.key)
            if let slide {
                return keyed.window(SlidingEventTimeWindows.of(.milliseconds(10), .milliseconds(slide)))
                    .allowedLateness(.milliseconds(lateness)).sideOutputLateData(late).process(WSumWithWindow())
            }
            return keyed.window(TumblingEventTimeWindows.of(.milliseconds(10)))
                .allowedLateness(.milliseconds(lateness)).sideOutputLateData(late).process(WSumWithWindow())
        }
    }

    /// The same with `reduce` alone, which the slicing operator computes; each result is
    /// labelled with the window its timestamp (`end - 1`) names.
    private func slicedSum(slide: Int64 = 10) throws -> Harness {
        let late = self.late
        return try Harness { input in
            input.keyBy(\.key).window(SlidingEventTimeWindows.of(.milliseconds(10), .milliseconds(slide)))
                .sideOutputLateData(late).reduce(wAdd)
                .process(LabelWithWindow(size: 10))
        }
    }

    private func sliced(slide: Int64 = 10) throws -> OperatorTestHarness<WEvent, WEvent> {
        let late = self.late
        return try OperatorTestHarness { input in
            input.keyBy(\.key).window(SlidingEventTimeWindows.of(.milliseconds(10), .milliseconds(slide)))
                .sideOutputLateData(late).reduce(wAdd)
        }
    }

    func testAWindowFiresWhenTheWatermarkReachesEndMinusOne() throws {
        for harness in [try tumbling(), try slicedSum()] {
            try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 0)), .element(WEvent("a", 2, 9)), .element(WEvent("a", 4, 10)),
                                             .watermark(8)])
            XCTAssertEqual(harness.output, [])
            try harness.processWatermark(9)
            XCTAssertEqual(harness.output, [WResult("a", 3, 0, 10)])
            try harness.processWatermark(19)
            XCTAssertEqual(harness.output, [WResult("a", 3, 0, 10), WResult("a", 4, 10, 20)])
        }
        let reduced = try sliced()
        try WindowTestKit.feed(reduced, [.element(WEvent("a", 1, 0)), .element(WEvent("a", 2, 9)), .watermark(8)])
        XCTAssertEqual(reduced.output, [])
        try reduced.processWatermark(9)
        XCTAssertEqual(reduced.output.map(\.value), [3], "the slicing operator fires at end - 1 too")
        XCTAssertEqual(reduced.outputRecords.map(\.timestamp), [9])
    }

    func testAnElementIsLateWhenItsWindowsMaxTimestampIsAtOrBeforeTheWatermark() throws {
        let general = try tumbling()
        try WindowTestKit.feed(general, [.watermark(8), .element(WEvent("a", 1, 9))])
        XCTAssertEqual(general.sideOutput(late).map(\.value), [], "maxTimestamp 9 > watermark 8: on time")
        try WindowTestKit.feed(general, [.watermark(9), .element(WEvent("a", 2, 5))])
        XCTAssertEqual(general.sideOutput(late).map(\.value), [WEvent("a", 2, 5)], "maxTimestamp 9 <= watermark 9: late")
        XCTAssertEqual(general.sideOutput(late).map(\.timestamp), [5], "late elements keep their timestamp")
        XCTAssertEqual(general.output, [WResult("a", 1, 0, 10)], "the late element changed no result")

        let reduced = try sliced()
        try WindowTestKit.feed(reduced, [.watermark(8), .element(WEvent("a", 1, 9))])
        XCTAssertEqual(reduced.sideOutput(late).map(\.value), [])
        try WindowTestKit.feed(reduced, [.watermark(9), .element(WEvent("a", 2, 5))])
        XCTAssertEqual(reduced.sideOutput(late).map(\.value), [WEvent("a", 2, 5)], "the slicing operator agrees")
        XCTAssertEqual(reduced.sideOutput(late).map(\.timestamp), [5])
        XCTAssertEqual(reduced.output.map(\.value), [1])
    }

    func testALateButAllowedElementFiresTheWindowAgainAtOnce() throws {
        let harness = try tumbling(lateness: 5)
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 3)), .watermark(9)])
        XCTAssertEqual(harness.output, [WResult("a", 1, 0, 10)])
        try harness.processWatermark(12)
        try harness.processElement(WEvent("a", 2, 4), timestamp: 4)
        XCTAssertEqual(harness.output, [WResult("a", 1, 0, 10), WResult("a", 3, 0, 10)],
                       "fires again at once, with the updated result")
        try harness.processElement(WEvent("a", 4, 9), timestamp: 9)
        XCTAssertEqual(harness.output.map(\.value), [1, 3, 7])
        XCTAssertEqual(harness.sideOutput(late), [])
    }

    func testTheLateSideOutputTakesOnlyElementsWhoseTimestampPlusLatenessIsAtOrBeforeTheWatermark() throws {
        let harness = try tumbling(lateness: 5)
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 3)), .watermark(13), .element(WEvent("a", 2, 8))])
        XCTAssertEqual(harness.sideOutput(late), [], "8 + 5 > 13 (and the window is kept until 9 + 5)")
        XCTAssertEqual(harness.output.map(\.value), [1, 3])
        try WindowTestKit.feed(harness, [.watermark(14), .element(WEvent("a", 4, 9))])
        XCTAssertEqual(harness.sideOutput(late).map(\.value), [WEvent("a", 4, 9)], "9 + 5 <= 14")
        XCTAssertEqual(harness.output.map(\.value), [1, 3])
    }

    func testStateIsCleanedAtEndMinusOnePlusAllowedLateness() throws {
        let harness = try tumbling(lateness: 5)
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 3)), .watermark(13), .element(WEvent("a", 2, 3))])
        XCTAssertEqual(harness.output.map(\.value), [1, 3], "at 13 the window still holds its contents")
        try WindowTestKit.feed(harness, [.watermark(14), .element(WEvent("a", 4, 3))])
        XCTAssertEqual(harness.output.map(\.value), [1, 3], "cleaned at 9 + 5: the element is late")
        XCTAssertEqual(harness.sideOutput(late).map(\.value.value), [4])
    }

    func testCleanupClearsTriggerStateAndFunctionState() throws {
        let harness = try OperatorTestHarness<WEvent, String> { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).allowedLateness(.milliseconds(5))
                .process(CountingFirings())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 3)), .watermark(9), .element(WEvent("a", 2, 3)), .watermark(14)])
        XCTAssertEqual(harness.output, ["[0,10) firing 1 of 1 elements", "[0,10) firing 2 of 2 elements"])
        XCTAssertEqual(harness.sideOutput(CountingFirings.cleared).map(\.value), ["cleared [0,10) after 2 firings"])
        XCTAssertEqual(harness.sideOutput(CountingFirings.cleared).map(\.timestamp), [9], "side outputs carry maxTimestamp")
    }

    func testSlidingWindowsTakeALateElementIntoTheirWindowsThatAreNotLate() throws {
        for harness in [try tumbling(slide: 5), try slicedSum(slide: 5)] {
            try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 6)), .watermark(9)])
            XCTAssertEqual(harness.output, [WResult("a", 1, 0, 10)])
            try harness.processElement(WEvent("a", 2, 7), timestamp: 7)
            XCTAssertEqual(harness.sideOutput(late), [], "[5, 15) is not late, so the element is not late")
            try harness.processWatermark(Int64.max)
            XCTAssertEqual(harness.output, [WResult("a", 1, 0, 10), WResult("a", 3, 5, 15)],
                           "[0, 10) is not fired again; [5, 15) includes the element")
        }
    }

    func testAnElementBetweenSlidingWindowsIsIgnoredUnlessItsTimestampIsLate() throws {
        let late = self.late
        let harness = try Harness { input in
            input.keyBy(\.key).window(SlidingEventTimeWindows.of(.milliseconds(5), .milliseconds(10)))
                .sideOutputLateData(late).process(WSumWithWindow())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 7)), .element(WEvent("a", 2, 3)), .watermark(20),
                                         .element(WEvent("a", 4, 8)), .element(WEvent("a", 8, 30))])
        XCTAssertEqual(harness.sideOutput(late).map(\.value), [WEvent("a", 4, 8)],
                       "7 and 8 fall between [0,5) and [10,15); only 8, whose timestamp is behind the watermark, is late")
        try harness.processWatermark(Int64.max)
        XCTAssertEqual(harness.output, [WResult("a", 2, 0, 5), WResult("a", 8, 30, 35)])
    }

    func testTheFinalWatermarkFiresAllEventTimeWindows() throws {
        let steps: [WStep] = [.element(WEvent("a", 1, 1)), .element(WEvent("b", 2, 1_000_000)), .element(WEvent("c", 4, -50))]
        let general = try tumbling()
        try WindowTestKit.feed(general, steps + [.watermark(Int64.max)])
        try general.endInput()
        XCTAssertEqual(general.output.sorted(), [WResult("c", 4, -50, -40), WResult("a", 1, 0, 10),
                                                 WResult("b", 2, 1_000_000, 1_000_010)])
        let sliced = try slicedSum(slide: 5)
        try WindowTestKit.feed(sliced, steps + [.watermark(Int64.max)])
        try sliced.endInput()
        XCTAssertEqual(sliced.output.sorted(), [WResult("c", 4, -55, -45), WResult("c", 4, -50, -40), WResult("a", 1, -5, 5),
                                                WResult("a", 1, 0, 10), WResult("b", 2, 999_995, 1_000_005),
                                                WResult("b", 2, 1_000_000, 1_000_010)])
    }

    func testProcessingTimeWindowsDoNotFireAtTheEndOfInput() throws {
        let harness = try Harness(clock: ManualClock(startMillis: 0)) { input in
            input.keyBy(\.key).window(TumblingProcessingTimeWindows.of(.milliseconds(10))).process(WSumWithWindow())
        }
        try harness.processElement(WEvent("a", 1, 1))
        try harness.processWatermark(Int64.max)
        try harness.endInput()
        XCTAssertEqual(harness.output, [], "processing-time timers do not fire at the end of input")
    }

    func testLateElementsWithoutASideOutputAreDroppedAndCounted() async throws {
        for parallelism in [1, 2] {
            let (records, result) = try await WindowTestKit.runJob(parallelism: parallelism, [
                .element(WEvent("a", 1, 1)), .element(WEvent("b", 2, 2)), .watermark(20),
                .element(WEvent("a", 4, 3)), .element(WEvent("b", 8, 15)), .element(WEvent("b", 16, 35)),
            ]) { events in
                events.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).process(WSumWithWindow())
            }
            XCTAssertEqual(records.map(\.value).sorted(), [WResult("a", 1, 0, 10), WResult("b", 2, 0, 10), WResult("b", 16, 30, 40)])
            XCTAssertEqual(result?.counts("Window")?.numLateRecordsDropped, 2, "parallelism \(parallelism)")
        }
    }

    func testLateElementsGoToTheSideOutputInAJob() async throws {
        let late = self.late
        for parallelism in [1, 2] {
            var lateRecords = CollectedResults<WEvent>()
            let (records, result) = try await WindowTestKit.runJob(parallelism: parallelism, [
                .element(WEvent("a", 1, 1)), .watermark(20), .element(WEvent("a", 4, 3)), .element(WEvent("a", 8, 25)),
            ]) { events in
                let windowed = events.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10)))
                    .sideOutputLateData(late).reduce(wAdd)
                lateRecords = CollectedResults<WEvent>()
                windowed.sideOutput(late).collect(into: lateRecords)
                return windowed
            }
            XCTAssertEqual(records.map(\.value.value).sorted(), [1, 8])
            XCTAssertEqual(lateRecords.values, [WEvent("a", 4, 3)])
            XCTAssertEqual(result?.counts("Window")?.numLateRecordsDropped, 0)
        }
    }
}

/// Labels a reduced event with the window of size `size` that its timestamp (`maxTimestamp`) names.
final class LabelWithWindow: ProcessFunction {
    let size: Int64
    init(size: Int64) { self.size = size }
    func processElement(_ value: WEvent, _ context: ProcessContext<WResult>, _ out: Collector<WResult>) throws {
        let end = context.timestamp! + 1
        try out.collect(WResult(value.key, value.value, end - size, end))
    }
}

/// Emits a line per firing and per cleanup, with per-window state counting the firings.
final class CountingFirings: ProcessWindowFunction {
    static let cleared = OutputTag<String>("cleared")
    let firings = ValueStateDescriptor<Int>(name: "firings")

    func process(_ key: String, _ context: ProcessWindowContext<TimeWindow, String>, _ elements: WindowElements<WEvent>,
                 _ out: Collector<String>) throws {
        let state = try context.windowState.getState(firings)
        let count = (state.value() ?? 0) + 1
        state.update(count)
        try out.collect("[\(context.window.start),\(context.window.end)) firing \(count) of \(elements.count) elements")
    }

    func clear(_ context: ProcessWindowContext<TimeWindow, String>) throws {
        let state = try context.windowState.getState(firings)
        try context.output(Self.cleared, "cleared [\(context.window.start),\(context.window.end)) after \(state.value() ?? 0) firings")
        state.clear()
    }
}
