import Rill
import XCTest

/// Key hashing and key-group arithmetic must match Flink bit for bit, in every process.
/// The expected numbers were derived by hand from Flink's formulas (Java `hashCode`, then
/// `MathUtils.murmurHash`, then `% maxParallelism`) and cross-checked against published
/// Murmur3 vectors (murmur3_32 of int 0 = 593689054, of 42 = -1134849565).
final class KeyGroupAssignmentTests: XCTestCase {
    func testMurmurHashMatchesFlink() {
        XCTAssertEqual(KeyGroupRangeAssignment.murmurHash(0), 593_689_054)
        XCTAssertEqual(KeyGroupRangeAssignment.murmurHash(1), 68_075_478)
        XCTAssertEqual(KeyGroupRangeAssignment.murmurHash(2), 1_085_422_463)
        XCTAssertEqual(KeyGroupRangeAssignment.murmurHash(3), 847_579_505)
        XCTAssertEqual(KeyGroupRangeAssignment.murmurHash(42), 1_134_849_565)
        XCTAssertEqual(KeyGroupRangeAssignment.murmurHash(-1), 1_982_413_648)
        XCTAssertEqual(KeyGroupRangeAssignment.murmurHash(.max), 1_653_689_534)
        XCTAssertEqual(KeyGroupRangeAssignment.murmurHash(.min), 1_718_298_732)
        XCTAssertEqual(KeyGroupRangeAssignment.bitMix(0), 0)
    }

    func testJavaHashCodes() {
        XCTAssertEqual(Int32(-7).stableHashCode, -7)
        XCTAssertEqual(Int16(-7).stableHashCode, -7)
        XCTAssertEqual(Int8(-7).stableHashCode, -7)
        XCTAssertEqual(UInt8(200).stableHashCode, 200)
        XCTAssertEqual(UInt32.max.stableHashCode, -1)
        XCTAssertEqual(Int64(0).stableHashCode, 0)
        XCTAssertEqual(Int64(-1).stableHashCode, 0)
        XCTAssertEqual(Int64(1 << 32).stableHashCode, 1)
        XCTAssertEqual(Int64(123_456_789_012).stableHashCode, -1_097_262_584)
        XCTAssertEqual(Int64(-123_456_789_012).stableHashCode, -1_097_262_577)
        XCTAssertEqual(Int64.max.stableHashCode, .min)
        XCTAssertEqual(Int(123_456_789_012).stableHashCode, -1_097_262_584)
        XCTAssertEqual(true.stableHashCode, 1231)
        XCTAssertEqual(false.stableHashCode, 1237)
        XCTAssertEqual((0.0 as Double).stableHashCode, 0)
        XCTAssertEqual((-0.0 as Double).stableHashCode, .min)
        XCTAssertEqual((1.0 as Double).stableHashCode, 1_072_693_248)
        XCTAssertEqual((-2.25 as Double).stableHashCode, -1_073_610_752)
        XCTAssertEqual(Double.nan.stableHashCode, 2_146_959_360)
        XCTAssertEqual((-Double.nan).stableHashCode, 2_146_959_360, "every NaN hashes like Java's canonical NaN")
        XCTAssertEqual(Double.infinity.stableHashCode, 2_146_435_072)
        XCTAssertEqual((1.5 as Float).stableHashCode, 1_069_547_520)
        XCTAssertEqual(Float.nan.stableHashCode, 2_143_289_344)
        XCTAssertEqual("".stableHashCode, 0)
        XCTAssertEqual("a".stableHashCode, 97)
        XCTAssertEqual("hello".stableHashCode, 99_162_322)
        XCTAssertEqual("Hello, World!".stableHashCode, 1_498_789_909)
        XCTAssertEqual("héllo".stableHashCode, 103_094_734)
        XCTAssertEqual("日本".stableHashCode, 835_047)
        XCTAssertEqual("😀".stableHashCode, 1_772_899, "a surrogate pair hashes as two UTF-16 code units")
        XCTAssertEqual("xhello".dropFirst().stableHashCode, 99_162_322)
        XCTAssertEqual([Int32(1), 2, 3].stableHashCode, 30817)
        XCTAssertEqual([Int32]().stableHashCode, 1)
        XCTAssertEqual((nil as Int32?).stableHashCode, 0)
        XCTAssertEqual((5 as Int32?).stableHashCode, 5)
    }

    func testLongStringHashMatchesBothPaths() {
        // A bridged/non-contiguous string takes the UTF-16 path; it must agree with the
        // ASCII fast path.
        let ascii = String(repeating: "abcXYZ09", count: 100)
        var expected: Int32 = 0
        for unit in ascii.utf16 { expected = 31 &* expected &+ Int32(unit) }
        XCTAssertEqual(ascii.stableHashCode, expected)
    }

