import XCTest
@testable import Rill
import RillTesting

struct TimerCommand: Sendable {
    enum Op: Sendable {
        case event(Int64)
        case deleteEvent(Int64)
        case processing(Int64)
        case deleteProcessing(Int64)
        /// Emits what the context says in `processElement`.
        case probe
    }

    let key: String
    let op: Op

    static func event(_ key: String, _ time: Int64) -> TimerCommand { TimerCommand(key: key, op: .event(time)) }
    static func deleteEvent(_ key: String, _ time: Int64) -> TimerCommand { TimerCommand(key: key, op: .deleteEvent(time)) }
    static func processing(_ key: String, _ time: Int64) -> TimerCommand { TimerCommand(key: key, op: .processing(time)) }
    static func deleteProcessing(_ key: String, _ time: Int64) -> TimerCommand {
        TimerCommand(key: key, op: .deleteProcessing(time))
    }
    static func probe(_ key: String) -> TimerCommand { TimerCommand(key: key, op: .probe) }
}

/// Registers and deletes timers as told; each firing emits `key@time domain`. A timer of key
/// "chain" registers another one a millisecond later, up to time 3.
final class TimerFunction: KeyedProcessFunction {
    func processElement(_ command: TimerCommand, _ context: KeyedProcessContext<String, String>,
                        _ out: Collector<String>) throws {
        switch command.op {
        case .event(let time): context.timerService.registerEventTimeTimer(time)
        case .deleteEvent(let time): context.timerService.deleteEventTimeTimer(time)
        case .processing(let time): context.timerService.registerProcessingTimeTimer(time)
        case .deleteProcessing(let time): context.timerService.deleteProcessingTimeTimer(time)
        case .probe:
            try out.collect("probe \(context.currentKey) domain=\(Self.name(context.timeDomain))")
        }
    }

    func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<String, String>, _ out: Collector<String>) throws {
        try out.collect("\(context.currentKey)@\(timestamp) \(Self.name(context.timeDomain))")
        if context.currentKey == "chain" && timestamp < 3 {
            context.timerService.registerEventTimeTimer(timestamp + 1)
        }
    }

    static func name(_ domain: TimeDomain?) -> String {
        switch domain {
        case .eventTime: "event"
        case .processingTime: "processing"
        case nil: "nil"
        }
    }
}

/// Appends the watermark the operator had when each record arrived.
final class WatermarkTagger: ProcessFunction {
    func processElement(_ value: String, _ context: ProcessContext<String>, _ out: Collector<String>) throws {
        let watermark = context.currentWatermark == Int64.min ? "min" : String(context.currentWatermark)
        try out.collect("\(value) | wm=\(watermark)")
    }
}

final class TimerTests: XCTestCase {
    private func makeHarness(clock: ManualClock = ManualClock()) throws
        -> KeyedOneInputOperatorTestHarness<String, TimerCommand, String> {
        try KeyedOneInputOperatorTestHarness(function: TimerFunction(), key: { $0.key }, clock: clock)
    }

    func testEventTimersFireInTimestampOrderWhenTheWatermarkReachesThem() throws {
        let harness = try makeHarness()
        for command in [TimerCommand.event("a", 30), .event("a", 10), .event("a", 20), .event("b", 20)] {
            try harness.processElement(command)
        }
        XCTAssertEqual(harness.output, [])

        try harness.processWatermark(9)
        XCTAssertEqual(harness.output, [], "a timer at 10 does not fire for watermark 9")
        try harness.processWatermark(10)
        XCTAssertEqual(harness.output, ["a@10 event"], "a timer at t fires for watermark t")
        try harness.processWatermark(29)
        XCTAssertEqual(harness.output, ["a@10 event", "a@20 event", "b@20 event"])
        try harness.processWatermark(1_000)
        XCTAssertEqual(harness.output, ["a@10 event", "a@20 event", "b@20 event", "a@30 event"])
        XCTAssertEqual(harness.outputRecords.map(\.timestamp), [10, 20, 20, 30],
                       "event-time timer output carries the timer's timestamp")
        XCTAssertEqual(harness.outputWatermarks, [9, 10, 29, 1_000])
    }

