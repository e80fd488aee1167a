import Rill
import XCTest

final class OperatorStateTests: XCTestCase {
    func testListStateBasics() throws {
        let store = OperatorStateStore()
        let offsets = try store.listState(name: "offsets", of: Int64.self)
        XCTAssertEqual(offsets.get(), [])
        offsets.add(1)
        offsets.addAll([2, 3])
        XCTAssertEqual(offsets.get(), [1, 2, 3])
        offsets.update([9])
        XCTAssertEqual(offsets.get(), [9])
        XCTAssertTrue(try store.listState(name: "offsets", of: Int64.self) === offsets)
        XCTAssertEqual(offsets.distribution, .splitDistribute)
        offsets.clear()
        XCTAssertEqual(offsets.get(), [])
    }

    func testNameClashesThrow() throws {
        let store = OperatorStateStore()
        _ = try store.listState(name: "s", of: Int.self)
        XCTAssertThrowsError(try store.listState(name: "s", of: String.self)) {
            XCTAssertEqual(($0 as? StateError)?.code, .stateTypeMismatch)
        }
        XCTAssertThrowsError(try store.unionListState(name: "s", of: Int.self)) {
            XCTAssertEqual(($0 as? StateError)?.code, .stateTypeMismatch)
        }
        XCTAssertThrowsError(try store.broadcastState(name: "s", keyType: String.self, valueType: Int.self))
        try store.restoreListState(name: "r", distribution: .union, entries: ["x"])
        XCTAssertThrowsError(try store.listState(name: "r", of: String.self), "restored as union, asked as split")
        XCTAssertEqual(try store.unionListState(name: "r", of: String.self).get(), ["x"])
    }

    func testSplitDistributeFollowsFlinkRoundRobin() {
        // 7 entries over 3 subtasks: chunks of 3, 2, 2 in order.
        XCTAssertEqual(
            OperatorStateRedistribution.splitDistribute([[1, 2, 3, 4], [5, 6, 7]], newParallelism: 3),
            [[1, 2, 3], [4, 5], [6, 7]])
        XCTAssertEqual(
            OperatorStateRedistribution.splitDistribute([[1, 2, 3, 4], [5, 6, 7]], newParallelism: 3, startIndex: 1),
            [[6, 7], [1, 2, 3], [4, 5]])
        XCTAssertEqual(OperatorStateRedistribution.splitDistribute([[1]], newParallelism: 3), [[1], [], []])
        XCTAssertEqual(
            OperatorStateRedistribution.union([[1, 2], [3]], newParallelism: 2), [[1, 2, 3], [1, 2, 3]])
        XCTAssertEqual(
            OperatorStateRedistribution.broadcast([["a": 1], ["a": 1]], newParallelism: 3), [["a": 1], ["a": 1], ["a": 1]])
    }

    /// Parallelism 1 → 3 → 2 through snapshot, redistribution and restore.
    func testRescaleOneToThreeToTwo() throws {
        // Parallelism 1.
        let single = OperatorStateStore()
        let splits = try single.listState(name: "splits", of: String.self)
        let seen = try single.unionListState(name: "seen", of: Int.self)
        let rules = try single.broadcastState(name: "rules", keyType: String.self, valueType: Int.self)
        splits.addAll(["s0", "s1", "s2", "s3", "s4", "s5", "s6"])
        seen.addAll([1, 2])
        rules.putAll(["max": 10, "min": 1])

        // → parallelism 3.
        let three = try rescale([single], to: 3)
        let splitsAt3 = try three.map { try $0.listState(name: "splits", of: String.self).get() }
        XCTAssertEqual(splitsAt3, [["s0", "s1", "s2"], ["s3", "s4"], ["s5", "s6"]])
        for store in three {
            XCTAssertEqual(try store.unionListState(name: "seen", of: Int.self).get(), [1, 2])
            XCTAssertEqual(
                try store.broadcastState(name: "rules", keyType: String.self, valueType: Int.self).entries(),
                ["max": 10, "min": 1])
        }
        // Each subtask adds to its union state before the next checkpoint.
        for (index, store) in three.enumerated() {
            try store.unionListState(name: "seen", of: Int.self).add(100 + index)
        }

        // → parallelism 2.
        let two = try rescale(three, to: 2)
        let splitsAt2 = try two.map { try $0.listState(name: "splits", of: String.self).get() }
        XCTAssertEqual(splitsAt2, [["s0", "s1", "s2", "s3"], ["s4", "s5", "s6"]])
        XCTAssertEqual(splitsAt2.flatMap { $0 }.sorted(), splits.get().sorted(), "nothing lost or duplicated")
        for store in two {
            XCTAssertEqual(
                try store.unionListState(name: "seen", of: Int.self).get(), [1, 2, 100, 1, 2, 101, 1, 2, 102])
            let readOnly = try store.broadcastState(name: "rules", keyType: String.self, valueType: Int.self).readOnly
            XCTAssertEqual(readOnly.get("max"), 10)
            XCTAssertTrue(readOnly.contains("min"))
            XCTAssertEqual(readOnly.name, "rules")
        }
    }

    /// Snapshot every subtask's states, redistribute per mode, restore into fresh stores.
    func rescale(_ stores: [OperatorStateStore], to parallelism: Int) throws -> [OperatorStateStore] {
        let splits = try stores.map { try $0.listState(name: "splits", of: String.self).get() }
        let seen = try stores.map { try $0.unionListState(name: "seen", of: Int.self).get() }
        let rules = try stores.map {
            try $0.broadcastState(name: "rules", keyType: String.self, valueType: Int.self).entries()
        }
        let newSplits = OperatorStateRedistribution.redistribute(
            splits, distribution: .splitDistribute, newParallelism: parallelism)
        let newSeen = OperatorStateRedistribution.redistribute(seen, distribution: .union, newParallelism: parallelism)
        let newRules = OperatorStateRedistribution.broadcast(rules, newParallelism: parallelism)
        return try (0..<parallelism).map { index in
            let store = OperatorStateStore()
            try store.restoreListState(name: "splits", distribution: .splitDistribute, entries: newSplits[index])
            try store.restoreListState(name: "seen", distribution: .union, entries: newSeen[index])
            try store.restoreBroadcastState(name: "rules", entries: newRules[index])
            return store
        }
    }

    func testBroadcastState() throws {
        let store = OperatorStateStore()
        let state = try store.broadcastState(name: "b", keyType: String.self, valueType: Int.self)
        XCTAssertTrue(state.isEmpty())
        state.put("a", 1)
        state.putAll(["b": 2])
        XCTAssertEqual(state.get("a"), 1)
        XCTAssertEqual(Set(state.keys()), ["a", "b"])
        state.remove("a")
        XCTAssertFalse(state.contains("a"))
        XCTAssertEqual(state.readOnly.entries(), ["b": 2])
        state.clear()
        XCTAssertTrue(state.readOnly.isEmpty())
        XCTAssertEqual(store.registeredStates.map(\.name), ["b"])
    }
}
