import XCTest
@testable import Rill
import RillTesting

/// Invalid window-assigner arguments fail the job when it is built, with a
/// `RillError(.invalidConfiguration)` that says what to change (Flink throws
/// `IllegalArgumentException` from the constructor); the process never crashes.
final class WindowAssignerArgumentTests: XCTestCase {
    private func buildError<A: WindowAssigner>(_ assigner: A, file: StaticString = #filePath, line: UInt = #line) async -> RillError?
    where A.Element == WEvent {
        await windowBuildError(file: file, line: line) { $0.window(assigner).reduce { WEvent($0.key, $0.value + $1.value, $1.ts) } }
    }

    // MARK: tumbling

    func testTumblingWindowsNeedASizeOfAtLeastOneMillisecond() async {
        for size: Duration in [.zero, .microseconds(999), .seconds(-1)] {
            assertMessage(await buildError(TumblingEventTimeWindows<WEvent>.of(size)),
                          contains: ["TumblingEventTimeWindows", "window size must be at least 1 ms", "use a window size of 1 ms or more"])
            assertMessage(await buildError(TumblingProcessingTimeWindows<WEvent>.of(size)),
                          contains: ["TumblingProcessingTimeWindows", "window size must be at least 1 ms"])
        }
    }

    func testTumblingWindowsNeedAnOffsetShorterThanTheSize() async {
        for offset: Duration in [.seconds(1), .seconds(-1), .seconds(5)] {
            let error = await buildError(TumblingEventTimeWindows<WEvent>.of(.seconds(1), offset: offset))
            assertMessage(error, contains: ["TumblingEventTimeWindows", "must be shorter than the size (1000 ms)",
                                            "abs(offset) < size", "use an offset between -999 and 999 ms"])
            assertMessage(await buildError(TumblingProcessingTimeWindows<WEvent>.of(.seconds(1), offset: offset)),
                          contains: ["TumblingProcessingTimeWindows", "abs(offset) < size"])
        }
    }

    // MARK: sliding

    func testSlidingWindowsNeedASizeAndASlideOfAtLeastOneMillisecond() async {
        assertMessage(await buildError(SlidingEventTimeWindows<WEvent>.of(.zero, .seconds(1))),
                      contains: ["SlidingEventTimeWindows", "window size must be at least 1 ms"])
        assertMessage(await buildError(SlidingEventTimeWindows<WEvent>.of(.seconds(10), .zero)),
                      contains: ["SlidingEventTimeWindows", "slide must be at least 1 ms", "use a slide of 1 ms or more"])
        assertMessage(await buildError(SlidingEventTimeWindows<WEvent>.of(.seconds(10), .milliseconds(-5))),
                      contains: ["slide must be at least 1 ms"])
        assertMessage(await buildError(SlidingProcessingTimeWindows<WEvent>.of(.seconds(-10), .seconds(1))),
                      contains: ["SlidingProcessingTimeWindows", "window size must be at least 1 ms"])
        assertMessage(await buildError(SlidingProcessingTimeWindows<WEvent>.of(.seconds(10), .nanoseconds(1))),
                      contains: ["SlidingProcessingTimeWindows", "slide must be at least 1 ms"])
    }

    func testSlidingWindowsNeedAnOffsetShorterThanTheSlide() async {
        for offset: Duration in [.seconds(1), .milliseconds(-1_000), .seconds(3)] {
            assertMessage(await buildError(SlidingEventTimeWindows<WEvent>.of(.seconds(10), .seconds(1), offset: offset)),
                          contains: ["SlidingEventTimeWindows", "must be shorter than the slide (1000 ms)",
                                     "abs(offset) < slide", "use an offset between -999 and 999 ms"])
            assertMessage(await buildError(SlidingProcessingTimeWindows<WEvent>.of(.seconds(10), .seconds(1), offset: offset)),
                          contains: ["SlidingProcessingTimeWindows", "abs(offset) < slide"])
        }
    }

    func testTheFirstInvalidArgumentIsReported() async {
        let error = await buildError(SlidingEventTimeWindows<WEvent>.of(.zero, .zero, offset: .seconds(7)))
        assertMessage(error, contains: ["window size must be at least 1 ms"])
        XCTAssertFalse(error?.message.contains("offset") ?? true, "an offset cannot be judged against an invalid slide")
    }

    // MARK: sessions

    func testSessionWindowsNeedAGapOfAtLeastOneMillisecond() async {
        for gap: Duration in [.zero, .microseconds(10), .seconds(-3)] {
            assertMessage(await buildError(EventTimeSessionWindows<WEvent>.withGap(gap)),
                          contains: ["EventTimeSessionWindows", "session gap must be at least 1 ms", "use a session gap of 1 ms or more"])
            assertMessage(await buildError(ProcessingTimeSessionWindows<WEvent>.withGap(gap)),
                          contains: ["ProcessingTimeSessionWindows", "session gap must be at least 1 ms"])
        }
    }

    // MARK: durations beyond 64-bit milliseconds

    func testDurationsTooLargeForMillisecondsAreRejectedNotOverflowed() async {
        let huge = Duration.seconds(Int64.max)
        assertMessage(await buildError(TumblingEventTimeWindows<WEvent>.of(huge)),
                      contains: ["window size", "does not fit in 64-bit milliseconds"])
        assertMessage(await buildError(TumblingEventTimeWindows<WEvent>.of(.seconds(1), offset: huge)),
                      contains: ["offset", "does not fit in 64-bit milliseconds"])
        assertMessage(await buildError(SlidingEventTimeWindows<WEvent>.of(.seconds(1), huge)),
                      contains: ["slide", "does not fit in 64-bit milliseconds"])
        assertMessage(await buildError(EventTimeSessionWindows<WEvent>.withGap(huge)),
                      contains: ["session gap", "does not fit in 64-bit milliseconds"])
    }

    func testADynamicGapTooLargeForMillisecondsFailsTheJobNotTheProcess() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        env.fromCollection([WEvent("a", 1, 0)], watermarkStrategy: .forMonotonousTimestamps().withTimestampAssigner { e, _ in e.ts })
            .keyBy(\.key)
            .window(EventTimeSessionWindows.withDynamicGap { _ in .seconds(Int64.max) })
            .reduce { $1 }
            .collect(into: CollectedResults<WEvent>())
        let error = await RuntimeTestKit.expectRillError(code: .userFunctionFailed) { try await env.execute() }
        XCTAssertTrue("\(error.map { String(describing: $0) } ?? "")".contains("session gap must be at least 1 ms and fit in 64-bit milliseconds"))
    }

