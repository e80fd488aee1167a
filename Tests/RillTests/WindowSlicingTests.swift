import XCTest
@testable import Rill
import RillTesting

/// The slicing operator (tumbling and sliding event-time windows with reduce/aggregate) must
/// give exactly what the general window operator gives.
final class WindowSlicingTests: XCTestCase {
    struct Geometry {
        let size: Int64
        let slide: Int64
        let offset: Int64
    }

    /// Elements around a rising event time, out of order by up to `disorder`, some far behind
    /// the watermark (late), with watermarks in between.
    static func randomScript(seed: UInt64, count: Int, disorder: Int64) -> [WStep] {
        var random = SeededGenerator(seed: seed)
        var steps: [WStep] = []
        var time: Int64 = random.next(-200...0)
        var watermark = Int64.min
        for index in 0..<count {
            time += random.next(0...3)
            let timestamp: Int64
            switch random.next(0...19) {
            case 0: timestamp = time - random.next(disorder...(4 * disorder))   // probably late
            default: timestamp = time - random.next(0...disorder)
            }
            let key = ["a", "b", "c", "d", "e", "f", "g"][Int(random.next(0...6))]
            steps.append(.element(WEvent(key, Int(random.next(-50...100)), timestamp)))
            if random.next(0...9) == 0 || index % 97 == 96 {
                let candidate = time - disorder
                if candidate > watermark {
                    watermark = candidate
                    steps.append(.watermark(watermark))
                }
            }
            if random.next(0...199) == 0 { time += random.next(50...400) }   // a gap in event time
        }
        steps.append(.watermark(Int64.max))
        return steps
    }

    private func run<Out>(_ steps: [WStep], _ build: (DataStream<WEvent>) -> DataStream<Out>, late: OutputTag<WEvent>)
        throws -> (output: [StreamRecord<Out>], late: [WEvent]) {
        let harness = try OperatorTestHarness<WEvent, Out>(build)
        try WindowTestKit.feed(harness, steps)
        try harness.endInput()
        return (harness.outputRecords, harness.sideOutput(late).map(\.value))
    }

    private static func describe(_ records: [StreamRecord<WEvent>]) -> [String] {
        records.map { "\($0.timestamp) \($0.value.key) \($0.value.value)" }.sorted()
    }

    private static let geometries = [
        Geometry(size: 10, slide: 10, offset: 0), Geometry(size: 10, slide: 5, offset: 0), Geometry(size: 10, slide: 3, offset: 1),
        Geometry(size: 7, slide: 7, offset: 3), Geometry(size: 100, slide: 10, offset: -5), Geometry(size: 30, slide: 20, offset: 0),
        Geometry(size: 1, slide: 1, offset: 0), Geometry(size: 50, slide: 1, offset: 0),
    ]

    func testSlicedReduceEqualsPerWindowReduceOnRandomInput() throws {
        for (index, geometry) in Self.geometries.enumerated() {
            let steps = Self.randomScript(seed: 42 &+ UInt64(index), count: 3_000, disorder: 2 * geometry.size)
            let late = OutputTag<WEvent>("late")
            let assigner = SlidingEventTimeWindows<WEvent>.of(.milliseconds(geometry.size), .milliseconds(geometry.slide),
                                                              offset: .milliseconds(geometry.offset))
            let sliced = try run(steps, { $0.keyBy(\.key).window(assigner).sideOutputLateData(late).reduce(wAdd) }, late: late)
            let general = try run(steps, {
                $0.keyBy(\.key).window(assigner).trigger(EventTimeTrigger()).sideOutputLateData(late).reduce(wAdd)
            }, late: late)
            XCTAssertGreaterThan(general.output.count, 100, "\(geometry)")
            XCTAssertGreaterThan(general.late.count, 10, "the script has late elements (\(geometry))")
            XCTAssertEqual(Self.describe(sliced.output), Self.describe(general.output), "\(geometry)")
            XCTAssertEqual(sliced.late, general.late, "\(geometry)")
        }
    }

