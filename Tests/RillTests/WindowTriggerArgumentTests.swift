import XCTest
@testable import Rill
import RillTesting

/// Invalid trigger, evictor and allowed-lateness arguments fail the job when it is built, with a
/// `RillError(.invalidConfiguration)` that says what to change, as invalid assigner arguments do
/// (WindowAssignerArgumentTests); the process never crashes.
final class WindowTriggerArgumentTests: XCTestCase {
    private typealias Tumbling = TumblingEventTimeWindows<WEvent>
    private let oneSecond = Tumbling.of(.seconds(1))
    private let huge = Duration.seconds(Int64.max)

    private static let sum: @Sendable (WEvent, WEvent) -> WEvent = { WEvent($0.key, $0.value + $1.value, $1.ts) }

    /// The build error of tumbling 1 s windows with `trigger`.
    private func buildError<Tr: Trigger>(trigger: Tr, file: StaticString = #filePath, line: UInt = #line) async -> RillError?
    where Tr.Element == WEvent, Tr.W == TimeWindow {
        await windowBuildError(file: file, line: line) { $0.window(oneSecond).trigger(trigger).reduce(Self.sum) }
    }

    // MARK: triggers

    func testCountTriggerNeedsACountOfAtLeastOne() async {
        for count: Int64 in [0, -3] {
            assertMessage(await buildError(trigger: CountTrigger<WEvent, TimeWindow>.of(count)),
                          contains: ["CountTrigger", "count must be at least 1, but it is \(count)", "use a count of 1 or more"])
        }
    }

    func testContinuousEventTimeTriggerNeedsAnIntervalOfAtLeastOneMillisecond() async {
        for interval: Duration in [.zero, .microseconds(500), .seconds(-2)] {
            assertMessage(await buildError(trigger: ContinuousEventTimeTrigger<WEvent, TimeWindow>.of(interval)),
                          contains: ["ContinuousEventTimeTrigger", "interval must be at least 1 ms", "use an interval of 1 ms or more"])
        }
    }

    func testContinuousProcessingTimeTriggerNeedsAnIntervalOfAtLeastOneMillisecond() async {
        for interval: Duration in [.zero, .nanoseconds(1), .milliseconds(-1)] {
            assertMessage(await buildError(trigger: ContinuousProcessingTimeTrigger<WEvent, TimeWindow>.of(interval)),
                          contains: ["ContinuousProcessingTimeTrigger", "interval must be at least 1 ms", "use an interval of 1 ms or more"])
        }
    }

    func testNestedTriggersPassTheirInnerTriggersProblemUp() async {
        let badCount = CountTrigger<WEvent, TimeWindow>.of(0)
        assertMessage(await buildError(trigger: PurgingTrigger.of(badCount)),
                      contains: ["CountTrigger", "count must be at least 1"])
        assertMessage(await buildError(trigger: ProcessingTimeoutTrigger.of(badCount, .seconds(1))),
                      contains: ["CountTrigger", "count must be at least 1"])
        let badInterval = ContinuousEventTimeTrigger<WEvent, TimeWindow>.of(.zero)
        assertMessage(await buildError(trigger: PurgingTrigger.of(ProcessingTimeoutTrigger.of(badInterval, .seconds(1)))),
                      contains: ["ContinuousEventTimeTrigger", "interval must be at least 1 ms"])
    }

    func testProcessingTimeoutTriggerNeedsATimeoutThatFitsInMilliseconds() async {
        assertMessage(await buildError(trigger: ProcessingTimeoutTrigger.of(CountTrigger<WEvent, TimeWindow>.of(2), huge)),
                      contains: ["ProcessingTimeoutTrigger", "timeout", "does not fit in 64-bit milliseconds"])
        assertMessage(await buildError(trigger: ContinuousEventTimeTrigger<WEvent, TimeWindow>.of(huge)),
                      contains: ["ContinuousEventTimeTrigger", "interval", "does not fit in 64-bit milliseconds"])
    }

    /// A custom trigger can wrap a built-in one where job building cannot see it: the built-in
    /// trigger then fails the job when it is first called, instead of firing on every element
    /// (count 0) or dividing by zero (interval 0).
    func testAnInvalidTriggerInsideACustomTriggerFailsTheJobNotTheProcess() async {
        struct Wrapping: Trigger {
            let nested: CountTrigger<WEvent, TimeWindow>
            func onElement(_ element: WEvent, timestamp: Int64, window: TimeWindow, context: TriggerContext<TimeWindow>) throws -> TriggerResult {
                try nested.onElement(element, timestamp: timestamp, window: window, context: context)
            }
            func onEventTime(_ time: Int64, window: TimeWindow, context: TriggerContext<TimeWindow>) throws -> TriggerResult { .continue }
            func onProcessingTime(_ time: Int64, window: TimeWindow, context: TriggerContext<TimeWindow>) throws -> TriggerResult { .continue }
            func clear(window: TimeWindow, context: TriggerContext<TimeWindow>) throws {}
        }
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let results = CollectedResults<WEvent>()
        env.fromCollection([WEvent("a", 1, 0)], watermarkStrategy: .forMonotonousTimestamps().withTimestampAssigner { e, _ in e.ts })
            .keyBy(\.key).window(oneSecond).trigger(Wrapping(nested: .of(0))).reduce(Self.sum).collect(into: results)
        let error = await RuntimeTestKit.expectRillError(code: .invalidConfiguration) { try await env.execute() }
        XCTAssertTrue(error?.message.contains("CountTrigger: the count must be at least 1") ?? false, "\(String(describing: error))")
        XCTAssertEqual(results.count, 0)
    }

    // MARK: evictors

    func testCountEvictorNeedsACountOfZeroOrMore() async {
        let error = await windowBuildError { $0.window(self.oneSecond).evictor(CountEvictor.of(-1)).reduce(Self.sum) }
        assertMessage(error, contains: ["CountEvictor", "count cannot be negative, but it is -1", "use a count of zero or more"])
    }

    func testTimeEvictorNeedsASizeThatFitsInMilliseconds() async {
        let error = await windowBuildError { $0.window(self.oneSecond).evictor(TimeEvictor.of(self.huge)).reduce(Self.sum) }
        assertMessage(error, contains: ["TimeEvictor", "window size", "does not fit in 64-bit milliseconds"])
    }

    // MARK: allowed lateness

    func testAllowedLatenessCannotBeNegative() async {
        for lateness: Duration in [.milliseconds(-1), .seconds(-10)] {
            let error = await windowBuildError { $0.window(self.oneSecond).allowedLateness(lateness).reduce(Self.sum) }
            assertMessage(error, contains: ["allowedLateness", "allowed lateness cannot be negative, but it is \(lateness)",
                                            "use an allowed lateness of zero or more"])
        }
    }

    func testAllowedLatenessThatDoesNotFitInMillisecondsIsRejectedNotOverflowed() async {
        let error = await windowBuildError { $0.window(self.oneSecond).allowedLateness(self.huge).reduce(Self.sum) }
        assertMessage(error, contains: ["allowedLateness", "does not fit in 64-bit milliseconds"])
    }

    // MARK: which problem, and where it surfaces

    func testTheAssignerTriggerEvictorAndLatenessAreReportedInThatOrder() async {
        let all = await windowBuildError {
            $0.window(Tumbling.of(.zero)).allowedLateness(.seconds(-1)).evictor(CountEvictor.of(-1))
                .trigger(CountTrigger.of(0)).reduce(Self.sum)
        }
        assertMessage(all, contains: ["TumblingEventTimeWindows"])
        let noAssigner = await windowBuildError {
            $0.window(self.oneSecond).allowedLateness(.seconds(-1)).evictor(CountEvictor.of(-1))
                .trigger(CountTrigger.of(0)).reduce(Self.sum)
        }
        assertMessage(noAssigner, contains: ["CountTrigger"])
        let evictorAndLateness = await windowBuildError {
            $0.window(self.oneSecond).allowedLateness(.seconds(-1)).evictor(CountEvictor.of(-1)).reduce(Self.sum)
        }
        assertMessage(evictorAndLateness, contains: ["CountEvictor"])
    }

    func testAReplacedInvalidTriggerNoLongerCounts() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let results = CollectedResults<Int>()
        env.fromCollection([1, 2, 3]).windowAll(GlobalWindows.create())
            .trigger(CountTrigger.of(0)).trigger(CountTrigger.of(3)).reduce(+).collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.values, [6])
    }

    func testWindowAllReportsTriggerAndLatenessProblemsToo() async {
        let env = StreamEnvironment()
        env.fromCollection([1, 2, 3]).windowAll(GlobalWindows.create()).trigger(CountTrigger.of(-1)).reduce(+).print()
        let trigger = await RuntimeTestKit.expectRillError(code: .invalidConfiguration) { try await env.execute() }
        XCTAssertEqual(trigger?.operatorName, "AllWindow")
        assertMessage(trigger, contains: ["CountTrigger", "count must be at least 1"])

        let lateEnv = StreamEnvironment()
        lateEnv.fromCollection([1, 2, 3]).windowAll(TumblingProcessingTimeWindows.of(.seconds(1)))
            .allowedLateness(.seconds(-1)).reduce(+).print()
        let lateness = await RuntimeTestKit.expectRillError(code: .invalidConfiguration) { try await lateEnv.execute() }
        assertMessage(lateness, contains: ["allowed lateness cannot be negative"])
    }

    func testAnOperatorTestHarnessReportsATriggerProblem() {
        let error = RuntimeTestKit.expectRillErrorSync(code: .invalidConfiguration) {
            try OperatorTestHarness<WEvent, WResult> { input in
                input.keyBy(\.key).window(TumblingEventTimeWindows.of(.seconds(1)))
                    .trigger(ContinuousProcessingTimeTrigger.of(.zero)).process(WSumWithWindow())
            }
        }
        assertMessage(error, contains: ["ContinuousProcessingTimeTrigger", "interval must be at least 1 ms"])
    }

    // MARK: valid boundaries

    /// A count of 1 fires on every element; an evictor keeping 0 elements after the function
    /// empties the window after each firing; zero lateness is the default.
    func testTheSmallestValidCountsAndLatenessRun() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let running = CollectedResults<Int>()
        let evicted = CollectedResults<Int>()
        let numbers = env.fromCollection([1, 2, 3])
        numbers.windowAll(GlobalWindows.create()).trigger(CountTrigger.of(1)).allowedLateness(.zero)
            .reduce(+).collect(into: running)
        numbers.windowAll(GlobalWindows.create()).trigger(CountTrigger.of(1))
            .evictor(CountEvictor.of(0, doEvictAfter: true)).reduce(+).collect(into: evicted)
        try await env.execute()
        XCTAssertEqual(running.values, [1, 3, 6])
        XCTAssertEqual(evicted.values, [1, 2, 3])
    }
}
