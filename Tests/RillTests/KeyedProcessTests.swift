import XCTest
@testable import Rill
import RillTesting

struct Reading: Sendable, Equatable {
    let key: String
    /// A negative value clears all of the key's state.
    let value: Int
}

struct StateSummary: Sendable, Equatable {
    let key: String
    let count: Int
    let values: [Int]
    /// value % 3 -> how many values had that remainder.
    let remainders: [Int: Int]
    let sum: Int?
    let average: Double?
    var subtask = -1

    static func == (a: StateSummary, b: StateSummary) -> Bool {
        a.key == b.key && a.count == b.count && a.values == b.values && a.remainders == b.remainders
            && a.sum == b.sum && a.average == b.average
    }
}

struct AverageAggregate: AggregateFunction {
    func createAccumulator() -> (sum: Int, count: Int) { (0, 0) }
    func add(_ value: Int, to accumulator: (sum: Int, count: Int)) -> (sum: Int, count: Int) {
        (accumulator.sum + value, accumulator.count + 1)
    }
    func getResult(_ accumulator: (sum: Int, count: Int)) -> Double {
        accumulator.count == 0 ? 0 : Double(accumulator.sum) / Double(accumulator.count)
    }
    func merge(_ a: (sum: Int, count: Int), _ b: (sum: Int, count: Int)) -> (sum: Int, count: Int) {
        (a.sum + b.sum, a.count + b.count)
    }
}

/// Uses every kind of keyed state and emits what they hold after each record.
final class AllStatesFunction: KeyedProcessFunction {
    var count: ValueState<Int>!
    var list: ListState<Int>!
    var remainders: MapState<Int, Int>!
    var sum: ReducingState<Int>!
    var average: AggregatingState<AverageAggregate>!
    var subtask = -1

    func open(_ context: RuntimeContext) throws {
        subtask = context.subtaskIndex
        count = try context.getState(ValueStateDescriptor<Int>(name: "count"))
        list = try context.getListState(ListStateDescriptor<Int>(name: "values"))
        remainders = try context.getMapState(MapStateDescriptor<Int, Int>(name: "remainders"))
        sum = try context.getReducingState(ReducingStateDescriptor<Int>(name: "sum", reduceFunction: { $0 + $1 }))
        average = try context.getAggregatingState(AggregatingStateDescriptor(name: "average",
                                                                             aggregateFunction: AverageAggregate()))
    }

    func processElement(_ value: Reading, _ context: KeyedProcessContext<String, StateSummary>,
                        _ out: Collector<StateSummary>) throws {
        if value.value < 0 {
            count.clear()
            list.clear()
            remainders.clear()
            sum.clear()
            average.clear()
        } else {
            count.update((count.value() ?? 0) + 1)
            list.add(value.value)
            remainders.put(value.value % 3, (remainders.get(value.value % 3) ?? 0) + 1)
            try sum.add(value.value)
            average.add(value.value)
        }
        try out.collect(StateSummary(key: context.currentKey, count: count.value() ?? 0, values: list.get(),
                                     remainders: remainders.entries(), sum: sum.get(), average: average.get(),
                                     subtask: subtask))
    }
}

/// The same bookkeeping in plain Swift.
struct StateModel {
    var count = 0
    var values: [Int] = []
    var remainders: [Int: Int] = [:]

    mutating func apply(_ reading: Reading) -> StateSummary {
        if reading.value < 0 {
            self = StateModel()
        } else {
            count += 1
            values.append(reading.value)
            remainders[reading.value % 3, default: 0] += 1
        }
        let sum = values.isEmpty ? nil : values.reduce(0, +)
        return StateSummary(key: reading.key, count: count, values: values, remainders: remainders, sum: sum,
                            average: sum.map { Double($0) / Double(values.count) })
    }
}

final class KeyedProcessTests: XCTestCase {
    static let readings: [Reading] = (0..<2_000).map { i in
        // Every 97th reading of a key resets it.
        Reading(key: "key-\(i % 23)", value: i % 97 == 50 ? -1 : (i * 7) % 101)
    }

    func testEveryStateKindThroughAJobAtParallelism2() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let results = CollectedResults<StateSummary>()
        env.fromCollection(Self.readings)
            .keyBy { $0.key }
            .process(AllStatesFunction())
            .collect(into: results)
        try await env.execute("all states")

