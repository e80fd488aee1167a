import Rill
import XCTest

final class WatermarkValveTests: XCTestCase {
    func testSingleChannelPassesAdvancingWatermarks() {
        let valve = StatusWatermarkValve(channelCount: 1)
        XCTAssertEqual(valve.inputWatermark(10, channel: 0), 10)
        XCTAssertNil(valve.inputWatermark(10, channel: 0))
        XCTAssertNil(valve.inputWatermark(5, channel: 0), "never backwards")
        XCTAssertEqual(valve.inputWatermark(11, channel: 0), 11)
        XCTAssertEqual(valve.inputWatermark(.max, channel: 0), .max, "end of input passes through")
    }

    func testMinimumAcrossChannels() {
        let valve = StatusWatermarkValve(channelCount: 3)
        XCTAssertNil(valve.inputWatermark(10, channel: 0))
        XCTAssertNil(valve.inputWatermark(20, channel: 1))
        XCTAssertEqual(valve.inputWatermark(15, channel: 2), 10)
        XCTAssertNil(valve.inputWatermark(12, channel: 1), "a channel going backwards is ignored")
        XCTAssertEqual(valve.watermark(channel: 1), 20)
        XCTAssertEqual(valve.inputWatermark(30, channel: 0), 15)
        XCTAssertEqual(valve.inputWatermark(40, channel: 2), 20)
        XCTAssertEqual(valve.lastOutputWatermark, 20)
        for channel in 0..<3 { _ = valve.inputWatermark(.max, channel: channel) }
        XCTAssertEqual(valve.lastOutputWatermark, .max)
    }

    func testIdleChannelIsExcluded() {
        let valve = StatusWatermarkValve(channelCount: 2)
        XCTAssertNil(valve.inputWatermark(10, channel: 0))
        XCTAssertEqual(valve.inputWatermarkStatus(.idle, channel: 1), StatusWatermarkValve.Update(watermark: 10),
                       "the idle channel held the minimum back")
        XCTAssertEqual(valve.inputWatermark(25, channel: 0), 25)
        XCTAssertNil(valve.inputWatermark(100, channel: 1), "watermarks on an idle channel are ignored")
        XCTAssertEqual(valve.watermark(channel: 1), .min)
        XCTAssertEqual(valve.outputStatus, .active)
        XCTAssertEqual(valve.inputWatermarkStatus(.idle, channel: 1), .unchanged, "repeated status changes nothing")
    }

    func testAllIdleFlushesMaximumThenIdle() {
        let valve = StatusWatermarkValve(channelCount: 3)
        XCTAssertNil(valve.inputWatermark(30, channel: 0))
        XCTAssertNil(valve.inputWatermark(50, channel: 1))
        XCTAssertEqual(valve.inputWatermark(10, channel: 2), 10)
        XCTAssertEqual(valve.inputWatermarkStatus(.idle, channel: 0), .unchanged, "channel 2 still holds the minimum")
        XCTAssertEqual(valve.inputWatermarkStatus(.idle, channel: 2), StatusWatermarkValve.Update(watermark: 50))
        XCTAssertEqual(valve.inputWatermarkStatus(.idle, channel: 1), StatusWatermarkValve.Update(status: .idle),
                       "the maximum was already out: only the status")
        XCTAssertEqual(valve.outputStatus, .idle)

        let other = StatusWatermarkValve(channelCount: 2)
        XCTAssertNil(other.inputWatermark(70, channel: 0))
        XCTAssertEqual(other.inputWatermark(20, channel: 1), 20)
        XCTAssertEqual(other.inputWatermarkStatus(.idle, channel: 0), .unchanged)
        XCTAssertEqual(other.inputWatermarkStatus(.idle, channel: 1), StatusWatermarkValve.Update(watermark: 70, status: .idle),
                       "maximum first, then idle")
    }

