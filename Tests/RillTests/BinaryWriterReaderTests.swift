import Rill
import XCTest

final class BinaryWriterReaderTests: XCTestCase {
    private func written(_ body: (inout BinaryWriter) -> Void) -> [UInt8] {
        var writer = BinaryWriter()
        body(&writer)
        return writer.bytes
    }

    private func assertCodecError<T>(
        _ code: CodecError.Code, _ expression: @autoclosure () throws -> T,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard let error = error as? CodecError else {
                return XCTFail("expected CodecError, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        }
    }

    func testFixedWidthIsLittleEndian() throws {
        XCTAssertEqual(written { $0.writeFixedWidth(UInt32(0x0102_0304)) }, [4, 3, 2, 1])
        XCTAssertEqual(written { $0.writeFixedWidth(Int16(-2)) }, [0xFE, 0xFF])
        var reader = BinaryReader([4, 3, 2, 1, 0xFE, 0xFF])
        XCTAssertEqual(try reader.readFixedWidth(UInt32.self), 0x0102_0304)
        XCTAssertEqual(try reader.readFixedWidth(Int16.self), -2)
        XCTAssertTrue(reader.isAtEnd)
    }

    func testVarUIntVectors() throws {
        let vectors: [(UInt64, [UInt8])] = [
            (0, [0]), (1, [1]), (127, [0x7F]), (128, [0x80, 0x01]), (300, [0xAC, 0x02]),
            (16_383, [0xFF, 0x7F]), (16_384, [0x80, 0x80, 0x01]),
            (UInt64.max, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        ]
        for (value, bytes) in vectors {
            XCTAssertEqual(written { $0.writeVarUInt(value) }, bytes, "\(value)")
            // Near the end of the input (bounds-checked path) and far from it (fast path).
            var near = BinaryReader(bytes)
            XCTAssertEqual(try near.readVarUInt(), value)
            XCTAssertTrue(near.isAtEnd)
            var far = BinaryReader(bytes + [UInt8](repeating: 0xEE, count: 12))
            XCTAssertEqual(try far.readVarUInt(), value)
            XCTAssertEqual(far.offset, bytes.count)
        }
    }

    func testZigZagVectors() throws {
        let vectors: [(Int64, [UInt8])] = [
            (0, [0]), (-1, [1]), (1, [2]), (-2, [3]), (63, [0x7E]), (-64, [0x7F]), (64, [0x80, 0x01]),
            (Int64.max, [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            (Int64.min, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        ]
        for (value, bytes) in vectors {
            XCTAssertEqual(written { $0.writeVarInt(value) }, bytes, "\(value)")
            var reader = BinaryReader(bytes)
            XCTAssertEqual(try reader.readVarInt(), value)
        }
    }

    func testMalformedVarints() {
        // Eleven continuation bytes: longer than any 64-bit varint, near and far from the end.
        let tooLong = [UInt8](repeating: 0xFF, count: 11)
        var reader = BinaryReader(tooLong)
        assertCodecError(.malformed, try reader.readVarUInt())
        reader = BinaryReader(tooLong + [UInt8](repeating: 0, count: 20))
        assertCodecError(.malformed, try reader.readVarUInt())
        // A 10th byte above 1 overflows 64 bits.
        let overflow: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02]
        reader = BinaryReader(overflow)
        assertCodecError(.malformed, try reader.readVarUInt())
        reader = BinaryReader(overflow + [0, 0, 0])
        assertCodecError(.malformed, try reader.readVarUInt())
        // The input ends inside the varint.
        reader = BinaryReader([0x80, 0x80])
        assertCodecError(.truncated, try reader.readVarUInt())
        reader = BinaryReader([])
        assertCodecError(.truncated, try reader.readVarUInt())
    }

    func testFloatsKeepBitPatterns() throws {
        let signalingNaN = Double(bitPattern: 0x7FF4_0000_0000_0001)
        for value in [0.0, -0.0, 1.5, .infinity, -.infinity, .leastNonzeroMagnitude, signalingNaN] {
            let bytes = written { $0.writeDouble(value) }
            XCTAssertEqual(bytes.count, 8)
            var reader = BinaryReader(bytes)
            XCTAssertEqual(try reader.readDouble().bitPattern, value.bitPattern)
        }
        let floatNaN = Float(bitPattern: 0x7FA0_0001)
        var reader = BinaryReader(written { $0.writeFloat(floatNaN) })
        XCTAssertEqual(try reader.readFloat().bitPattern, floatNaN.bitPattern)
    }

    func testStringsAndBytes() throws {
        let strings = ["", "a", "rill", "héllo wörld", "日本語テキスト", "🚀🌊 emoji", "nul\u{0}inside",
                       String(repeating: "long-", count: 5_000)]
        var writer = BinaryWriter()
        for string in strings { writer.writeString(string) }
        writer.writeBytes([1, 2, 3] as [UInt8])
        writer.writeBytes([] as [UInt8])
        var reader = BinaryReader(writer.bytes)
        for string in strings { XCTAssertEqual(try reader.readString(), string) }
        XCTAssertEqual(try reader.readBytes(), [1, 2, 3])
        XCTAssertEqual(try reader.readBytes(), [])
        XCTAssertTrue(reader.isAtEnd)
        XCTAssertNoThrow(try reader.expectEnd())
    }

    func testInvalidUTF8IsMalformed() {
        let invalid: [[UInt8]] = [
            [0x80],  // continuation byte first
            [0xC0, 0x80],  // overlong NUL
            [0xC1, 0xBF],  // overlong
            [0xE0, 0x80, 0x80],  // overlong 3-byte
            [0xED, 0xA0, 0x80],  // surrogate U+D800
            [0xF0, 0x80, 0x80, 0x80],  // overlong 4-byte
            [0xF4, 0x90, 0x80, 0x80],  // above U+10FFFF
            [0xF5, 0x80, 0x80, 0x80],  // invalid lead
            [0xE2, 0x82],  // cut-off sequence
            [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0xFF],  // bad byte after ASCII run
        ]
        for bytes in invalid {
            var reader = BinaryReader([UInt8(bytes.count)] + bytes)
            assertCodecError(.malformed, try reader.readString())
        }
        // Boundary code points are accepted.
        for scalar in ["\u{7F}", "\u{80}", "\u{7FF}", "\u{800}", "\u{FFFF}", "\u{10000}", "\u{10FFFF}"] {
            var writer = BinaryWriter()
            writer.writeString(scalar)
            var reader = BinaryReader(writer.bytes)
            XCTAssertEqual(try reader.readString(), scalar)
        }
    }

    func testLengthBeyondEndIsTruncated() {
        var reader = BinaryReader([5, 0x61, 0x62])
        assertCodecError(.truncated, try reader.readString())
        reader = BinaryReader([0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
        assertCodecError(.truncated, try reader.readBytes())
        reader = BinaryReader([1, 2, 3])
        assertCodecError(.truncated, try reader.readFixedWidth(UInt32.self))
        assertCodecError(.truncated, try reader.readRawBytes(count: 4))
    }

    func testBoolRejectsOtherBytes() throws {
        var reader = BinaryReader([0, 1, 2])
        XCTAssertEqual(try reader.readBool(), false)
        XCTAssertEqual(try reader.readBool(), true)
        assertCodecError(.malformed, try reader.readBool())
    }

    func testErrorsCarryOffsetAndAdvice() {
        var reader = BinaryReader([0x01, 0x02, 0x80])
        _ = try? reader.readByte()
        _ = try? reader.readByte()
        XCTAssertThrowsError(try reader.readVarUInt()) { error in
            let error = error as! CodecError
            XCTAssertEqual(error.code, .truncated)
            XCTAssertEqual(error.offset, 2)
            XCTAssertTrue(error.description.contains("at byte 2"), error.description)
            XCTAssertFalse(error.message.isEmpty)
        }
    }

    func testResetKeepsCapacityAndGrowthKeepsBytes() {
        var writer = BinaryWriter(capacity: 16)
        for i in 0..<10_000 { writer.writeVarUInt(UInt64(i)) }
        let capacity = writer.capacity
        XCTAssertGreaterThanOrEqual(capacity, writer.count)
        var reader = BinaryReader(writer.bytes)
        for i in 0..<10_000 { XCTAssertEqual(try reader.readVarUInt(), UInt64(i)) }
        writer.reset()
        XCTAssertEqual(writer.count, 0)
        XCTAssertTrue(writer.isEmpty)
        XCTAssertEqual(writer.capacity, capacity)
        writer.writeByte(7)
        XCTAssertEqual(writer.bytes, [7])
        writer.reserveCapacity(capacity * 4)
        XCTAssertGreaterThanOrEqual(writer.capacity, capacity * 4)
        XCTAssertEqual(writer.bytes, [7])
        XCTAssertEqual(writer.withUnsafeBytes { Array($0) }, [7])
    }

    func testReaderOverRangeSharesBytes() throws {
        let bytes: [UInt8] = [9, 9, 3, 0x61, 0x62, 0x63, 9]
        var reader = BinaryReader(bytes, range: 2..<6)
        XCTAssertEqual(reader.remaining, 4)
        XCTAssertEqual(try reader.readString(), "abc")
        XCTAssertTrue(reader.isAtEnd)
        XCTAssertEqual(reader.offset, 6)
        XCTAssertThrowsError(try reader.readByte())
        var copy = BinaryReader(copying: bytes[2..<6])
        XCTAssertEqual(try copy.readString(), "abc")
    }

    func testExpectEndRejectsTrailingBytes() {
        let reader = BinaryReader([1])
        XCTAssertThrowsError(try reader.expectEnd()) { error in
            XCTAssertEqual((error as? CodecError)?.code, .malformed)
        }
    }

    func testPeekAndRawBytes() throws {
        var reader = BinaryReader([1, 2, 3, 4])
        XCTAssertEqual(try reader.peekByte(), 1)
        XCTAssertEqual(reader.offset, 0)
        let sum = try reader.withRawBytes(count: 3) { $0.reduce(0) { $0 + Int($1) } }
        XCTAssertEqual(sum, 6)
        XCTAssertEqual(try reader.readRawBytes(count: 1), [4])
    }
}