    func testKeyGroupsArePinned() {
        let assign = KeyGroupRangeAssignment.self
        XCTAssertEqual(assign.assignToKeyGroup(Int32(0), maxParallelism: 128), 94)
        XCTAssertEqual(assign.assignToKeyGroup(Int32(1), maxParallelism: 128), 86)
        XCTAssertEqual(assign.assignToKeyGroup(Int32(2), maxParallelism: 128), 127)
        XCTAssertEqual(assign.assignToKeyGroup(Int32(3), maxParallelism: 128), 113)
        XCTAssertEqual(assign.assignToKeyGroup(Int64(1), maxParallelism: 128), 86, "Long 1 and Integer 1 share a hash")
        XCTAssertEqual(assign.assignToKeyGroup(Int64(123_456_789_012), maxParallelism: 128), 123)
        XCTAssertEqual(assign.assignToKeyGroup(Int64(1000), maxParallelism: 4096), 135)
        XCTAssertEqual(assign.assignToKeyGroup("user-42", maxParallelism: 128), 20)
        XCTAssertEqual(assign.assignToKeyGroup("Flink", maxParallelism: 128), 127)
        XCTAssertEqual(assign.assignToKeyGroup("hello", maxParallelism: 128), 35)
        XCTAssertEqual(assign.assignToKeyGroup("", maxParallelism: 128), 94)
        XCTAssertEqual(assign.assignToKeyGroup("héllo", maxParallelism: 128), 18)
        XCTAssertEqual(assign.assignKeyToParallelOperator("Flink", maxParallelism: 128, parallelism: 4), 3)
        XCTAssertEqual(assign.assignKeyToParallelOperator("user-42", maxParallelism: 128, parallelism: 4), 0)
    }

    func testBackendComputesTheSameKeyGroups() throws {
        let backend = try KeyedStateBackend<String>(
            maxParallelism: 128, keyGroupRange: .all(maxParallelism: 128), clock: ManualClock())
        backend.setCurrentKey("user-42")
        XCTAssertEqual(backend.currentKeyGroup, 20)
        XCTAssertEqual(backend.currentKey, "user-42")
        backend.setCurrentKey("Flink")
        XCTAssertEqual(backend.currentKeyGroup, 127)
        let odd = try KeyedStateBackend<Int64>(
            maxParallelism: 4096, keyGroupRange: .all(maxParallelism: 4096), clock: ManualClock())
        odd.setCurrentKey(1000)
        XCTAssertEqual(odd.currentKeyGroup, 135)
        // The fast modulo agrees with `%` for many hashes and a non-power-of-two max parallelism.
        let seven = try KeyedStateBackend<Int32>(
            maxParallelism: 7, keyGroupRange: .all(maxParallelism: 7), clock: ManualClock())
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<10_000 {
            let key = Int32(truncatingIfNeeded: generator.next())
            seven.setCurrentKey(key)
            XCTAssertEqual(seven.currentKeyGroup, Int(KeyGroupRangeAssignment.murmurHash(key)) % 7)
        }
    }

    func testRangeFormulaPinned() throws {
        let ranges = try (0..<3).map {
            try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                maxParallelism: 128, parallelism: 3, operatorIndex: $0)
        }
        XCTAssertEqual(ranges, [
            KeyGroupRange(start: 0, end: 42), KeyGroupRange(start: 43, end: 85), KeyGroupRange(start: 86, end: 127),
        ])
        XCTAssertEqual(ranges[1].count, 43)
        XCTAssertEqual(Array(KeyGroupRange(start: 3, end: 5)), [3, 4, 5])
        XCTAssertTrue(ranges[1].contains(43))
        XCTAssertFalse(ranges[1].contains(86))
        XCTAssertEqual(ranges[0].intersection(KeyGroupRange(start: 40, end: 50)), KeyGroupRange(start: 40, end: 42))
        XCTAssertTrue(ranges[0].intersection(ranges[2]).isEmpty)
        XCTAssertEqual(KeyGroupRange.empty.count, 0)
    }

    func testRangesPartitionKeyGroupsForParallelism1To7() throws {
        for parallelism in 1...7 {
            var next = 0
            for index in 0..<parallelism {
                let range = try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                    maxParallelism: 128, parallelism: parallelism, operatorIndex: index)
                XCTAssertEqual(range.start, next, "parallelism \(parallelism) subtask \(index) starts where the previous ended")
                XCTAssertFalse(range.isEmpty)
                for keyGroup in range {
                    XCTAssertEqual(
                        KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup(
                            maxParallelism: 128, parallelism: parallelism, keyGroup: keyGroup),
                        index)
                }
                next = range.end + 1
            }
            XCTAssertEqual(next, 128, "parallelism \(parallelism) covers 0...127")
        }
    }

    func testDefaultMaxParallelismAndChecks() throws {
        XCTAssertEqual(try KeyGroupRangeAssignment.computeDefaultMaxParallelism(operatorParallelism: 1), 128)
        XCTAssertEqual(try KeyGroupRangeAssignment.computeDefaultMaxParallelism(operatorParallelism: 100), 256)
        XCTAssertEqual(try KeyGroupRangeAssignment.computeDefaultMaxParallelism(operatorParallelism: 1000), 2048)
        XCTAssertEqual(try KeyGroupRangeAssignment.computeDefaultMaxParallelism(operatorParallelism: 30000), 32768)
        XCTAssertThrowsError(try KeyGroupRangeAssignment.checkMaxParallelism(0)) {
            XCTAssertEqual(($0 as? StateError)?.code, .invalidMaxParallelism)
        }
        XCTAssertThrowsError(try KeyGroupRangeAssignment.checkMaxParallelism(32769))
        XCTAssertNoThrow(try KeyGroupRangeAssignment.checkMaxParallelism(32768))
        XCTAssertThrowsError(
            try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                maxParallelism: 4, parallelism: 5, operatorIndex: 0)
        ) { XCTAssertEqual(($0 as? StateError)?.code, .invalidParallelism) }
        XCTAssertThrowsError(
            try KeyedStateBackend<Int64>(
                maxParallelism: 128, keyGroupRange: KeyGroupRange(start: 100, end: 200), clock: ManualClock())
        ) { XCTAssertEqual(($0 as? StateError)?.code, .invalidKeyGroupRange) }
        XCTAssertThrowsError(
            try KeyedStateBackend<Int64>(maxParallelism: 0, keyGroupRange: .empty, clock: ManualClock()))
    }
}

