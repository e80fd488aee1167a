import Rill
import XCTest

final class WatermarkGeneratorTests: XCTestCase {
    func testBoundedOutOfOrdernessStartsAtMinimum() {
        let generator = BoundedOutOfOrdernessWatermarks<String>(maxOutOfOrderness: .seconds(5))
        let output = RecordingWatermarkOutput()
        generator.onPeriodicEmit(output: output)
        XCTAssertEqual(output.drain(), [.watermark(Int64.min)])
    }

    func testBoundedOutOfOrdernessTrailsMaximumByBoundPlusOne() {
        let generator = BoundedOutOfOrdernessWatermarks<String>(maxOutOfOrderness: .milliseconds(100))
        let output = RecordingWatermarkOutput()
        generator.onEvent("a", timestamp: 1_000, output: output)
        XCTAssertEqual(output.drain(), [], "periodic generators emit nothing per record")
        generator.onPeriodicEmit(output: output)
        generator.onEvent("b", timestamp: 1_500, output: output)
        generator.onEvent("late", timestamp: 1_200, output: output)
        generator.onPeriodicEmit(output: output)
        generator.onEvent("no timestamp", timestamp: Int64.min, output: output)
        generator.onPeriodicEmit(output: output)
        XCTAssertEqual(output.drain(), [.watermark(899), .watermark(1_399), .watermark(1_399)])
    }

    func testBoundedOutOfOrdernessTruncatesToMilliseconds() {
        let generator = BoundedOutOfOrdernessWatermarks<Int>(maxOutOfOrderness: .microseconds(2_900))
        let output = RecordingWatermarkOutput()
        generator.onEvent(0, timestamp: 10, output: output)
        generator.onPeriodicEmit(output: output)
        XCTAssertEqual(output.drain(), [.watermark(7)])
    }

    func testAscendingTimestampsIsBoundedWithZero() {
        let ascending = AscendingTimestampsWatermarks<Int>()
        let bounded = BoundedOutOfOrdernessWatermarks<Int>(maxOutOfOrderness: .zero)
        let ascendingOutput = RecordingWatermarkOutput()
        let boundedOutput = RecordingWatermarkOutput()
        for timestamp: Int64 in [Int64.min, 5, 7, 7, 3, 42] {
            ascending.onEvent(0, timestamp: timestamp, output: ascendingOutput)
            ascending.onPeriodicEmit(output: ascendingOutput)
            bounded.onEvent(0, timestamp: timestamp, output: boundedOutput)
            bounded.onPeriodicEmit(output: boundedOutput)
        }
        let emitted = ascendingOutput.drain()
        XCTAssertEqual(emitted, [.watermark(.min), .watermark(4), .watermark(6), .watermark(6), .watermark(6), .watermark(41)])
        XCTAssertEqual(emitted, boundedOutput.drain())
    }

    func testNoWatermarksEmitsNothing() {
        let generator = NoWatermarksGenerator<Int>()
        let output = RecordingWatermarkOutput()
        generator.onEvent(1, timestamp: 100, output: output)
        generator.onPeriodicEmit(output: output)
        XCTAssertEqual(output.drain(), [])
    }

    func testPunctuatedGeneratorEmitsFromOnEvent() {
        let generator = EndOfBatchWatermarks()
        let output = RecordingWatermarkOutput()
        generator.onEvent(BatchedReading(value: 1, endOfBatch: false), timestamp: 10, output: output)
        generator.onEvent(BatchedReading(value: 2, endOfBatch: true), timestamp: 20, output: output)
        generator.onPeriodicEmit(output: output)
        generator.onEvent(BatchedReading(value: 3, endOfBatch: true), timestamp: 30, output: output)
        XCTAssertEqual(output.drain(), [.watermark(20), .watermark(30)])
    }
}

struct BatchedReading {
    var value: Int
    var endOfBatch: Bool
}

/// A punctuated generator: the stream itself says when event time may advance.
final class EndOfBatchWatermarks: WatermarkGenerator {
    func onEvent(_ event: BatchedReading, timestamp: Int64, output: some WatermarkOutput) {
        if event.endOfBatch { output.emitWatermark(timestamp) }
    }

    func onPeriodicEmit(output: some WatermarkOutput) {}
}
