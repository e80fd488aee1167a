import Foundation
import Rill
import XCTest

extension CodableBridgeTests {
    // MARK: - Fixtures

    indirect enum Shape: Codable, Equatable {
        case point
        case circle(radius: Double)
        case rectangle(width: Int32, height: Int32)
        case polygon([Int64], closed: Bool)
        case labelled(String, Shape?)
        case group([Shape])
    }

    enum Level: String, Codable, Equatable { case low, high }

    struct Address: Codable, Equatable {
        var street: String
        var zip: UInt32?
    }

    struct Order: Codable, Equatable {
        var id: Int64
        var customer: String
        var amount: Double
        var quantity: UInt8
        var express: Bool
        var note: String?
        var address: Address
        var previous: [Address]
        var shapes: [Shape]
        var level: Level
        var created: Date
        var reference: UUID
        var attachment: Data
        var counters: [String: Int64]  // BinaryCodable: fast path inside the Codable bridge
        var byCode: [Int: Address]  // Int-keyed dictionary of Codable values
        var nested: [[Address?]]
        var maybe: Int??
        var wide: Int128
    }

    static func makeOrder() -> Order {
        Order(
            id: -42, customer: "Zoë Ångström", amount: 19.99, quantity: 3, express: true, note: nil,
            address: Address(street: "1 Rill Way", zip: 12_345),
            previous: [Address(street: "", zip: nil), Address(street: "日本", zip: 0)],
            shapes: [
                .point, .circle(radius: 2.5), .rectangle(width: -1, height: Int32.max),
                .polygon([1, -2, 3], closed: true), .labelled("tag", .point), .labelled("none", nil),
                .group([.point, .group([])]),
            ],
            level: .high, created: Date(timeIntervalSinceReferenceDate: 700_000_000.125),
            reference: UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!,
            attachment: Data([0, 1, 2, 3]), counters: ["a": 1, "b": Int64.min],
            byCode: [7: Address(street: "seven", zip: 7), -1: Address(street: "minus", zip: nil)],
            nested: [[nil, Address(street: "n", zip: 1)], []], maybe: .some(nil), wide: Int128.min)
    }

    // Schema versions of one stored type.
    struct AccountV1: Codable, Equatable {
        var id: Int64
        var name: String
        var balance: Int32
    }

    struct AccountReordered: Codable, Equatable {
        var balance: Int32
        var name: String
        var id: Int64
    }

    struct AccountFieldRemoved: Codable, Equatable {
        var id: Int64
        var balance: Int32
    }

    struct AccountOptionalAdded: Codable, Equatable {
        var id: Int64
        var name: String
        var balance: Int32
        var email: String?
    }

    struct AccountRequiredAdded: Codable {
        var id: Int64
        var name: String
        var balance: Int32
        var email: String
    }

    struct AccountTypeChanged: Codable {
        var id: Int64
        var name: Int64
        var balance: Int32
    }

    struct AccountRenamed: Codable {
        var id: Int64
        var fullName: String
        var balance: Int32
    }

    struct AccountWidened: Codable, Equatable {
        var id: Int64
        var name: String
        var balance: Int64
    }

    struct AccountNarrowed: Codable {
        var id: Int8
        var name: String
        var balance: Int32
    }

    enum ShapeV2: Codable {
        case point
        case circle(diameter: Double)
    }

    // Class hierarchies, both ways Foundation's coders support.
    class Animal: Codable {
        var name: String
        init(name: String) { self.name = name }
    }