        var models: [String: StateModel] = [:]
        var expectedLast: [String: StateSummary] = [:]
        for reading in Self.readings { expectedLast[reading.key] = models[reading.key, default: StateModel()].apply(reading) }

        var actualLast: [String: StateSummary] = [:]
        for summary in results.values { actualLast[summary.key] = summary }
        XCTAssertEqual(results.count, Self.readings.count)
        XCTAssertEqual(actualLast.count, 23)
        for (key, expected) in expectedLast {
            XCTAssertEqual(actualLast[key], expected, "key \(key)")
        }

        // Every intermediate result matches too, key by key, in order.
        var replay: [String: StateModel] = [:]
        var perKey: [String: [StateSummary]] = [:]
        for summary in results.values { perKey[summary.key, default: []].append(summary) }
        for reading in Self.readings {
            let expected = replay[reading.key, default: StateModel()].apply(reading)
            XCTAssertEqual(perKey[reading.key]?.first, expected)
            perKey[reading.key]?.removeFirst()
        }

        // Both subtasks worked, and each key stayed on the subtask that owns its key group.
        let subtasks = Set(results.values.map(\.subtask))
        XCTAssertEqual(subtasks, [0, 1])
        for summary in results.values {
            XCTAssertEqual(summary.subtask, KeyGroupRangeAssignment.assignKeyToParallelOperator(
                summary.key, maxParallelism: 128, parallelism: 2), "key \(summary.key)")
        }
    }

    func testHarnessKeepsStatePerKey() throws {
        let harness = try KeyedOneInputOperatorTestHarness(function: AllStatesFunction(), key: { (r: Reading) in r.key })
        try harness.processElement(Reading(key: "a", value: 1))
        try harness.processElement(Reading(key: "b", value: 10))
        try harness.processElement(Reading(key: "a", value: 2))
        try harness.processElement(Reading(key: "b", value: 20))
        try harness.processElement(Reading(key: "a", value: -1))
        try harness.processElement(Reading(key: "b", value: 30))
        try harness.processElement(Reading(key: "a", value: 5))

        XCTAssertEqual(harness.output, [
            StateSummary(key: "a", count: 1, values: [1], remainders: [1: 1], sum: 1, average: 1),
            StateSummary(key: "b", count: 1, values: [10], remainders: [1: 1], sum: 10, average: 10),
            StateSummary(key: "a", count: 2, values: [1, 2], remainders: [1: 1, 2: 1], sum: 3, average: 1.5),
            StateSummary(key: "b", count: 2, values: [10, 20], remainders: [1: 1, 2: 1], sum: 30, average: 15),
            StateSummary(key: "a", count: 0, values: [], remainders: [:], sum: nil, average: nil),
            StateSummary(key: "b", count: 3, values: [10, 20, 30], remainders: [0: 1, 1: 1, 2: 1], sum: 60, average: 20),
            StateSummary(key: "a", count: 1, values: [5], remainders: [2: 1], sum: 5, average: 5),
        ])
        try harness.endInput()
        try harness.close()
    }

    func testKeyedStateOutsideAKeyedStreamIsAStateError() async throws {
        final class Misplaced: ProcessFunction {
            func open(_ context: RuntimeContext) throws {
                _ = try context.getState(ValueStateDescriptor<Int>(name: "nope"))
            }
            func processElement(_ value: Int, _ context: ProcessContext<Int>, _ out: Collector<Int>) throws {}
        }
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        env.fromCollection([1, 2, 3]).process(Misplaced()).name("Misplaced").collect(into: CollectedResults<Int>())
        let error = await RuntimeTestKit.expectRillError(code: .stateError) { try await env.execute() }
        XCTAssertEqual(error?.operatorName, "Misplaced")
        XCTAssertTrue(error?.description.contains("keyBy") ?? false, "\(String(describing: error))")
    }
}

// MARK: - TTL

/// Emits `key=value` after each command; `set` writes 1 more than the current value.
final class TTLFunction: KeyedProcessFunction {
    let config: StateTTLConfig
    var value: ValueState<Int>!
    var list: ListState<Int>!

