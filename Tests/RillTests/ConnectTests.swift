import Synchronization
import XCTest
@testable import Rill
import RillTesting

/// Labels the records of two inputs of different types.
final class LabelBoth: CoProcessFunction {
    func processElement1(_ value: Int, _ context: ProcessContext<String>, _ out: Collector<String>) throws {
        try out.collect("int \(value)")
    }
    func processElement2(_ value: String, _ context: ProcessContext<String>, _ out: Collector<String>) throws {
        try out.collect("text \(value)")
    }
}

/// Input 1 registers timers (TimerCommand); input 2 reports what the context says of a key.
/// Each timer firing emits `key@time domain`.
final class CoTimerProbe: KeyedCoProcessFunction {
    func processElement1(_ command: TimerCommand, _ context: KeyedProcessContext<String, String>, _ out: Collector<String>) throws {
        switch command.op {
        case .event(let time): context.timerService.registerEventTimeTimer(time)
        case .processing(let time): context.timerService.registerProcessingTimeTimer(time)
        default: XCTFail("unused command \(command.op)")
        }
    }

    func processElement2(_ key: String, _ context: KeyedProcessContext<String, String>, _ out: Collector<String>) throws {
        let watermark = context.currentWatermark == Int64.min ? "min" : String(context.currentWatermark)
        try out.collect("\(context.currentKey) ts=\(context.timestamp.map(String.init) ?? "nil") wm=\(watermark) "
                        + "domain=\(TimerFunction.name(context.timeDomain))")
    }

    func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<String, String>, _ out: Collector<String>) throws {
        try out.collect("\(context.currentKey)@\(timestamp) \(TimerFunction.name(context.timeDomain))")
    }
}

struct Order: Sendable {
    let id: Int
    let item: String
}

struct Payment: Sendable {
    let orderId: Int
    let amount: Int
}

struct PaidOrder: Sendable, Hashable {
    let id: Int
    let item: String
    let amount: Int
}

/// Joins orders with payments by order id, whichever arrives first, in shared keyed state;
/// an order still unpaid when the final watermark arrives is reported from a timer.
final class OrderPaymentJoin: KeyedCoProcessFunction {
    var order: ValueState<String>!
    var payment: ValueState<Int>!

    func open(_ context: RuntimeContext) throws {
        order = try context.getState(ValueStateDescriptor<String>(name: "order"))
        payment = try context.getState(ValueStateDescriptor<Int>(name: "payment"))
    }

    func processElement1(_ value: Order, _ context: KeyedProcessContext<Int, PaidOrder>, _ out: Collector<PaidOrder>) throws {
        if let amount = payment.value() {
            payment.clear()
            try out.collect(PaidOrder(id: value.id, item: value.item, amount: amount))
        } else {
            order.update(value.item)
            context.timerService.registerEventTimeTimer(Int64.max)
        }
    }

    func processElement2(_ value: Payment, _ context: KeyedProcessContext<Int, PaidOrder>, _ out: Collector<PaidOrder>) throws {
        if let item = order.value() {
            order.clear()
            try out.collect(PaidOrder(id: value.orderId, item: item, amount: value.amount))
        } else {
            payment.update(value.amount)
        }
    }

    func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<Int, PaidOrder>, _ out: Collector<PaidOrder>) throws {
        if let item = order.value() {
            try out.collect(PaidOrder(id: context.currentKey, item: item, amount: -1))
        }
    }
}

/// Counts what each subtask applied, for a two-phase broadcast test.
final class AtomicCounter: Sendable {
    private let value = Atomic<Int>(0)
    init() {}
    func increment() { value.add(1, ordering: .relaxed) }
    var current: Int { value.load(ordering: .relaxed) }
}

struct Rule: Sendable {
    let word: String
    let multiplier: Int
}

/// Multiplies each word's length by the multiplier its rule says (0 when no rule).
final class ApplyRules: BroadcastProcessFunction {
    static let rules = BroadcastStateDescriptor<String, Int>(name: "rules")
    let applied: AtomicCounter?
    var subtask = -1

    init(applied: AtomicCounter? = nil) { self.applied = applied }

    func open(_ context: RuntimeContext) throws { subtask = context.subtaskIndex }