    final class Dog: Animal {
        var tricks: [String]
        init(name: String, tricks: [String]) {
            self.tricks = tricks
            super.init(name: name)
        }
        private enum CodingKeys: String, CodingKey { case tricks }
        // Separate super container.
        override func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(tricks, forKey: .tricks)
            try super.encode(to: container.superEncoder())
        }
        required init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            tricks = try container.decode([String].self, forKey: .tricks)
            try super.init(from: container.superDecoder())
        }
    }

    final class Cat: Animal {
        var lives: Int
        init(name: String, lives: Int) {
            self.lives = lives
            super.init(name: name)
        }
        private enum CodingKeys: String, CodingKey { case lives }
        // Shared container: superclass and subclass fields in one keyed container.
        override func encode(to encoder: any Encoder) throws {
            try super.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(lives, forKey: .lives)
        }
        required init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            lives = try container.decode(Int.self, forKey: .lives)
            try super.init(from: decoder)
        }
    }

    /// Wraps a value in a single value container (wrappers cost no bytes).
    struct Wrapper<Value: Codable & Equatable>: Codable, Equatable {
        var value: Value
        init(_ value: Value) { self.value = value }
        init(from decoder: any Decoder) throws {
            value = try decoder.singleValueContainer().decode(Value.self)
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(value)
        }
    }

    /// Misuses the encoder: writes to a nested container after its parent moved on.
    struct Interleaved: Encodable {
        enum Keys: String, CodingKey { case a, b, x }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            var nested = container.nestedContainer(keyedBy: Keys.self, forKey: .a)
            try container.encode(1, forKey: .b)
            try nested.encode(2, forKey: .x)
        }
    }

    struct Refuses: Encodable {
        func encode(to encoder: any Encoder) throws {
            throw EncodingError.invalidValue(
                self, EncodingError.Context(codingPath: encoder.codingPath, debugDescription: "no"))
        }
    }

    /// Decodes fields out of stored order and checks `contains`/`allKeys`.
    struct OutOfOrder: Codable, Equatable {
        var first: Int
        var second: String
        var third: [Int]
        enum CodingKeys: String, CodingKey { case first, second, third, absent }
        init(first: Int, second: String, third: [Int]) {
            self.first = first
            self.second = second
            self.third = third
        }
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            third = try container.decode([Int].self, forKey: .third)
            first = try container.decode(Int.self, forKey: .first)
            second = try container.decode(String.self, forKey: .second)
            guard container.contains(.first), !container.contains(.absent),
                Set(container.allKeys.map(\.stringValue)) == ["first", "second", "third"]
            else {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "keys"))
            }
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(first, forKey: .first)
            try container.encode(second, forKey: .second)
            try container.encode(third, forKey: .third)
        }
    }

    /// Uses nested containers by hand, in both directions.
    struct Matrix: Codable, Equatable {
        var name: String
        var rows: [[Int]]
        var cells: [(row: Int, label: String)]

        static func == (lhs: Matrix, rhs: Matrix) -> Bool {
            lhs.name == rhs.name && lhs.rows == rhs.rows
                && lhs.cells.map(\.row) == rhs.cells.map(\.row)
                && lhs.cells.map(\.label) == rhs.cells.map(\.label)
        }

        init(name: String, rows: [[Int]], cells: [(row: Int, label: String)]) {
            self.name = name
            self.rows = rows
            self.cells = cells
        }

        enum Keys: String, CodingKey { case name, rows, cells, row, label }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            var rowsContainer = container.nestedUnkeyedContainer(forKey: .rows)
            for row in rows {
                var rowContainer = rowsContainer.nestedUnkeyedContainer()
                for value in row { try rowContainer.encode(value) }
            }
            var cellsContainer = container.nestedUnkeyedContainer(forKey: .cells)
            for cell in cells {
                var cellContainer = cellsContainer.nestedContainer(keyedBy: Keys.self)
                try cellContainer.encode(cell.row, forKey: .row)
                try cellContainer.encode(cell.label, forKey: .label)
            }
            try container.encode(name, forKey: .name)
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Keys.self)
            var rowsContainer = try container.nestedUnkeyedContainer(forKey: .rows)
            rows = []
            if rowsContainer.count != nil { rows.reserveCapacity(rowsContainer.count!) }
            while !rowsContainer.isAtEnd {
                var rowContainer = try rowsContainer.nestedUnkeyedContainer()
                var row: [Int] = []
                while !rowContainer.isAtEnd { row.append(try rowContainer.decode(Int.self)) }
                rows.append(row)
            }
            var cellsContainer = try container.nestedUnkeyedContainer(forKey: .cells)
            cells = []
            while !cellsContainer.isAtEnd {
                let cellContainer = try cellsContainer.nestedContainer(keyedBy: Keys.self)
                cells.append(
                    (try cellContainer.decode(Int.self, forKey: .row),
                     try cellContainer.decode(String.self, forKey: .label)))
            }
            name = try container.decode(String.self, forKey: .name)
        }
    }
}