    init(config: StateTTLConfig) { self.config = config }

    func open(_ context: RuntimeContext) throws {
        value = try context.getState(ValueStateDescriptor<Int>(name: "value", ttl: config))
        list = try context.getListState(ListStateDescriptor<Int>(name: "list", ttl: config))
    }

    func processElement(_ command: (key: String, op: String), _ context: KeyedProcessContext<String, String>,
                        _ out: Collector<String>) throws {
        switch command.op {
        case "set":
            value.update((value.value() ?? 0) + 1)
            list.add(Int(context.currentProcessingTime))
            try out.collect("\(command.key)=\(value.value().map(String.init) ?? "nil")")
        case "list":
            try out.collect("\(command.key) list=\(list.get())")
        default:
            try out.collect("\(command.key)=\(value.value().map(String.init) ?? "nil")")
        }
    }
}

final class StateTTLTests: XCTestCase {
    func testValueExpiresTTLAfterLastWriteOnTheHarnessClock() throws {
        let clock = ManualClock(startMillis: 1_000)
        let harness = try KeyedOneInputOperatorTestHarness(
            function: TTLFunction(config: StateTTLConfig(ttl: .milliseconds(100))),
            key: { (c: (key: String, op: String)) in c.key }, clock: clock)

        try harness.processElement((key: "a", op: "set"))        // a written at 1000
        try harness.setProcessingTime(1_050)
        try harness.processElement((key: "b", op: "set"))        // b written at 1050
        try harness.setProcessingTime(1_099)
        try harness.processElement((key: "a", op: "get"))        // 1099 < 1100: alive
        try harness.setProcessingTime(1_100)
        try harness.processElement((key: "a", op: "get"))        // 1000 + 100 <= 1100: expired
        try harness.processElement((key: "b", op: "get"))        // b lives until 1150
        try harness.setProcessingTime(1_149)
        try harness.processElement((key: "b", op: "set"))        // a write refreshes: b lives until 1249
        try harness.setProcessingTime(1_200)
        try harness.processElement((key: "b", op: "get"))
        try harness.setProcessingTime(1_249)
        try harness.processElement((key: "b", op: "get"))
        try harness.processElement((key: "a", op: "set"))        // a starts over from nothing

        XCTAssertEqual(harness.output, ["a=1", "b=1", "a=1", "a=nil", "b=1", "b=2", "b=2", "b=nil", "a=1"])
    }

    func testReadsRefreshTheTTLWithOnReadAndWrite() throws {
        let clock = ManualClock()
        let harness = try KeyedOneInputOperatorTestHarness(
            function: TTLFunction(config: StateTTLConfig(ttl: .milliseconds(100), updateType: .onReadAndWrite)),
            key: { (c: (key: String, op: String)) in c.key }, clock: clock)
        try harness.processElement((key: "a", op: "set"))        // t=0
        try harness.setProcessingTime(90)
        try harness.processElement((key: "a", op: "get"))        // read at 90 refreshes to 190
        try harness.setProcessingTime(180)
        try harness.processElement((key: "a", op: "get"))        // refreshes to 280
        try harness.setProcessingTime(280)
        try harness.processElement((key: "a", op: "get"))        // expired
        XCTAssertEqual(harness.output, ["a=1", "a=1", "a=1", "a=nil"])
    }

    func testListElementsExpireOneByOne() throws {
        let clock = ManualClock(startMillis: 10)
        let harness = try KeyedOneInputOperatorTestHarness(
            function: TTLFunction(config: StateTTLConfig(ttl: .milliseconds(100))),
            key: { (c: (key: String, op: String)) in c.key }, clock: clock)
        try harness.processElement((key: "a", op: "set"))        // element 10 at t=10
        try harness.setProcessingTime(60)
        try harness.processElement((key: "a", op: "set"))        // element 60 at t=60
        try harness.setProcessingTime(109)
        try harness.processElement((key: "a", op: "list"))
        try harness.setProcessingTime(110)
        try harness.processElement((key: "a", op: "list"))
        try harness.setProcessingTime(160)
        try harness.processElement((key: "a", op: "list"))
        XCTAssertEqual(Array(harness.output.suffix(3)), ["a list=[10, 60]", "a list=[60]", "a list=[]"])
    }
}
