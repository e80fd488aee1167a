import Rill
import XCTest

final class FramedBlobTests: XCTestCase {
    private let magic = FramedBlob.Magic("RTST")

    private func frame(version: UInt16 = 2, payload: [UInt8] = Array("state payload ü".utf8)) -> [UInt8] {
        FramedBlob.encode(magic: magic, version: version, payload: payload)
    }

    private func assertCodecError(
        _ code: CodecError.Code, _ bytes: [UInt8], versions: ClosedRange<UInt16> = 1...2,
        file: StaticString = #filePath, line: UInt = #line
    ) -> CodecError? {
        var caught: CodecError?
        XCTAssertThrowsError(try FramedBlob.read(bytes, magic: magic, versions: versions), file: file, line: line) {
            error in
            caught = error as? CodecError
            XCTAssertEqual(caught?.code, code, "\(error)", file: file, line: line)
        }
        return caught
    }

    func testLayout() {
        let bytes = frame(version: 0x0102, payload: [0xAB])
        XCTAssertEqual(Array(bytes[0..<4]), Array("RTST".utf8))
        XCTAssertEqual(Array(bytes[4..<6]), [0x02, 0x01])
        XCTAssertEqual(Array(bytes[6..<14]), [1, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(bytes[14], 0xAB)
        XCTAssertEqual(bytes.count, FramedBlob.headerSize + 1 + FramedBlob.trailerSize)
        let crc = CRC32C.checksum(Array(bytes[0..<15]))
        XCTAssertEqual(Array(bytes[15..<19]), [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: crc >> $0) })
        XCTAssertEqual(magic.description, "\"RTST\"")
    }

    func testRoundTrip() throws {
        let payload = Array("state payload ü".utf8)
        var frame = try FramedBlob.read(self.frame(), magic: magic, versions: 1...2)
        XCTAssertEqual(frame.version, 2)
        XCTAssertEqual(try frame.payload.readRawBytes(count: payload.count), payload)
        XCTAssertTrue(frame.payload.isAtEnd)
        let empty = try FramedBlob.read(self.frame(payload: []), magic: magic, versions: 2...2)
        XCTAssertTrue(empty.payload.isAtEnd)
    }

    func testPayloadWrittenInPlaceAndFramesConcatenate() throws {
        var writer = BinaryWriter()
        FramedBlob.write(magic: magic, version: 1, to: &writer) { payload in
            payload.write([Int64](0..<1_000))
            payload.write("first")
        }
        FramedBlob.write(magic: magic, version: 2, to: &writer) { $0.write("second") }
        var reader = BinaryReader(writer.bytes)
        var first = try FramedBlob.read(from: &reader, magic: magic, versions: 1...2)
        XCTAssertEqual(first.version, 1)
        XCTAssertEqual(try first.payload.read([Int64].self), Array(0..<1_000))
        XCTAssertEqual(try first.payload.read(String.self), "first")
        XCTAssertTrue(first.payload.isAtEnd)
        var second = try FramedBlob.read(from: &reader, magic: magic, versions: 1...2)
        XCTAssertEqual(try second.payload.read(String.self), "second")
        XCTAssertTrue(reader.isAtEnd)
    }

    func testThrowingBodyRestoresTheWriter() {
        struct Failure: Error {}
        var writer = BinaryWriter()
        writer.writeByte(1)
        XCTAssertThrowsError(
            try FramedBlob.write(magic: magic, version: 1, to: &writer) { payload in
                payload.writeString("partial")
                throw Failure()
            })
        XCTAssertEqual(writer.bytes, [1])
    }

    func testEveryFlippedPayloadOrChecksumByteIsAChecksumMismatch() {
        let bytes = frame()
        for index in FramedBlob.headerSize..<bytes.count {
            var corrupted = bytes
            corrupted[index] ^= 0x40
            _ = assertCodecError(.checksumMismatch, corrupted)
        }
        // A corrupted version field is corruption, not a version problem.
        var corrupted = bytes
        corrupted[4] ^= 0x01
        _ = assertCodecError(.checksumMismatch, corrupted)
    }

    func testWrongMagicIsMalformed() {
        var corrupted = frame()
        corrupted[0] = UInt8(ascii: "X")
        let error = assertCodecError(.malformed, corrupted)
        XCTAssertTrue(error?.message.contains("\"RTST\"") ?? false, "\(String(describing: error))")
    }

    func testTruncationAtEveryLengthIsTruncated() {
        let bytes = frame()
        for length in 0..<bytes.count {
            _ = assertCodecError(.truncated, Array(bytes[..<length]))
        }
        // A length field claiming more than the file holds.
        var lying = bytes
        lying[13] = 0x7F
        _ = assertCodecError(.truncated, lying)
    }

    func testUnsupportedVersionNamesFoundAndExpected() {
        let error = assertCodecError(.versionMismatch, frame(version: 3), versions: 1...2)
        XCTAssertTrue(error?.message.contains("version 3") ?? false, "\(String(describing: error))")
        XCTAssertTrue(error?.message.contains("1...2") ?? false, "\(String(describing: error))")
    }

    func testTrailingBytesAreMalformed() {
        _ = assertCodecError(.malformed, frame() + [0])
    }

    func testFailedReadDoesNotMoveTheReader() {
        var reader = BinaryReader(frame(version: 9))
        XCTAssertThrowsError(try FramedBlob.read(from: &reader, magic: magic, versions: 1...2))
        XCTAssertEqual(reader.offset, 0)
    }
}