    func testAnyChannelActiveMakesOutputActive() {
        let valve = StatusWatermarkValve(channelCount: 2)
        _ = valve.inputWatermarkStatus(.idle, channel: 0)
        XCTAssertEqual(valve.inputWatermarkStatus(.idle, channel: 1), StatusWatermarkValve.Update(status: .idle))
        XCTAssertNil(valve.inputWatermark(5, channel: 0), "ignored while idle")
        XCTAssertEqual(valve.inputWatermarkStatus(.active, channel: 1), StatusWatermarkValve.Update(status: .active))
        XCTAssertEqual(valve.inputWatermarkStatus(.active, channel: 0), .unchanged, "already active")
        XCTAssertEqual(valve.inputWatermark(5, channel: 0), nil, "channel 1 still at Int64.min")
        XCTAssertEqual(valve.inputWatermark(8, channel: 1), 5)
    }

    func testReactivatedLaggingChannelIsExcludedUntilItCatchesUp() {
        let valve = StatusWatermarkValve(channelCount: 2)
        XCTAssertNil(valve.inputWatermark(10, channel: 1))
        XCTAssertEqual(valve.inputWatermark(10, channel: 0), 10)
        XCTAssertEqual(valve.inputWatermarkStatus(.idle, channel: 1), .unchanged)
        XCTAssertEqual(valve.inputWatermark(50, channel: 0), 50)

        XCTAssertEqual(valve.inputWatermarkStatus(.active, channel: 1), .unchanged)
        XCTAssertFalse(valve.isAligned(channel: 1))
        XCTAssertNil(valve.inputWatermark(30, channel: 1), "lagging channel must not pull the watermark back")
        XCTAssertFalse(valve.isAligned(channel: 1))
        XCTAssertEqual(valve.inputWatermark(60, channel: 0), 60, "only aligned channel 0 counts")
        XCTAssertEqual(valve.lastOutputWatermark, 60)

        XCTAssertNil(valve.inputWatermark(60, channel: 1), "caught up, but equal is not an advance")
        XCTAssertTrue(valve.isAligned(channel: 1))
        XCTAssertNil(valve.inputWatermark(80, channel: 0), "channel 1 holds the minimum again")
        XCTAssertEqual(valve.inputWatermark(70, channel: 1), 70)
    }

    func testReactivatedChannelAheadIsAlignedAtOnce() {
        let valve = StatusWatermarkValve(channelCount: 2)
        XCTAssertNil(valve.inputWatermark(40, channel: 1))
        XCTAssertEqual(valve.inputWatermarkStatus(.idle, channel: 1), .unchanged)
        XCTAssertEqual(valve.inputWatermark(20, channel: 0), 20)
        XCTAssertEqual(valve.inputWatermarkStatus(.active, channel: 1), .unchanged)
        XCTAssertTrue(valve.isAligned(channel: 1))
        XCTAssertEqual(valve.inputWatermark(100, channel: 0), 40)
    }

    func testCombinedWatermarkNeverGoesBackwards() {
        let valve = StatusWatermarkValve(channelCount: 4)
        var generator = SeededGenerator(seed: 42)
        var last = Int64.min
        var channelLast = [Int64](repeating: 0, count: 4)
        for _ in 0..<10_000 {
            let channel = Int.random(in: 0..<4, using: &generator)
            switch Int.random(in: 0..<10, using: &generator) {
            case 0:
                let update = valve.inputWatermarkStatus(.idle, channel: channel)
                if let watermark = update.watermark { XCTAssertGreaterThan(watermark, last); last = watermark }
            case 1:
                XCTAssertNil(valve.inputWatermarkStatus(.active, channel: channel).watermark)
            default:
                let watermark = channelLast[channel] + Int64.random(in: -5...20, using: &generator)
                channelLast[channel] = max(channelLast[channel], watermark)
                if let combined = valve.inputWatermark(watermark, channel: channel) {
                    XCTAssertGreaterThan(combined, last)
                    last = combined
                }
            }
            XCTAssertEqual(valve.lastOutputWatermark, last)
        }
    }
}

