import XCTest
@testable import Rill
import RillTesting

final class WindowEvictorTests: XCTestCase {
    /// Global windows firing every 3 elements, showing the values each firing sees.
    private func everyThree<E: Evictor>(_ evictor: E) throws -> OperatorTestHarness<WEvent, [Int]>
    where E.Element == WEvent, E.W == GlobalWindow {
        try OperatorTestHarness { input in
            input.keyBy(\.key).window(GlobalWindows.create()).trigger(CountTrigger.of(3)).evictor(evictor)
                .process(CollectGlobalValues())
        }
    }

    func testCountEvictorBeforeKeepsTheLastElements() throws {
        let harness = try everyThree(CountEvictor.of(2))
        for value in 1...6 { try harness.processElement(WEvent("a", value, 0), timestamp: 0) }
        XCTAssertEqual(harness.output, [[2, 3], [5, 6]], "[2,3] stayed and [2,3,4,5,6] was cut to the last two")
    }

    func testCountEvictorAfterEvictsOnceTheFunctionRan() throws {
        let harness = try everyThree(CountEvictor.of(2, doEvictAfter: true))
        for value in 1...6 { try harness.processElement(WEvent("a", value, 0), timestamp: 0) }
        XCTAssertEqual(harness.output, [[1, 2, 3], [2, 3, 4, 5, 6]])
    }

    func testTimeEvictorKeepsTheLastStretchOfEventTime() throws {
        let harness = try OperatorTestHarness<WEvent, [Int]> { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).evictor(TimeEvictor.of(.milliseconds(5)))
                .process(CollectTimeValues())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 1)), .element(WEvent("a", 9, 9)), .element(WEvent("a", 4, 4)),
                                         .element(WEvent("a", 5, 5)), .watermark(9)])
        XCTAssertEqual(harness.output, [[9, 5]], "newest 9, cutoff 4: timestamps <= 4 go")
    }

    func testTimeEvictorDoesNothingWithoutTimestamps() throws {
        let harness = try OperatorTestHarness<WEvent, [Int]>(clock: ManualClock(startMillis: 0)) { input in
            input.keyBy(\.key).window(TumblingProcessingTimeWindows.of(.milliseconds(10)))
                .evictor(TimeEvictor.of(.milliseconds(0))).process(CollectTimeValues())
        }
        for value in 1...3 { try harness.processElement(WEvent("a", value, 0)) }
        try harness.setProcessingTime(9)
        XCTAssertEqual(harness.output, [[1, 2, 3]])
    }

    func testDeltaEvictorEvictsWhatIsTooFarFromTheNewestElement() throws {
        let harness = try everyThree(DeltaEvictor.of(3, { a, b in Double(abs(a.value - b.value)) }))
        for value in [1, 8, 10] { try harness.processElement(WEvent("a", value, 0), timestamp: 0) }
        XCTAssertEqual(harness.output, [[8, 10]], "|1 - 10| = 9 >= 3 goes; |8 - 10| = 2 stays")
        for value in [7, 11, 13] { try harness.processElement(WEvent("a", value, 0), timestamp: 0) }
        XCTAssertEqual(harness.output, [[8, 10], [11, 13]], "a distance equal to the threshold is evicted too (|10 - 13| = 3)")
    }

    func testEvictorsWithIncrementalFunctionsFoldWhatIsLeft() throws {
        let reduced = try OperatorTestHarness<WEvent, WEvent> { input in
            input.keyBy(\.key).window(GlobalWindows.create()).trigger(CountTrigger.of(3)).evictor(CountEvictor.of(2)).reduce(wAdd)
        }
        let aggregated = try OperatorTestHarness<WEvent, Int> { input in
            input.keyBy(\.key).window(GlobalWindows.create()).trigger(CountTrigger.of(3)).evictor(CountEvictor.of(2))
                .aggregate(WSum())
        }
        let reducedThenLabelled = try OperatorTestHarness<WEvent, WResult> { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).evictor(CountEvictor.of(1))
                .reduce(wAdd, process: WLabelEvent())
        }
        let aggregatedThenLabelled = try OperatorTestHarness<WEvent, WResult> { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).evictor(CountEvictor.of(1))
                .aggregate(WSum(), process: WLabelSum())
        }
        for value in 1...6 {
            try reduced.processElement(WEvent("a", value, 0), timestamp: 0)
            try aggregated.processElement(WEvent("a", value, 0), timestamp: 0)
        }
        XCTAssertEqual(reduced.output.map(\.value), [5, 11])
        XCTAssertEqual(aggregated.output, [5, 11])
        for harness in [reducedThenLabelled, aggregatedThenLabelled] {
            try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 1)), .element(WEvent("a", 2, 2)), .watermark(9)])
            XCTAssertEqual(harness.output, [WResult("a", 2, 0, 10)])
        }
    }

    func testEvictorsWithSessionWindows() throws {
        let harness = try OperatorTestHarness<WEvent, [Int]> { input in
            input.keyBy(\.key).window(EventTimeSessionWindows.withGap(.milliseconds(10))).evictor(CountEvictor.of(2))
                .process(CollectValues())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 0)), .element(WEvent("a", 2, 30)), .element(WEvent("a", 4, 20)),
                                         .element(WEvent("a", 8, 10)), .watermark(Int64.max)])
        XCTAssertEqual(harness.output.count, 1)
        XCTAssertEqual(harness.output.first?.count, 2, "one merged session, evicted down to two elements")
    }
}

/// Emits the values of each global window.
final class CollectGlobalValues: ProcessWindowFunction {
    func process(_ key: String, _ context: ProcessWindowContext<GlobalWindow, [Int]>, _ elements: WindowElements<WEvent>,
                 _ out: Collector<[Int]>) throws {
        try out.collect(elements.map(\.value))
    }
}

/// Emits the values of each time window.
final class CollectTimeValues: ProcessWindowFunction {
    func process(_ key: String, _ context: ProcessWindowContext<TimeWindow, [Int]>, _ elements: WindowElements<WEvent>,
                 _ out: Collector<[Int]>) throws {
        try out.collect(elements.map(\.value))
    }
}