    func testTimersAreDeduplicatedPerKeyAndTimestamp() throws {
        let harness = try makeHarness()
        for command in [TimerCommand.event("a", 5), .event("a", 5), .event("b", 5), .event("a", 5), .event("a", 6)] {
            try harness.processElement(command)
        }
        try harness.processWatermark(10)
        XCTAssertEqual(harness.output.sorted(), ["a@5 event", "a@6 event", "b@5 event"])
        try harness.processWatermark(20)
        XCTAssertEqual(harness.output.count, 3, "fired timers are gone")
    }

    func testDeletedTimersDoNotFire() throws {
        let harness = try makeHarness()
        try harness.processElement(.event("a", 5))
        try harness.processElement(.event("b", 5))
        try harness.processElement(.event("a", 7))
        try harness.processElement(.deleteEvent("a", 5))
        try harness.processElement(.deleteEvent("c", 5))   // never registered: no effect
        try harness.processElement(.processing("a", 100))
        try harness.processElement(.deleteProcessing("a", 100))
        try harness.processWatermark(10)
        try harness.setProcessingTime(1_000)
        XCTAssertEqual(harness.output, ["b@5 event", "a@7 event"])
        // A deleted timer can be registered again.
        try harness.processElement(.event("a", 5))
        XCTAssertEqual(harness.output, ["b@5 event", "a@7 event"], "registering does not fire")
        try harness.processWatermark(11)
        XCTAssertEqual(harness.output, ["b@5 event", "a@7 event", "a@5 event"],
                       "a timer below the watermark fires at the next watermark")
        try harness.processElement(.event("a", 12))
        try harness.processWatermark(12)
        XCTAssertEqual(harness.output, ["b@5 event", "a@7 event", "a@5 event", "a@12 event"])
    }

    func testTimersRegisteredInOnTimerAtOrBelowTheWatermarkFireInTheSameAdvance() throws {
        let harness = try makeHarness()
        try harness.processElement(.event("chain", 1))
        try harness.processWatermark(10)
        XCTAssertEqual(harness.output, ["chain@1 event", "chain@2 event", "chain@3 event"])
    }

    func testOnTimerOutputPrecedesTheForwardedWatermark() throws {
        let harness = try OperatorTestHarness<TimerCommand, String> { input in
            input.keyBy { $0.key }.process(TimerFunction()).process(WatermarkTagger())
        }
        try harness.processElement(.event("a", 10))
        try harness.processElement(.event("b", 20))
        try harness.processElement(.event("a", 30))
        try harness.processWatermark(15)
        try harness.processWatermark(25)
        try harness.processWatermark(40)
        // The downstream operator sees each timer's output before the watermark that fired it.
        XCTAssertEqual(harness.output, ["a@10 event | wm=min", "b@20 event | wm=15", "a@30 event | wm=25"])
        XCTAssertEqual(harness.outputWatermarks, [15, 25, 40])
    }

    func testProcessingTimeTimersFireWhenTheClockReachesThem() throws {
        let clock = ManualClock(startMillis: 0)
        let harness = try makeHarness(clock: clock)
        try harness.processElement(.processing("a", 100))
        try harness.processElement(.processing("b", 50))
        try harness.processElement(.processing("a", 100))
        try harness.processElement(.processing("a", 70))
        try harness.processElement(.deleteProcessing("a", 70))
        try harness.processElement(.event("a", 60))

        try harness.setProcessingTime(49)
        XCTAssertEqual(harness.output, [])
        try harness.setProcessingTime(50)
        XCTAssertEqual(harness.output, ["b@50 processing"])
        try harness.setProcessingTime(99)
        XCTAssertEqual(harness.output, ["b@50 processing"], "the deleted timer at 70 does not fire")
        try harness.setProcessingTime(500)
        XCTAssertEqual(harness.output, ["b@50 processing", "a@100 processing"], "duplicates fire once")
        XCTAssertEqual(harness.outputRecords.map(\.timestamp), [Int64.min, Int64.min],
                       "processing-time timer output has no timestamp")
        XCTAssertEqual(clock.currentTimeMillis(), 500)

        // Processing time does not fire event-time timers, and vice versa.
        try harness.processWatermark(60)
        XCTAssertEqual(harness.output.last, "a@60 event")
    }

