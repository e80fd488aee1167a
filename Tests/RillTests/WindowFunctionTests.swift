import XCTest
@testable import Rill
import RillTesting

/// Reports what a window function call sees of its context.
final class ContextProbe: ProcessWindowFunction {
    static let sideTag = OutputTag<String>("probe-side")
    let perWindow = ValueStateDescriptor<Int>(name: "per-window firings")
    let perKey = ValueStateDescriptor<Int>(name: "per-key firings")
    var opened = false
    var subtask = -1

    func open(_ context: RuntimeContext) throws {
        opened = true
        subtask = context.subtaskIndex
    }

    func process(_ key: String, _ context: ProcessWindowContext<TimeWindow, String>, _ elements: WindowElements<WEvent>,
                 _ out: Collector<String>) throws {
        XCTAssertTrue(opened, "open runs before the first window")
        let windowFirings = try context.windowState.getState(perWindow)
        windowFirings.update((windowFirings.value() ?? 0) + 1)
        let keyFirings = try context.globalState.getState(perKey)
        keyFirings.update((keyFirings.value() ?? 0) + 1)
        try context.output(Self.sideTag, "side \(key) \(context.window.start)")
        try out.collect("\(key) [\(context.window.start),\(context.window.end)) values=\(elements.map(\.value)) "
            + "wm=\(context.currentWatermark) pt=\(context.currentProcessingTime) "
            + "windowFirings=\(windowFirings.value()!) keyFirings=\(keyFirings.value()!) subtask=\(subtask)")
    }
}

/// Averages a window (`aggregate` with an accumulator that is not the result type).
struct WAverage: AggregateFunction {
    func createAccumulator() -> (sum: Int, count: Int) { (0, 0) }
    func add(_ value: WEvent, to accumulator: (sum: Int, count: Int)) -> (sum: Int, count: Int) {
        (accumulator.sum + value.value, accumulator.count + 1)
    }
    func getResult(_ accumulator: (sum: Int, count: Int)) -> Double { Double(accumulator.sum) / Double(accumulator.count) }
    func merge(_ a: (sum: Int, count: Int), _ b: (sum: Int, count: Int)) -> (sum: Int, count: Int) {
        (a.sum + b.sum, a.count + b.count)
    }
}

/// Sums a window without a key (`windowAll`).
final class AllSum: ProcessAllWindowFunction {
    func process(_ context: ProcessWindowContext<TimeWindow, WResult>, _ elements: WindowElements<WEvent>,
                 _ out: Collector<WResult>) throws {
        try out.collect(WResult("*", elements.reduce(0) { $0 + $1.value }, context.window.start, context.window.end))
    }
}

/// Labels an incremental result of all keys with its window.
final class AllLabel: ProcessAllWindowFunction {
    func process(_ context: ProcessWindowContext<TimeWindow, WResult>, _ elements: WindowElements<Int>,
                 _ out: Collector<WResult>) throws {
        try out.collect(WResult("*", elements[0], context.window.start, context.window.end))
    }
}

final class WindowFunctionTests: XCTestCase {
    private let script: [WStep] = [.element(WEvent("a", 1, 1)), .element(WEvent("b", 2, 2)), .element(WEvent("a", 4, 3)),
                                   .element(WEvent("a", 8, 12)), .watermark(Int64.max)]