    func testSlicedAggregateEqualsPerWindowAggregateOnRandomInput() throws {
        for (index, geometry) in Self.geometries.enumerated() {
            let steps = Self.randomScript(seed: 7_000 &+ UInt64(index), count: 2_000, disorder: geometry.size)
            let late = OutputTag<WEvent>("late")
            let assigner = SlidingEventTimeWindows<WEvent>.of(.milliseconds(geometry.size), .milliseconds(geometry.slide),
                                                              offset: .milliseconds(geometry.offset))
            let sliced = try run(steps, { $0.keyBy(\.key).window(assigner).sideOutputLateData(late).aggregate(WAverage()) }, late: late)
            let general = try run(steps, {
                $0.keyBy(\.key).window(assigner).trigger(EventTimeTrigger()).sideOutputLateData(late).aggregate(WAverage())
            }, late: late)
            XCTAssertEqual(sliced.output.map { "\($0.timestamp) \($0.value)" }.sorted(),
                           general.output.map { "\($0.timestamp) \($0.value)" }.sorted(), "\(geometry)")
            XCTAssertEqual(sliced.late, general.late, "\(geometry)")
        }
    }

    func testSlicedTumblingEqualsPerWindowTumbling() throws {
        let steps = Self.randomScript(seed: 99, count: 3_000, disorder: 25)
        let late = OutputTag<WEvent>("late")
        let assigner = TumblingEventTimeWindows<WEvent>.of(.milliseconds(20), offset: .milliseconds(-7))
        let sliced = try run(steps, { $0.keyBy(\.key).window(assigner).sideOutputLateData(late).reduce(wAdd) }, late: late)
        let general = try run(steps, {
            $0.keyBy(\.key).window(assigner).trigger(EventTimeTrigger()).sideOutputLateData(late).reduce(wAdd)
        }, late: late)
        XCTAssertEqual(Self.describe(sliced.output), Self.describe(general.output))
        XCTAssertEqual(sliced.late, general.late)
    }

    func testSlicingAppliesOnlyWithTheDefaultTriggerNoEvictorAndNoLateness() {
        let keyed = StreamEnvironment().fromCollection([WEvent]()).keyBy(\.key)
        let sliding = keyed.window(SlidingEventTimeWindows.of(.milliseconds(10), .milliseconds(5)))
        XCTAssertNotNil(sliding.slicedWindows)
        XCTAssertNil(sliding.trigger(EventTimeTrigger()).slicedWindows, "a custom trigger, even the same one")
        XCTAssertNil(sliding.evictor(CountEvictor.of(1)).slicedWindows)
        XCTAssertNil(sliding.allowedLateness(.milliseconds(1)).slicedWindows)
        XCTAssertNotNil(sliding.allowedLateness(.zero).slicedWindows)
        XCTAssertNil(keyed.window(SlidingEventTimeWindows.of(.milliseconds(10), .milliseconds(20))).slicedWindows,
                     "slide > size leaves gaps between windows")
        XCTAssertNil(keyed.window(SlidingProcessingTimeWindows.of(.milliseconds(10), .milliseconds(5))).slicedWindows)
        XCTAssertEqual(keyed.window(TumblingEventTimeWindows.of(.milliseconds(10), offset: .milliseconds(3))).slicedWindows?.slide, 10)
    }

    func testTheSlicingOperatorReleasesKeysWhoseWindowsAllFired() throws {
        let harness = try OperatorTestHarness<WEvent, WEvent> { input in
            input.keyBy(\.key).window(SlidingEventTimeWindows.of(.milliseconds(10), .milliseconds(5))).reduce(wAdd)
        }
        try WindowTestKit.feed(harness, [.element(WEvent("a", 1, 1)), .element(WEvent("b", 2, 12)), .watermark(9)])
        XCTAssertEqual(harness.output.map(\.value), [1, 1], "[-5,5) and [0,10)")
        try harness.processWatermark(Int64.max)
        XCTAssertEqual(harness.output.map(\.value), [1, 1, 2, 2])
        try harness.processElement(WEvent("a", 4, 100), timestamp: 100)
        XCTAssertEqual(harness.output.count, 4, "after the final watermark everything is late")
    }
}

extension SeededGenerator {
    /// A value in `range` by modulo (the slicing tests' inputs were generated this way).
    mutating func next(_ range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound + Int64(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
}