    func testTimeDomainIsNilOutsideOnTimer() throws {
        let harness = try makeHarness()
        try harness.processElement(.probe("a"))
        try harness.processElement(.event("a", 1))
        try harness.processWatermark(1)
        try harness.processElement(.probe("a"))
        try harness.processElement(.processing("a", 5))
        try harness.setProcessingTime(5)
        try harness.processElement(.probe("b"))
        XCTAssertEqual(harness.output, ["probe a domain=nil", "a@1 event", "probe a domain=nil", "a@5 processing",
                                        "probe b domain=nil"])
    }

    func testFinalWatermarkFiresEveryPendingEventTimerInTheHarness() throws {
        let harness = try makeHarness()
        try harness.processElement(.event("a", 1_000_000))
        try harness.processElement(.event("b", Int64.max))
        try harness.processElement(.processing("c", 10))
        try harness.processWatermark(Int64.max)
        try harness.endInput()
        XCTAssertEqual(harness.output, ["a@1000000 event", "b@\(Int64.max) event"])
        try harness.close()
    }

    func testAtTheEndOfABoundedJobEventTimersFireButProcessingTimersDoNot() async throws {
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 2
        configuration.clock = ManualClock(startMillis: 0)
        let env = StreamEnvironment(configuration: configuration)
        let log = SharedLog<SinkEvent<String>>()
        let commands: [TimerCommand] = (0..<50).flatMap { i in
            [TimerCommand.event("k\(i % 10)", Int64(1_000 + i)), .processing("k\(i % 10)", 5_000 + Int64(i))]
        }
        env.fromCollection(commands)
            .keyBy { $0.key }
            .process(TimerFunction())
            .sinkTo(OrderedEventSink(log: log))
            .setParallelism(1)
        try await env.execute()

        let records = log.values.compactMap { event -> String? in
            if case .record(let value, _) = event { return value }
            return nil
        }
        XCTAssertEqual(records.sorted(), (0..<50).map { "k\($0 % 10)@\(1_000 + $0) event" }.sorted())
        XCTAssertFalse(records.contains { $0.contains("processing") })
        guard case .watermark(let last)? = log.values.last else {
            return XCTFail("the sink's last event should be the final watermark: \(log.values.suffix(3))")
        }
        XCTAssertEqual(last, Int64.max)
    }
}

final class TimerSnapshotTests: XCTestCase {
    /// Timers are captured at the barrier and encoded later by the checkpoint writer: what the
    /// task does in between must not reach the checkpoint.
    func testTimersChangedAfterTheBarrierDoNotLeakIntoTheCheckpoint() throws {
        let service = InternalTimerService<Int64, VoidNamespace>(timeService: ProcessingTimeService(clock: ManualClock(startMillis: 0)))
        for key in Int64(0)..<100 {
            service.registerEventTimeTimer(1_000 + key, key: key, namespace: VoidNamespace())
            service.registerProcessingTimeTimer(5_000 + key, key: key, namespace: VoidNamespace())
        }
        let blob = try service.snapshot()
        for key in Int64(0)..<50 { service.deleteEventTimeTimer(1_000 + key, key: key, namespace: VoidNamespace()) }
        for key in Int64(100)..<200 { service.registerEventTimeTimer(1_000 + key, key: key, namespace: VoidNamespace()) }

        let restored = InternalTimerService<Int64, VoidNamespace>(timeService: ProcessingTimeService(clock: ManualClock(startMillis: 0)))
        try restored.restore([try blob.encode()], owns: { _ in true })
        XCTAssertEqual(Set(restored.eventTimers.allTimers.map(\.key)), Set(0..<100))
        XCTAssertEqual(Set(restored.processingTimers.allTimers.map(\.timestamp)), Set((0..<100).map { 5_000 + $0 }))
    }
}