// MARK: - Tests

final class CodableBridgeTests: XCTestCase {
    private func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        try BinaryCodableEncoder().encode(value)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        try BinaryCodableDecoder().decode(T.self, from: bytes)
    }

    private func assertRoundTrip<T: Codable & Equatable>(
        _ value: T, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(try decode(T.self, encode(value)), value, file: file, line: line)
    }

    private func assertCodecError<T>(
        _ code: CodecError.Code, mentioning text: String? = nil,
        _ expression: @autoclosure () throws -> T,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard let error = error as? CodecError else {
                return XCTFail("expected CodecError, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
            if let text {
                XCTAssertTrue(error.message.contains(text), "\(error)", file: file, line: line)
            }
        }
    }

    func testNestedStructWithEnumsRoundTrips() {
        assertRoundTrip(Self.makeOrder())
        var order = Self.makeOrder()
        order.note = "leave at door"
        order.maybe = .some(.some(3))
        order.previous = []
        assertRoundTrip(order)
    }

    func testPrimitivesAndCollectionsAtTopLevel() {
        assertRoundTrip(Int64.min)
        assertRoundTrip(UInt64.max)
        assertRoundTrip("ü")
        assertRoundTrip(Double.infinity)
        assertRoundTrip(Float(1.5))
        assertRoundTrip(true)
        assertRoundTrip([Address(street: "a", zip: 1)])
        assertRoundTrip(["k": Address(street: "b", zip: nil)] as [String: Address])
        assertRoundTrip(Shape.group([.labelled("x", .circle(radius: 1))]))
        assertRoundTrip(Level.low)
        assertRoundTrip(Address?.none)
        assertRoundTrip([Address?]([nil, Address(street: "z", zip: 9)]))
        assertRoundTrip(Wrapper(Address(street: "w", zip: 3)))
        assertRoundTrip(Wrapper(Wrapper(Int16(-7))))
        assertRoundTrip([Wrapper(Shape.point)])
    }

    func testHandWrittenNestedContainers() {
        assertRoundTrip(Matrix(name: "m", rows: [[1, 2], [], [3]], cells: [(0, "a"), (2, "c")]))
        assertRoundTrip(Matrix(name: "", rows: [], cells: []))
        assertRoundTrip([Matrix(name: "x", rows: [[-1]], cells: [(1, "ü")])])
    }

    func testLargeNestedBinaryValuesAndTheirLengthPrefixes() throws {
        struct Series: Codable, Equatable {
            var before: String
            var small: [Int64]
            var medium: [Int64]
            var large: [Int64]
            var after: String
        }
        let series = Series(
            before: "b", small: [1, 2], medium: Array(0..<100), large: (0..<20_000).map { Int64($0) * 3 },
            after: "a")
        let bytes = try encode(series)
        XCTAssertEqual(try decode(Series.self, bytes), series)
        // The BinaryCodable fast path stores [Int64] as varints: no per-element tags.
        var plain = BinaryWriter()
        plain.write(series.large)
        XCTAssertLessThan(bytes.count, plain.count + 400)
    }

    func testClassHierarchies() throws {
        let dog = try decode(Dog.self, encode(Dog(name: "Rex", tricks: ["sit", "roll"])))
        XCTAssertEqual(dog.name, "Rex")
        XCTAssertEqual(dog.tricks, ["sit", "roll"])
        let cat = try decode(Cat.self, encode(Cat(name: "Tom", lives: 9)))
        XCTAssertEqual(cat.name, "Tom")
        XCTAssertEqual(cat.lives, 9)
    }

    func testFieldsMayBeDecodedOutOfOrder() {
        assertRoundTrip(OutOfOrder(first: 1, second: "two", third: [3, 3, 3]))
    }

    func testValuesBackToBackInOneWriter() throws {
        var writer = BinaryWriter()
        let encoder = BinaryCodableEncoder()
        try encoder.encode(Self.makeOrder(), to: &writer)
        try encoder.encode(AccountV1(id: 1, name: "n", balance: 2), to: &writer)
        try encoder.encode(Int64(77), to: &writer)
        var reader = BinaryReader(writer.bytes)
        let decoder = BinaryCodableDecoder()
        XCTAssertEqual(try decoder.decode(Order.self, from: &reader), Self.makeOrder())
        // Decoding with a type that skips a field still lands on the next value.
        XCTAssertEqual(
            try decoder.decode(AccountFieldRemoved.self, from: &reader),
            AccountFieldRemoved(id: 1, balance: 2))
        XCTAssertEqual(try decoder.decode(Int64.self, from: &reader), 77)
        XCTAssertTrue(reader.isAtEnd)
    }

    // MARK: Schema changes

    private let account = AccountV1(id: 7, name: "Ada", balance: -300)

    func testCompatibleChangesDecode() throws {
        let bytes = try encode(account)
        XCTAssertEqual(
            try decode(AccountReordered.self, bytes), AccountReordered(balance: -300, name: "Ada", id: 7))
        XCTAssertEqual(try decode(AccountFieldRemoved.self, bytes), AccountFieldRemoved(id: 7, balance: -300))
        XCTAssertEqual(
            try decode(AccountOptionalAdded.self, bytes),
            AccountOptionalAdded(id: 7, name: "Ada", balance: -300, email: nil))
        XCTAssertEqual(try decode(AccountWidened.self, bytes), AccountWidened(id: 7, name: "Ada", balance: -300))
        XCTAssertEqual(try decode(AccountNarrowed.self, bytes).id, 7)
    }

    func testIncompatibleChangesAreTypeMismatches() throws {
        let bytes = try encode(account)
        assertCodecError(.typeMismatch, mentioning: "email", try decode(AccountRequiredAdded.self, bytes))
        assertCodecError(.typeMismatch, mentioning: "name", try decode(AccountTypeChanged.self, bytes))
        assertCodecError(.typeMismatch, mentioning: "fullName", try decode(AccountRenamed.self, bytes))
        assertCodecError(.typeMismatch, try decode([AccountV1].self, bytes))
        assertCodecError(.typeMismatch, try decode(String.self, bytes))
        assertCodecError(.typeMismatch, try decode(Shape.self, bytes))
        // A narrowed integer field whose stored value does not fit.
        let big = try encode(AccountV1(id: 1_000, name: "x", balance: 0))
        assertCodecError(.malformed, mentioning: "1000", try decode(AccountNarrowed.self, big))
    }

    func testEnumCaseChangesAreTypeMismatches() throws {
        XCTAssertNoThrow(try decode(ShapeV2.self, encode(Shape.point)))
        assertCodecError(.typeMismatch, try decode(ShapeV2.self, encode(Shape.rectangle(width: 1, height: 2))))
        assertCodecError(.typeMismatch, mentioning: "diameter", try decode(ShapeV2.self, encode(Shape.circle(radius: 1))))
        assertCodecError(.typeMismatch, try decode(Level.self, encode("medium")))
    }

    func testNestedTypeChangeNamesThePath() throws {
        struct Outer: Codable { var inner: [AccountV1] }
        struct OuterChanged: Codable { var inner: [AccountTypeChanged] }
        let bytes = try encode(Outer(inner: [account, account]))
        XCTAssertThrowsError(try decode(OuterChanged.self, bytes)) { error in
            let error = error as! CodecError
            XCTAssertEqual(error.code, .typeMismatch)
            XCTAssertTrue(error.message.contains("inner[0]"), error.message)
        }
    }

    func testBinaryCodableConformanceChangeIsDetected() throws {
        // Stored through the BinaryCodable fast path, read as a type without it.
        struct Stored: Codable { var values: [Int64] }
        struct Changed: Codable { var values: [AccountV1] }
        let bytes = try encode(Stored(values: [1, 2]))
        assertCodecError(.typeMismatch, try decode(Changed.self, bytes))
    }

    // MARK: Damaged input

    func testTruncationAtEveryOffsetThrowsCodecError() throws {
        let bytes = try encode(Self.makeOrder())
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try decode(Order.self, Array(bytes[..<length])), "prefix \(length)") { error in
                XCTAssertTrue(error is CodecError, "prefix \(length): \(error)")
            }
            var reader = BinaryReader(Array(bytes[..<length]))
            XCTAssertThrowsError(try BinaryCodableDecoder().decode(Order.self, from: &reader))
            XCTAssertEqual(reader.offset, 0, "a failed decode leaves the reader where it was")
        }
    }

    func testCorruptedBytesNeverTrap() throws {
        let valid = try encode(Self.makeOrder())
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<3_000 {
            var bytes = valid
            let index = Int.random(in: 0..<bytes.count, using: &generator)
            bytes[index] = UInt8.random(in: 0...255, using: &generator)
            do {
                _ = try decode(Order.self, bytes)
            } catch {
                XCTAssertTrue(error is CodecError, "\(error)")
            }
        }
    }

    func testDeepNestingIsRejectedNotOverflowingTheStack() {
        // An undeclared field holding 10,000 nested arrays: skipping it must not recurse
        // without bound.
        var bytes: [UInt8] = [8]  // top level: keyed
        bytes += [UInt8(1 << 4 | 9), 0x78]  // field "x", unkeyed
        bytes += [UInt8](repeating: 9, count: 10_000)  // nested unkeyed elements
        bytes += [UInt8](repeating: 15, count: 10_001)  // their ends
        bytes += [15]  // end of the top-level container
        assertCodecError(.malformed, mentioning: "nested", try decode(Address?.self, bytes))
        assertCodecError(.malformed, try decode([String: [Int]].self, bytes))
    }

    func testInvalidTagsAreMalformed() {
        assertCodecError(.malformed, try decode(Int.self, [0, 0]))  // unset tag
        assertCodecError(.malformed, try decode(Int.self, [12, 0]))  // unknown tag
        assertCodecError(.malformed, try decode(Int.self, [15]))  // end marker as a value
        assertCodecError(.truncated, try decode(Int.self, []))
        assertCodecError(.malformed, try decode(Int.self, [3, 2, 0]))  // trailing byte
    }

    // MARK: Encoding errors

    func testEncoderMisuseIsReportedAndLeavesTheWriterUnchanged() throws {
        var writer = BinaryWriter()
        writer.writeByte(0xAA)
        XCTAssertThrowsError(try BinaryCodableEncoder().encode(Interleaved(), to: &writer)) { error in
            XCTAssertEqual((error as? CodecError)?.code, .invalidValue, "\(error)")
        }
        XCTAssertThrowsError(try BinaryCodableEncoder().encode([Refuses()], to: &writer)) { error in
            XCTAssertEqual((error as? CodecError)?.code, .invalidValue, "\(error)")
        }
        XCTAssertEqual(writer.bytes, [0xAA])
    }

    func testUserInfoReachesTheValue() throws {
        struct Probe: Codable {
            static let key = CodingUserInfoKey(rawValue: "probe")!
            var seen: String
            init(seen: String) { self.seen = seen }
            init(from decoder: any Decoder) throws {
                seen = decoder.userInfo[Probe.key] as? String ?? "missing"
            }
            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                try container.encode(encoder.userInfo[Probe.key] as? String ?? "missing")
            }
        }
        let bytes = try BinaryCodableEncoder(userInfo: [Probe.key: "enc"]).encode(Probe(seen: ""))
        XCTAssertEqual(try decode(String.self, bytes), "enc")
        let probe = try BinaryCodableDecoder(userInfo: [Probe.key: "dec"]).decode(Probe.self, from: bytes)
        XCTAssertEqual(probe.seen, "dec")
    }
}