    func processElement(_ value: String, _ context: BroadcastReadOnlyContext<String>, _ out: Collector<String>) throws {
        let multiplier = try context.getBroadcastState(Self.rules).get(value) ?? 0
        try out.collect("\(value)=\(value.count * multiplier)")
    }

    func processBroadcastElement(_ value: Rule, _ context: BroadcastContext<String>, _ out: Collector<String>) throws {
        try context.getBroadcastState(Self.rules).put(value.word, value.multiplier)
        applied?.increment()
    }
}

final class ConnectTests: XCTestCase {
    func testCoProcessFunctionSeesBothInputs() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let results = CollectedResults<String>()
        let numbers = env.fromCollection(Array(1...100))
        let words = env.fromCollection((1...50).map { "w\($0)" })
        numbers.connect(words).process(LabelBoth()).collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.values.sorted(), ((1...100).map { "int \($0)" } + (1...50).map { "text w\($0)" }).sorted())
    }

    func testCoProcessHarnessKeepsArrivalOrder() throws {
        let harness = try TwoInputOperatorTestHarness<Int, String, String> { a, b in a.connect(b).process(LabelBoth()) }
        try harness.processElement2("x")
        try harness.processElement1(1)
        try harness.processElement2("y")
        XCTAssertEqual(harness.output, ["text x", "int 1", "text y"])
        try harness.processWatermark1(10)
        XCTAssertEqual(harness.outputWatermarks, [], "a two-input operator waits for both inputs' watermarks")
        try harness.processWatermark2(5)
        XCTAssertEqual(harness.outputWatermarks, [5])
        try harness.processWatermark2(20)
        XCTAssertEqual(harness.outputWatermarks, [5, 10])
    }

    func testKeyedCoProcessJoinsTwoKeyedStreamsWithSharedState() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let results = CollectedResults<PaidOrder>()
        let orders = env.fromCollection((0..<300).map { Order(id: $0, item: "item-\($0)") })
        // Every order but the multiples of 10 gets paid; payments come in another order.
        let payments = env.fromCollection((0..<300).reversed().filter { $0 % 10 != 0 }.map { Payment(orderId: $0, amount: $0 * 3) })
        orders.keyBy { $0.id }
            .connect(payments.keyBy { $0.orderId })
            .process(OrderPaymentJoin())
            .collect(into: results)
        try await env.execute()

        let expected = (0..<300).map { id in PaidOrder(id: id, item: "item-\(id)", amount: id % 10 == 0 ? -1 : id * 3) }
        XCTAssertEqual(results.count, 300)
        XCTAssertEqual(Set(results.values), Set(expected))
    }

    func testKeyedCoProcessHarnessSharesStateAcrossInputs() throws {
        let harness = try TwoInputOperatorTestHarness<Order, Payment, PaidOrder> { orders, payments in
            orders.keyBy { $0.id }.connect(payments.keyBy { $0.orderId }).process(OrderPaymentJoin())
        }
        try harness.processElement2(Payment(orderId: 1, amount: 10))
        try harness.processElement1(Order(id: 2, item: "b"))
        XCTAssertEqual(harness.output, [])
        try harness.processElement1(Order(id: 1, item: "a"))
        XCTAssertEqual(harness.output, [PaidOrder(id: 1, item: "a", amount: 10)])
        try harness.processElement2(Payment(orderId: 3, amount: 30))
        try harness.processWatermark1(Int64.max)
        try harness.processWatermark2(Int64.max)
        XCTAssertEqual(harness.output, [PaidOrder(id: 1, item: "a", amount: 10), PaidOrder(id: 2, item: "b", amount: -1)])
    }

    /// Both inputs share the key's timers: each firing sees its key and time domain, event-time
    /// output carries the timer's time and processing-time output none, and records afterwards
    /// see their own timestamp, the watermark and no time domain.
    func testKeyedCoProcessTimersFireWithTheirKeyDomainAndTimestamp() throws {
        let harness = try TwoInputOperatorTestHarness<TimerCommand, String, String> { commands, probes in
            commands.keyBy(\.key).connect(probes.keyBy { $0 }).process(CoTimerProbe())
        }
        try harness.processElement1(.event("a", 10))
        try harness.processElement1(.processing("b", 5))
        try harness.processElement2("b", timestamp: 7)
        try harness.setProcessingTime(5)
        try harness.processWatermark1(20)
        try harness.processWatermark2(20)
        try harness.processElement2("a", timestamp: 30)
        XCTAssertEqual(harness.output, ["b ts=7 wm=min domain=nil", "b@5 processing", "a@10 event",
                                        "a ts=30 wm=20 domain=nil"])
        XCTAssertEqual(harness.outputRecords.map(\.timestamp), [7, Int64.min, 10, 30])
        XCTAssertEqual(harness.outputWatermarks, [20])
    }

    func testBroadcastStateInTheHarness() throws {
        let harness = try TwoInputOperatorTestHarness<String, Rule, String> { words, rules in
            words.connect(rules.broadcast(ApplyRules.rules)).process(ApplyRules())
        }
        try harness.processElement1("hello")
        try harness.processElement2(Rule(word: "hello", multiplier: 2))
        try harness.processElement1("hello")
        try harness.processElement1("hi")
        try harness.processElement2(Rule(word: "hello", multiplier: 10))
        try harness.processElement2(Rule(word: "hi", multiplier: 1))
        try harness.processElement1("hello")
        try harness.processElement1("hi")
        XCTAssertEqual(harness.output, ["hello=0", "hello=10", "hi=0", "hello=50", "hi=2"])
    }

    /// The rules arrive first on every subtask: the main stream is an async sequence the test
    /// feeds only after every subtask has applied every rule.
    func testBroadcastRulesReachEverySubtaskBeforeTheMainStream() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 3
        let applied = AtomicCounter()
        let (words, continuation) = AsyncStream.makeStream(of: String.self)
        let rules = [Rule(word: "a", multiplier: 1), Rule(word: "bb", multiplier: 2), Rule(word: "ccc", multiplier: 3)]
        let results = CollectedResults<Tagged<String>>()
        env.fromAsyncSequence(words)
            .rebalance()
            .connect(env.fromCollection(rules).broadcast(ApplyRules.rules))
            .process(ApplyRules(applied: applied))
            .process(TagWithSubtask<String>())
            .collect(into: results)
        let client = try env.executeAsync()

        try await RuntimeTestKit.waitUntil("every subtask applied every rule") {
            applied.current == rules.count * 3 || client.status.isTerminal
        }
        XCTAssertEqual(applied.current, 9, "each of the 3 subtasks applies each of the 3 rules")
        let input = (0..<90).map { ["a", "bb", "ccc", "dddd"][$0 % 4] }
        for word in input { continuation.yield(word) }
        continuation.finish()
        try await client.result()

        let expected = input.map { word in "\(word)=\(word.count * (rules.first { $0.word == word }?.multiplier ?? 0))" }
        XCTAssertEqual(results.values.map(\.value).sorted(), expected.sorted())
        XCTAssertEqual(Set(results.values.map(\.subtask)), [0, 1, 2], "rebalance used every subtask")
    }

    func testBroadcastElementsReachEverySubtaskRegardlessOfInterleaving() async throws {
        // Independent of interleaving: every subtask applies every rule exactly once.
        let env = StreamEnvironment()
        env.configuration.parallelism = 4
        let applied = AtomicCounter()
        let results = CollectedResults<String>()
        env.fromSequence(1...200).setParallelism(1).map { "w\($0 % 5)" }
            .connect(env.fromCollection((0..<5).map { Rule(word: "w\($0)", multiplier: $0) }).broadcast(ApplyRules.rules))
            .process(ApplyRules(applied: applied))
            .collect(into: results)
        try await env.execute()
        XCTAssertEqual(applied.current, 20)
        XCTAssertEqual(results.count, 200)
        for value in results.values {
            // Before its rule arrives a word maps to 0, after it to 2 * multiplier.
            let word = String(value.prefix { $0 != "=" })
            let multiplier = Int(word.dropFirst())!
            XCTAssertTrue(value == "\(word)=0" || value == "\(word)=\(2 * multiplier)", value)
        }
    }
}