    func testReduceEmitsTheReducedValueAtTheWindowsMaxTimestamp() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent> { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).trigger(EventTimeTrigger()).reduce(wAdd)
        }
        try WindowTestKit.feed(harness, script)
        XCTAssertEqual(harness.outputRecords.map { "\($0.value.key):\($0.value.value)@\($0.timestamp)" }, ["a:5@9", "b:2@9", "a:8@19"])
    }

    func testAggregateEmitsTheAccumulatorsResult() throws {
        for sliced in [false, true] {
            let harness = try OperatorTestHarness<WEvent, Double> { input in
                let windowed = input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10)))
                return sliced ? windowed.aggregate(WAverage()) : windowed.trigger(EventTimeTrigger()).aggregate(WAverage())
            }
            try WindowTestKit.feed(harness, script)
            XCTAssertEqual(harness.output.sorted(), [2, 2.5, 8], "sliced: \(sliced)")
        }
    }

    func testProcessSeesTheKeyTheWindowAndEveryElementInOrder() throws {
        let harness = try OperatorTestHarness<WEvent, [Int]> { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).process(CollectTimeValues())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 3, 1)), .element(WEvent("a", 1, 2)), .element(WEvent("a", 2, 0)),
                                         .watermark(Int64.max)])
        XCTAssertEqual(harness.output, [[3, 1, 2]])
    }

    func testIncrementalFunctionsHandTheirResultToAProcessFunction() throws {
        let reduced = try OperatorTestHarness<WEvent, WResult> { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).reduce(wAdd, process: WLabelEvent())
        }
        let aggregated = try OperatorTestHarness<WEvent, WResult> { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).aggregate(WSum(), process: WLabelSum())
        }
        for harness in [reduced, aggregated] {
            try WindowTestKit.feed(harness, script)
            XCTAssertEqual(harness.output, [WResult("a", 5, 0, 10), WResult("b", 2, 0, 10), WResult("a", 8, 10, 20)])
        }
    }

    func testProcessContextGivesTimeStateAndSideOutputs() throws {
        let clock = ManualClock(startMillis: 500)
        let harness = try OperatorTestHarness<WEvent, String>(clock: clock) { input in
            input.keyBy(\.key).window(TumblingEventTimeWindows.of(.milliseconds(10))).allowedLateness(.milliseconds(100))
                .process(ContextProbe())
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 1)), .element(WEvent("a", 2, 11)), .watermark(50)])
        try harness.processElement(WEvent("a", 4, 2), timestamp: 2)
        XCTAssertEqual(harness.output, [
            "a [0,10) values=[1] wm=50 pt=500 windowFirings=1 keyFirings=1 subtask=0",
            "a [10,20) values=[2] wm=50 pt=500 windowFirings=1 keyFirings=2 subtask=0",
            "a [0,10) values=[1, 4] wm=50 pt=500 windowFirings=2 keyFirings=3 subtask=0",
        ], "per-window state is per window; global state is per key")
        XCTAssertEqual(harness.sideOutput(ContextProbe.sideTag).map(\.value), ["side a 0", "side a 10", "side a 0"])
        XCTAssertEqual(harness.sideOutput(ContextProbe.sideTag).map(\.timestamp), [9, 19, 9])
    }

    func testWindowAllRunsAProcessAllWindowFunctionOverEveryKey() throws {
        let harness = try OperatorTestHarness<WEvent, WResult> { input in
            input.windowAll(TumblingEventTimeWindows.of(.milliseconds(10))).process(AllSum())
        }
        try WindowTestKit.feed(harness, script)
        XCTAssertEqual(harness.output, [WResult("*", 7, 0, 10), WResult("*", 8, 10, 20)])
        let incremental = try OperatorTestHarness<WEvent, WResult> { input in
            input.windowAll(TumblingEventTimeWindows.of(.milliseconds(10))).aggregate(WSum(), process: AllLabel())
        }
        try WindowTestKit.feed(incremental, script)
        XCTAssertEqual(incremental.output, [WResult("*", 7, 0, 10), WResult("*", 8, 10, 20)])
    }

    func testAUserFunctionErrorFailsWithTheOperatorsName() async throws {
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 1
        let env = StreamEnvironment(configuration: configuration)
        env.fromCollection([1, 2, 3], watermarkStrategy: WatermarkStrategy<Int>.forMonotonousTimestamps().withTimestampAssigner { v, _ in Int64(v) })
            .keyBy { $0 % 2 }
            .window(TumblingEventTimeWindows.of(.milliseconds(10)))
            .reduce { _, _ in throw InjectedFailure(detail: "reduce") }
            .collect(into: CollectedResults<Int>())
        let error = await RuntimeTestKit.expectRillError(code: .userFunctionFailed) { try await env.execute() }
        XCTAssertEqual(error?.operatorName, "Window")
    }
}