    // MARK: where the error surfaces

    func testWindowAllReportsTheArgumentErrorToo() async {
        let env = StreamEnvironment()
        env.fromCollection([1, 2, 3]).windowAll(TumblingProcessingTimeWindows.of(.zero)).reduce(+).print()
        let error = await RuntimeTestKit.expectRillError(code: .invalidConfiguration) { try await env.execute() }
        XCTAssertEqual(error?.operatorName, "AllWindow")
        assertMessage(error, contains: ["window size must be at least 1 ms"])
    }

    func testAnOperatorTestHarnessReportsTheArgumentError() {
        let error = RuntimeTestKit.expectRillErrorSync(code: .invalidConfiguration) {
            try OperatorTestHarness<WEvent, WResult> { input in
                input.keyBy(\.key).window(TumblingEventTimeWindows.of(.seconds(1), offset: .seconds(2))).process(WSumWithWindow())
            }
        }
        assertMessage(error, contains: ["abs(offset) < size"])
    }

    func testAnInvalidAssignerUsedDirectlyThrowsInsteadOfDividingByZero() {
        let context = WindowAssignerContext(timeService: ProcessingTimeService(clock: ManualClock(startMillis: 0)))
        let tumbling = TumblingEventTimeWindows<Int>.of(.zero)
        XCTAssertThrowsError(try tumbling.assignWindows(1, timestamp: 5, context: context)) { error in
            XCTAssertEqual((error as? RillError)?.code, .invalidConfiguration)
        }
        let sliding = SlidingProcessingTimeWindows<Int>.of(.seconds(1), .zero)
        XCTAssertThrowsError(try sliding.assignWindows(1, timestamp: 5, context: context))
        let session = ProcessingTimeSessionWindows<Int>.withGap(.zero)
        XCTAssertThrowsError(try session.assignWindows(1, timestamp: 5, context: context))
    }

    // MARK: valid boundaries

    func testTheLargestValidOffsetsAndTheSmallestValidSizesRun() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let tumbling = CollectedResults<Int>()
        let sliding = CollectedResults<Int>()
        let events = env.fromCollection([0, 1, 2, 3], watermarkStrategy: .forMonotonousTimestamps().withTimestampAssigner { v, _ in Int64(v) })
        events.keyBy { _ in 0 }.window(TumblingEventTimeWindows.of(.milliseconds(2), offset: .milliseconds(-1)))
            .reduce(+).collect(into: tumbling)
        events.keyBy { _ in 0 }.window(SlidingEventTimeWindows.of(.milliseconds(1), .milliseconds(1), offset: .microseconds(999)))
            .reduce(+).collect(into: sliding)
        try await env.execute()
        XCTAssertEqual(tumbling.values, [0, 1 + 2, 3], "windows [-1, 1), [1, 3), [3, 5)")
        XCTAssertEqual(sliding.values, [0, 1, 2, 3], "a 999 µs offset truncates to 0 ms")
    }
}

extension XCTestCase {
    /// Builds `events → keyBy → windowing → sink`, naming the window operator "Sums", and returns
    /// the error that `execute()` fails with, checking that `explain()` and `executeAsync()` fail
    /// the same way, that the error names the window operator and that nothing ran.
    func windowBuildError(file: StaticString = #filePath, line: UInt = #line,
                          _ windowing: (KeyedStream<WEvent, String>) -> DataStream<WEvent>) async -> RillError? {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let results = CollectedResults<WEvent>()
        windowing(env.fromCollection([WEvent("a", 1, 0)], watermarkStrategy: .forMonotonousTimestamps().withTimestampAssigner { e, _ in e.ts })
            .keyBy(\.key))
            .name("Sums")
            .collect(into: results)
        let explainError = RuntimeTestKit.expectRillErrorSync(code: .invalidConfiguration, file: file, line: line) { try env.explain() }
        let asyncError = RuntimeTestKit.expectRillErrorSync(code: .invalidConfiguration, file: file, line: line) { try env.executeAsync() }
        let error = await RuntimeTestKit.expectRillError(code: .invalidConfiguration, file: file, line: line) { try await env.execute() }
        XCTAssertEqual(explainError?.message, error?.message, file: file, line: line)
        XCTAssertEqual(asyncError?.message, error?.message, file: file, line: line)
        XCTAssertEqual(error?.operatorName, "Sums", "the error names the window operator", file: file, line: line)
        XCTAssertEqual(results.count, 0, "nothing ran", file: file, line: line)
        return error
    }

    func assertMessage(_ error: RillError?, contains parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        let message = error?.message ?? ""
        for part in parts {
            XCTAssertTrue(message.contains(part), "'\(part)' missing from: \(message)", file: file, line: line)
        }
    }
}
