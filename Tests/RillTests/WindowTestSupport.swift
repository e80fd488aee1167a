import XCTest
@testable import Rill
import RillTesting

/// An element of the window tests: a key, a value and an event timestamp.
struct WEvent: Sendable, Equatable, CustomStringConvertible {
    let key: String
    let value: Int
    let ts: Int64

    init(_ key: String, _ value: Int, _ ts: Int64) {
        self.key = key
        self.value = value
        self.ts = ts
    }

    var description: String { "\(key):\(value)@\(ts)" }
}

/// What a window emitted: the key, the aggregate, and the window (or the record timestamp).
struct WResult: Sendable, Hashable, Comparable, CustomStringConvertible {
    let key: String
    let value: Int
    let start: Int64
    let end: Int64

    init(_ key: String, _ value: Int, _ start: Int64, _ end: Int64) {
        self.key = key
        self.value = value
        self.start = start
        self.end = end
    }

    static func < (a: WResult, b: WResult) -> Bool {
        (a.end, a.start, a.key, a.value) < (b.end, b.start, b.key, b.value)
    }

    var description: String { "\(key):\(value)[\(start),\(end))" }
}

/// Sums the values of a window (`aggregate`).
struct WSum: AggregateFunction {
    func createAccumulator() -> Int { 0 }
    func add(_ value: WEvent, to accumulator: Int) -> Int { accumulator + value.value }
    func getResult(_ accumulator: Int) -> Int { accumulator }
    func merge(_ a: Int, _ b: Int) -> Int { a + b }
}

/// Emits key, sum and time window of every fired window (`process`).
final class WSumWithWindow: ProcessWindowFunction {
    func process(_ key: String, _ context: ProcessWindowContext<TimeWindow, WResult>, _ elements: WindowElements<WEvent>,
                 _ out: Collector<WResult>) throws {
        try out.collect(WResult(key, elements.reduce(0) { $0 + $1.value }, context.window.start, context.window.end))
    }
}

/// Labels a pre-aggregated sum with its key and window (`reduce(_:process:)`, `aggregate(_:process:)`).
final class WLabelSum: ProcessWindowFunction {
    func process(_ key: String, _ context: ProcessWindowContext<TimeWindow, WResult>, _ elements: WindowElements<Int>,
                 _ out: Collector<WResult>) throws {
        XCTAssertEqual(elements.count, 1, "an incremental function hands over exactly one result")
        try out.collect(WResult(key, elements[0], context.window.start, context.window.end))
    }
}

/// Labels a reduced event with its window.
final class WLabelEvent: ProcessWindowFunction {
    func process(_ key: String, _ context: ProcessWindowContext<TimeWindow, WResult>, _ elements: WindowElements<WEvent>,
                 _ out: Collector<WResult>) throws {
        for element in elements { try out.collect(WResult(key, element.value, context.window.start, context.window.end)) }
    }
}

/// Adds up two events of a key.
@Sendable func wAdd(_ a: WEvent, _ b: WEvent) -> WEvent { WEvent(a.key, a.value + b.value, max(a.ts, b.ts)) }

/// One step of a scripted input: an element, or a watermark.
enum WStep: Sendable {
    case element(WEvent)
    case watermark(Int64)
}

/// Emits the watermarks written into a script from the source, exactly where they are: each
/// event carries the watermark that must precede it (a source emits an event's watermark
/// before the event).
final class ScriptedWatermarks: WatermarkGenerator {
    func onEvent(_ event: WScripted, timestamp: Int64, output: some WatermarkOutput) {
        if let watermark = event.watermarkBefore { output.emitWatermark(watermark) }
    }
    func onPeriodicEmit(output: some WatermarkOutput) {}
}

/// A scripted event; `event` is nil for a trailing watermark-only marker (filtered out).
struct WScripted: Sendable {
    let event: WEvent?
    let watermarkBefore: Int64?
}

enum WindowTestKit {
    /// Feeds a script to a harness, in order.
    static func feed<Out>(_ harness: OperatorTestHarness<WEvent, Out>, _ steps: [WStep]) throws {
        for step in steps {
            switch step {
            case .element(let event): try harness.processElement(event, timestamp: event.ts)
            case .watermark(let watermark): try harness.processWatermark(watermark)
            }
        }
    }

    /// The script as source records: each watermark rides on the next record.
    static func scripted(_ steps: [WStep]) -> [WScripted] {
        var records: [WScripted] = []
        var pending: Int64?
        for step in steps {
            switch step {
            case .element(let event):
                records.append(WScripted(event: event, watermarkBefore: pending))
                pending = nil
            case .watermark(let watermark):
                if let earlier = pending { records.append(WScripted(event: nil, watermarkBefore: earlier)) }
                pending = watermark
            }
        }
        if let pending { records.append(WScripted(event: nil, watermarkBefore: pending)) }
        return records
    }

    /// Runs a whole job over the script (one source subtask, windows at `parallelism`) and
    /// returns what the window function emitted, plus the job result.
    static func runJob<Out: Sendable>(
        parallelism: Int, _ steps: [WStep], clock: ManualClock? = nil,
        file: StaticString = #filePath, line: UInt = #line,
        _ build: (DataStream<WEvent>) -> DataStream<Out>
    ) async throws -> (records: [StreamRecord<Out>], result: JobExecutionResult?) {
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = parallelism
        if let clock { configuration.clock = clock }
        let env = StreamEnvironment(configuration: configuration)
        let strategy = WatermarkStrategy<WScripted>.forGenerator { ScriptedWatermarks() }
            .withTimestampAssigner { record, _ in record.event?.ts ?? Int64.min }
        let events = env.fromCollection(scripted(steps), watermarkStrategy: strategy)
            .flatMap { record in record.event.map { [$0] } ?? [] }
            .setParallelism(1)
        let results = CollectedResults<Out>()
        build(events).collect(into: results)
        let result = try await RuntimeTestKit.executeGuarded(env, file: file, line: line)
        return (results.timestampedValues, result)
    }
}
