import Rill
import XCTest

final class WatermarkStrategyTests: XCTestCase {
    private struct Click: Sendable {
        var userID: Int
        var eventTime: Int64
    }

    private let clock = ManualClock(startMillis: 0)

    func testFactoriesMakeFlinkGenerators() {
        XCTAssertTrue(WatermarkStrategy<Click>.forMonotonousTimestamps().makeGenerator(clock: clock) is AscendingTimestampsWatermarks<Click>)
        XCTAssertTrue(WatermarkStrategy<Click>.forBoundedOutOfOrderness(.seconds(1)).makeGenerator(clock: clock) is BoundedOutOfOrdernessWatermarks<Click>)
        XCTAssertTrue(WatermarkStrategy<Click>.noWatermarks().makeGenerator(clock: clock) is NoWatermarksGenerator<Click>)
    }

    func testBoundedStrategyUsesItsBound() {
        let generator = WatermarkStrategy<Click>.forBoundedOutOfOrderness(.seconds(2)).makeGenerator(clock: clock)
        let output = RecordingWatermarkOutput()
        generator.onEvent(Click(userID: 1, eventTime: 10_000), timestamp: 10_000, output: output)
        generator.onPeriodicEmit(output: output)
        XCTAssertEqual(output.drain(), [.watermark(7_999)])
    }

    func testEachSubtaskGetsItsOwnGenerator() {
        let strategy = WatermarkStrategy<Click>.forMonotonousTimestamps()
        let first = strategy.makeGenerator(clock: clock)
        let second = strategy.makeGenerator(clock: clock)
        XCTAssertFalse(first === second)
        let output = RecordingWatermarkOutput()
        first.onEvent(Click(userID: 1, eventTime: 50), timestamp: 50, output: output)
        second.onPeriodicEmit(output: output)
        XCTAssertEqual(output.drain(), [.watermark(.min)], "state must not leak between subtasks")
    }

    func testForGeneratorUsesUserFactory() {
        let strategy = WatermarkStrategy<BatchedReading>.forGenerator { EndOfBatchWatermarks() }
        let generator = strategy.makeGenerator(clock: clock)
        XCTAssertTrue(generator is EndOfBatchWatermarks)
        XCTAssertNil(strategy.idleTimeout)
        XCTAssertNil(strategy.timestampAssigner)
    }

    func testTimestampAssigner() {
        let plain = WatermarkStrategy<Click>.forMonotonousTimestamps()
        let click = Click(userID: 7, eventTime: 1_234)
        XCTAssertEqual(plain.extractTimestamp(click, recordTimestamp: 99), 99, "without an assigner the source's timestamp stays")
        XCTAssertEqual(plain.extractTimestamp(click, recordTimestamp: .min), .min)

        let assigned = plain.withTimestampAssigner { click, _ in click.eventTime }
        XCTAssertEqual(assigned.extractTimestamp(click, recordTimestamp: 99), 1_234)

        let shifted = plain.withTimestampAssigner { _, previous in previous + 1 }
        XCTAssertEqual(shifted.extractTimestamp(click, recordTimestamp: 99), 100, "the assigner sees the record's previous timestamp")
    }

    func testWithIdlenessWrapsAndKeepsOtherSettings() {
        let strategy = WatermarkStrategy<Click>.forBoundedOutOfOrderness(.milliseconds(10))
            .withTimestampAssigner { click, _ in click.eventTime }
            .withIdleness(.seconds(1))
        XCTAssertEqual(strategy.idleTimeout, .seconds(1))
        XCTAssertEqual(strategy.extractTimestamp(Click(userID: 1, eventTime: 5), recordTimestamp: 0), 5)

        let generator = strategy.makeGenerator(clock: clock)
        XCTAssertTrue(generator is WatermarksWithIdleness<BoundedOutOfOrdernessWatermarks<Click>>)
        let output = RecordingWatermarkOutput()
        generator.onEvent(Click(userID: 1, eventTime: 100), timestamp: 100, output: output)
        generator.onPeriodicEmit(output: output)
        generator.onPeriodicEmit(output: output)
        clock.advance(by: .milliseconds(1_001))
        generator.onPeriodicEmit(output: output)
        XCTAssertEqual(output.drain(), [.watermark(89), .watermark(89), .idle])
    }

    func testModifiersDoNotChangeTheOriginal() {
        let base = WatermarkStrategy<Click>.forMonotonousTimestamps()
        _ = base.withIdleness(.seconds(3)).withTimestampAssigner { _, _ in 0 }
        XCTAssertNil(base.idleTimeout)
        XCTAssertNil(base.timestampAssigner)
        XCTAssertTrue(base.makeGenerator(clock: clock) is AscendingTimestampsWatermarks<Click>)
    }
}
