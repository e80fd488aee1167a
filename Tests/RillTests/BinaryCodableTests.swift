import Foundation
import Rill
import XCTest

extension BinaryCodableTests {
    /// A user type with a hand-written conformance, as the protocol documentation shows.
    struct Visit: BinaryCodable, Equatable {
        var page: String
        var count: Int64
        var tags: [String: Double]?

        func encode(to writer: inout BinaryWriter) {
            writer.write(page)
            writer.write(count)
            writer.write(tags)
        }

        init(page: String, count: Int64, tags: [String: Double]?) {
            self.page = page
            self.count = count
            self.tags = tags
        }

        init(from reader: inout BinaryReader) throws {
            page = try reader.read()
            count = try reader.read()
            tags = try reader.read()
        }
    }
}

final class BinaryCodableTests: XCTestCase {
    private func encoded<T: BinaryCodable>(_ value: T) -> [UInt8] {
        var writer = BinaryWriter()
        value.encode(to: &writer)
        return writer.bytes
    }

    private func decoded<T: BinaryCodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        var reader = BinaryReader(bytes)
        let value = try T(from: &reader)
        try reader.expectEnd()
        return value
    }

    private func assertRoundTrip<T: BinaryCodable & Equatable>(
        _ value: T, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(try decoded(T.self, encoded(value)), value, file: file, line: line)
    }

    private func assertRoundTrips<T: BinaryCodable & Equatable>(
        _ values: [T], file: StaticString = #filePath, line: UInt = #line
    ) {
        for value in values { assertRoundTrip(value, file: file, line: line) }
    }

    private func assertThrows<T>(
        _ code: CodecError.Code, _ expression: @autoclosure () throws -> T,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            XCTAssertEqual((error as? CodecError)?.code, code, "\(error)", file: file, line: line)
        }
    }

    func testIntegersRoundTripAtTheirEdges() {
        assertRoundTrips([Int64.min, Int64.min + 1, -1, 0, 1, Int64.max - 1, Int64.max])
        assertRoundTrips([Int.min, -300, 0, 300, Int.max])
        assertRoundTrips([Int32.min, -1, 0, Int32.max])
        assertRoundTrips([Int16.min, 0, Int16.max])
        assertRoundTrips([Int8.min, -1, 0, Int8.max])
        assertRoundTrips([UInt64.min, 127, 128, UInt64.max])
        assertRoundTrips([UInt.min, UInt.max])
        assertRoundTrips([UInt32.min, UInt32.max])
        assertRoundTrips([UInt16.min, UInt16.max])
        assertRoundTrips([UInt8.min, 0x80, UInt8.max])
        assertRoundTrips([Int128.min, -1, 0, Int128.max])
        assertRoundTrips([UInt128.min, UInt128.max])
    }

    func testIntegerEncodingsAreStable() {
        // Snapshots depend on these bytes; a change here breaks stored state.
        XCTAssertEqual(encoded(Int64(-1)), [0x01])
        XCTAssertEqual(encoded(Int64(150)), [0xAC, 0x02])
        XCTAssertEqual(encoded(UInt32(150)), [0x96, 0x01])
        XCTAssertEqual(encoded(Int8(-1)), [0xFF])
        XCTAssertEqual(encoded(UInt8(200)), [200])
        XCTAssertEqual(encoded(Int128(1)), [1] + [UInt8](repeating: 0, count: 15))
        XCTAssertEqual(encoded(true), [1])
        XCTAssertEqual(encoded("hé"), [3, 0x68, 0xC3, 0xA9])
        XCTAssertEqual(encoded(Optional<Int64>.none), [0])
        XCTAssertEqual(encoded(Optional<Int64>.some(-1)), [1, 1])
        XCTAssertEqual(encoded([Int64(1), 2]), [2, 2, 4])
        XCTAssertEqual(encoded(1.0), [0, 0, 0, 0, 0, 0, 0xF0, 0x3F])
    }

    func testIntegerWidthsMayWidenButNotOverflow() throws {
        XCTAssertEqual(try decoded(Int64.self, encoded(Int32.min)), Int64(Int32.min))
        XCTAssertEqual(try decoded(UInt64.self, encoded(UInt16.max)), UInt64(UInt16.max))
        assertThrows(.malformed, try decoded(Int32.self, encoded(Int64(Int32.max) + 1)))
        assertThrows(.malformed, try decoded(Int16.self, encoded(Int64(Int16.min) - 1)))
        assertThrows(.malformed, try decoded(UInt32.self, encoded(UInt64(UInt32.max) + 1)))
        assertThrows(.malformed, try decoded(UInt16.self, encoded(UInt64(70_000))))
    }

    func testFloatingPointRoundTripsBitExactly() throws {
        let doubles: [Double] = [
            0, -0.0, 1.5, -2.25, .pi, .infinity, -.infinity, .greatestFiniteMagnitude,
            .leastNonzeroMagnitude, .nan, Double(bitPattern: 0x7FF4_0000_0000_0001),
            Double(bitPattern: 0xFFF8_0000_DEAD_BEEF),
        ]
        for value in doubles {
            XCTAssertEqual(try decoded(Double.self, encoded(value)).bitPattern, value.bitPattern)
        }
        let floats: [Float] = [0, -0.0, 3.5, .infinity, .nan, Float(bitPattern: 0x7FA0_0001)]
        for value in floats {
            XCTAssertEqual(try decoded(Float.self, encoded(value)).bitPattern, value.bitPattern)
        }
        // [Double] takes the bulk path; its bytes equal the per-element encoding.
        let array = doubles
        let bulk = encoded(array)
        var manual = BinaryWriter()
        manual.writeVarUInt(UInt64(array.count))
        for value in array { manual.writeDouble(value) }
        XCTAssertEqual(bulk, manual.bytes)
        XCTAssertEqual(try decoded([Double].self, bulk).map(\.bitPattern), array.map(\.bitPattern))
        XCTAssertEqual(
            try decoded([Float].self, encoded(floats)).map(\.bitPattern), floats.map(\.bitPattern))
    }

    func testStringsRoundTrip() {
        assertRoundTrips([
            "", " ", "key-000001", "héllo wörld", "日本語", "👩‍👩‍👧‍👦 family", "\u{0}\u{1}",
            "\u{10FFFF}", String(repeating: "x", count: 100_000),
        ])
    }

    func testBoolRoundTripsAndRejectsOtherBytes() {
        assertRoundTrips([true, false])
        assertThrows(.malformed, try decoded(Bool.self, [2]))
    }

    func testCollectionsRoundTrip() {
        assertRoundTrip([UInt8]())
        assertRoundTrip([UInt8](0...255))
        assertRoundTrip([Int8](-128...127))
        assertRoundTrip([Int64](repeating: -7, count: 3))
        assertRoundTrip((0..<200_000).map { Int64($0) * 7_919 - 1_000_000 })
        assertRoundTrip([[Int64]]([[], [1], [2, 3]]))
        assertRoundTrip(ContiguousArray<String>(["a", "", "ü"]))
        assertRoundTrip(ContiguousArray<UInt8>([1, 2, 3]))
        assertRoundTrip(ContiguousArray<Double>([1.5, -2]))
        assertRoundTrip(Set<String>(["x", "y", "zz"]))
        assertRoundTrip(Set<Int64>())
        assertRoundTrip(["a": Int64(1), "b": -2, "": 0])
        assertRoundTrip([1: ["x"], -1: [], 3: ["", "y"]] as [Int64: [String]])
        assertRoundTrip(["outer": ["inner": 5]] as [String: [String: Int32]])
        let large = Dictionary(uniqueKeysWithValues: (0..<50_000).map { (Int64($0), "v\($0)") })
        assertRoundTrip(large)
    }

    func testByteArrayUsesPlainLengthPrefix() {
        XCTAssertEqual(encoded([UInt8]([9, 8])), [2, 9, 8])
        XCTAssertEqual(encoded(Data([9, 8])), [2, 9, 8])
        XCTAssertEqual(encoded(ContiguousArray<UInt8>([9, 8])), [2, 9, 8])
    }

    func testOptionalsRoundTripIncludingNested() {
        assertRoundTrips([Int64?.none, 0, Int64.min])
        assertRoundTrips([String?.none, "", "x"])
        assertRoundTrips([Int64??.none, .some(.none), .some(.some(5))])
        assertRoundTrips([Int64???.none, .some(.none), .some(.some(.none)), .some(.some(.some(-1)))])
        assertRoundTrip([Int64?]([nil, 1, nil]))
        assertRoundTrip(["a": nil, "b": 2] as [String: Int64?])
        assertThrows(.malformed, try decoded(Int64?.self, [2]))
    }

    func testFoundationTypesRoundTrip() {
        assertRoundTrips([
            Date(timeIntervalSince1970: 0), Date(timeIntervalSinceReferenceDate: 123_456.789_012_345),
            Date.distantPast, Date.distantFuture,
        ])
        assertRoundTrips([UUID(), UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!])
        XCTAssertEqual(
            encoded(UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!).prefix(2), [0xE6, 0x21])
        assertRoundTrips([Data(), Data([0, 1, 2, 255]), Data(count: 10_000)])
    }

    func testHandWrittenConformance() {
        assertRoundTrips([
            Visit(page: "/", count: 0, tags: nil),
            Visit(page: "/docs/ü", count: Int64.max, tags: ["a": 0.5, "b": -.infinity]),
        ])
        assertRoundTrip([Visit(page: "x", count: 1, tags: [:])])
    }

    func testDuplicatesInSetsAndDictionariesAreMalformed() {
        assertThrows(.malformed, try decoded(Set<Int64>.self, [2, 4, 4]))
        assertThrows(.malformed, try decoded([Int64: Int64].self, [2, 4, 0, 4, 2]))
    }

    func testCountsBeyondTheInputAreRejectedBeforeAllocating() {
        // A count of 2^62 with 3 bytes of input must fail fast, not reserve memory.
        var writer = BinaryWriter()
        writer.writeVarUInt(1 << 62)
        writer.writeRawBytes([1, 2, 3] as [UInt8])
        assertThrows(.truncated, try decoded([Int64].self, writer.bytes))
        assertThrows(.truncated, try decoded([UInt8].self, writer.bytes))
        assertThrows(.truncated, try decoded([Double].self, writer.bytes))
        assertThrows(.truncated, try decoded(Set<Int64>.self, writer.bytes))
        assertThrows(.truncated, try decoded([Int64: Int64].self, writer.bytes))
        assertThrows(.truncated, try decoded(String.self, writer.bytes))
        // A count that fits the bytes but not the element size.
        assertThrows(.truncated, try decoded([Double].self, [2, 0, 0, 0, 0, 0, 0, 0, 0]))
    }

    /// A value exercising every conformance, for truncation and fuzz tests.
    private var composite: [String: [Visit?]] {
        [
            "first": [Visit(page: "/ü", count: -5, tags: ["k": 1.25]), nil],
            "second": [],
            "third": [Visit(page: String(repeating: "p", count: 200), count: Int64.min, tags: nil)],
        ]
    }

    func testTruncationAtEveryOffsetThrowsTruncated() throws {
        let bytes = encoded(composite)
        XCTAssertEqual(try decoded([String: [Visit?]].self, bytes), composite)
        for length in 0..<bytes.count {
            var reader = BinaryReader(Array(bytes[..<length]))
            XCTAssertThrowsError(try [String: [Visit?]](from: &reader), "prefix \(length)") { error in
                XCTAssertEqual((error as? CodecError)?.code, .truncated, "prefix \(length): \(error)")
            }
        }
        // The same through a reader over a range of a larger array (bytes past the range
        // must stay unread).
        let padded = bytes + [UInt8](repeating: 0x00, count: 64)
        for length in stride(from: 0, to: bytes.count, by: 7) {
            var reader = BinaryReader(padded, range: 0..<length)
            XCTAssertThrowsError(try [String: [Visit?]](from: &reader), "range \(length)")
        }
    }

    func testRandomAndCorruptedInputNeverTraps() {
        var generator = SeededGenerator(seed: 42)
        let valid = encoded(composite)
        for _ in 0..<2_000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let index = Int.random(in: 0..<bytes.count, using: &generator)
                bytes[index] = UInt8.random(in: 0...255, using: &generator)
            }
            var reader = BinaryReader(bytes)
            do {
                _ = try [String: [Visit?]](from: &reader)
            } catch {
                XCTAssertTrue(error is CodecError, "\(error)")
            }
        }
        for _ in 0..<2_000 {
            let count = Int.random(in: 0..<64, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var reader = BinaryReader(bytes)
            XCTAssertNoThrowOrCodecError { _ = try [Int64: Set<String>](from: &reader) }
            reader = BinaryReader(bytes)
            XCTAssertNoThrowOrCodecError { _ = try [[Double]?](from: &reader) }
            reader = BinaryReader(bytes)
            XCTAssertNoThrowOrCodecError { _ = try [UUID: Data](from: &reader) }
        }
    }

    private func XCTAssertNoThrowOrCodecError(
        _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line
    ) {
        do { try body() } catch {
            XCTAssertTrue(error is CodecError, "\(error)", file: file, line: line)
        }
    }

    func testReaderAndWriterConvenienceMethods() throws {
        var writer = BinaryWriter()
        writer.write(Int64(-9))
        writer.write(["a", "b"])
        var reader = BinaryReader(writer.bytes)
        XCTAssertEqual(try reader.read(Int64.self), -9)
        XCTAssertEqual(try reader.read([String].self), ["a", "b"])
        XCTAssertTrue(reader.isAtEnd)
    }
}
