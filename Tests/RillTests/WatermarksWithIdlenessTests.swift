import Rill
import XCTest

final class WatermarksWithIdlenessTests: XCTestCase {
    private let clock = ManualClock(startMillis: 0)
    private let output = RecordingWatermarkOutput()

    private func makeGenerator(timeout: Duration = .milliseconds(1_000)) -> WatermarksWithIdleness<AscendingTimestampsWatermarks<Int>> {
        WatermarksWithIdleness(wrapping: AscendingTimestampsWatermarks<Int>(), timeout: timeout, clock: clock)
    }

    func testDelegatesWhileRecordsArrive() {
        let generator = makeGenerator()
        for step in 1...10 {
            generator.onEvent(step, timestamp: Int64(step * 10), output: output)
            clock.advance(by: .milliseconds(500))
            generator.onPeriodicEmit(output: output)
        }
        XCTAssertEqual(output.drain(), (1...10).map { .watermark(Int64($0 * 10 - 1)) })
    }

    func testMarksIdleOnceAfterTimeoutAndSuppressesWatermarks() {
        let generator = makeGenerator()
        generator.onEvent(1, timestamp: 100, output: output)
        generator.onPeriodicEmit(output: output)             // t=0: saw a record
        XCTAssertEqual(output.drain(), [.watermark(99)])

        generator.onPeriodicEmit(output: output)             // t=0: quiet, countdown starts
        clock.advance(by: .milliseconds(1_000))
        generator.onPeriodicEmit(output: output)             // t=1000: exactly the timeout, not idle
        XCTAssertEqual(output.drain(), [.watermark(99), .watermark(99)])

        clock.advance(by: .milliseconds(1))
        generator.onPeriodicEmit(output: output)             // t=1001: idle
        clock.advance(by: .milliseconds(5_000))
        generator.onPeriodicEmit(output: output)             // still idle: nothing more
        XCTAssertEqual(output.drain(), [.idle])
    }

    func testRecordMakesActiveAgainAndRestartsCountdown() {
        let generator = makeGenerator()
        generator.onPeriodicEmit(output: output)             // countdown starts at t=0
        clock.advance(by: .milliseconds(1_001))
        generator.onPeriodicEmit(output: output)
        XCTAssertEqual(output.drain(), [.watermark(.min), .idle])

        generator.onEvent(1, timestamp: 500, output: output)
        generator.onEvent(2, timestamp: 600, output: output)
        XCTAssertEqual(output.drain(), [.active], "active once, before the record reaches the generator")

        clock.advance(by: .milliseconds(1_001))
        generator.onPeriodicEmit(output: output)             // saw records: delegate, reset
        generator.onPeriodicEmit(output: output)             // quiet: countdown starts now
        clock.advance(by: .milliseconds(999))
        generator.onPeriodicEmit(output: output)
        XCTAssertEqual(output.drain(), [.watermark(599), .watermark(599), .watermark(599)])
        clock.advance(by: .milliseconds(2))
        generator.onPeriodicEmit(output: output)
        XCTAssertEqual(output.drain(), [.idle])
    }

    func testPunctuatedWatermarkAfterIdleFollowsActive() {
        let generator = WatermarksWithIdleness(wrapping: EndOfBatchWatermarks(), timeout: .milliseconds(10), clock: clock)
        generator.onPeriodicEmit(output: output)
        clock.advance(by: .milliseconds(11))
        generator.onPeriodicEmit(output: output)
        generator.onEvent(BatchedReading(value: 1, endOfBatch: true), timestamp: 7, output: output)
        XCTAssertEqual(output.drain(), [.idle, .active, .watermark(7)])
    }
}
