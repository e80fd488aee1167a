import Rill
import XCTest

final class CRC32CTests: XCTestCase {
    func testStandardCheckValue() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    }

    func testEmptyInput() {
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32C().checksum, 0)
    }

    func testRFC3720Vectors() {
        // iSCSI (RFC 3720, B.4) test vectors.
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0x00, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
    }

    func testIncrementalUpdatesMatchOneShot() {
        var generator = SeededGenerator(seed: 3)
        let bytes = (0..<10_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let expected = CRC32C.checksum(bytes)
        for _ in 0..<50 {
            var crc = CRC32C()
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + Int.random(in: 0...37, using: &generator))
                crc.update(Array(bytes[start..<end]))
                start = end
            }
            XCTAssertEqual(crc.checksum, expected)
        }
        // Every single-bit flip changes the checksum.
        for index in stride(from: 0, to: 64, by: 1) {
            var flipped = bytes
            flipped[index] ^= 1 << UInt8(index % 8)
            XCTAssertNotEqual(CRC32C.checksum(flipped), expected)
        }
    }
}
