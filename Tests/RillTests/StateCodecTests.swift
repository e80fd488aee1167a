import Rill
import XCTest

final class StateCodecTests: XCTestCase {
    func testBinaryCodec() throws {
        let codec = StateCodec<[String: Int64]>.binary
        XCTAssertEqual(codec.typeDescription, "Swift.Dictionary<Swift.String, Swift.Int64>")
        XCTAssertEqual(codec.format, StateCodec<Int>.binaryFormat)
        let value = ["a": Int64(1), "ü": Int64.min]
        XCTAssertEqual(try codec.decodeValue(from: codec.encodedBytes(value)), value)
        var writer = BinaryWriter()
        try codec.encode(value, &writer)
        var reader = BinaryReader(writer.bytes)
        XCTAssertEqual(try codec.decode(&reader), value)
    }

    func testCodableCodec() throws {
        let codec = StateCodec<CodableBridgeTests.AccountV1>.codable
        XCTAssertTrue(codec.typeDescription.hasSuffix("AccountV1"), codec.typeDescription)
        XCTAssertEqual(codec.format, StateCodec<Int>.codableFormat)
        let value = CodableBridgeTests.AccountV1(id: 1, name: "n", balance: 2)
        XCTAssertEqual(try codec.decodeValue(from: codec.encodedBytes(value)), value)
        // Decoding with the state's changed type reports the mismatch.
        let changed = StateCodec<CodableBridgeTests.AccountTypeChanged>.codable
        XCTAssertThrowsError(try changed.decodeValue(from: codec.encodedBytes(value))) { error in
            XCTAssertEqual((error as? CodecError)?.code, .typeMismatch)
        }
    }

    func testTheTwoFormatsDiffer() throws {
        let binary = StateCodec<Int64>.binary
        let codable = StateCodec<Int64>.codable
        XCTAssertEqual(binary.typeDescription, codable.typeDescription)
        XCTAssertNotEqual(binary.format, codable.format)
        XCTAssertThrowsError(
            try binary.checkCanRead(
                storedTypeDescription: codable.typeDescription, storedFormat: codable.format,
                stateName: "count"))
    }

    func testCheckCanRead() throws {
        let codec = StateCodec<Int64>.binary
        XCTAssertNoThrow(
            try codec.checkCanRead(
                storedTypeDescription: "Swift.Int64", storedFormat: codec.format, stateName: "count"))
        XCTAssertThrowsError(
            try codec.checkCanRead(
                storedTypeDescription: "Swift.String", storedFormat: codec.format, stateName: "count")
        ) { error in
            let error = error as! CodecError
            XCTAssertEqual(error.code, .typeMismatch)
            XCTAssertTrue(error.message.contains("'count'"))
            XCTAssertTrue(error.message.contains("Swift.String"))
        }
    }

    func testCustomCodecAndSendability() throws {
        let codec = StateCodec<UInt16>(
            typeDescription: "port", format: "fixed16",
            encode: { value, writer in writer.writeFixedWidth(value) },
            decode: { reader in try reader.readFixedWidth() })
        let shared: any Sendable = codec
        XCTAssertNotNil(shared as? StateCodec<UInt16>)
        XCTAssertEqual(try codec.encodedBytes(0x0102), [2, 1])
        XCTAssertEqual(try codec.decodeValue(from: [2, 1]), 0x0102)
        XCTAssertThrowsError(try codec.decodeValue(from: [2]))
    }
}
