import Rill
import XCTest

struct StateTestAverage: AggregateFunction {
    func createAccumulator() -> (sum: Int64, count: Int64) { (0, 0) }
    func add(_ value: Int64, to accumulator: (sum: Int64, count: Int64)) -> (sum: Int64, count: Int64) {
        (accumulator.sum + value, accumulator.count + 1)
    }
    func getResult(_ accumulator: (sum: Int64, count: Int64)) -> Double {
        Double(accumulator.sum) / Double(accumulator.count)
    }
    func merge(_ a: (sum: Int64, count: Int64), _ b: (sum: Int64, count: Int64)) -> (sum: Int64, count: Int64) {
        (a.sum + b.sum, a.count + b.count)
    }
}

struct StateTestFailure: Error {}

func makeStateBackend<K: StableHashable>(
    _ type: K.Type = K.self, clock: ManualClock = ManualClock(), range: KeyGroupRange = .all(maxParallelism: 128)
) throws -> KeyedStateBackend<K> {
    try KeyedStateBackend<K>(maxParallelism: 128, keyGroupRange: range, clock: clock)
}

final class KeyedStateTests: XCTestCase {
    func testValueStateIsPerKey() throws {
        let backend = try makeStateBackend(String.self)
        let state = try backend.getState(ValueStateDescriptor<Int>(name: "count"))
        backend.setCurrentKey("a")
        XCTAssertNil(state.value())
        state.update(1)
        backend.setCurrentKey("b")
        XCTAssertNil(state.value())
        state.update(10)
        backend.setCurrentKey("a")
        XCTAssertEqual(state.value(), 1)
        state.update(2)
        XCTAssertEqual(state.value(), 2)
        XCTAssertEqual(backend.liveKeyCount, 2)
        state.clear()
        XCTAssertNil(state.value())
        state.clear()
        backend.setCurrentKey("b")
        XCTAssertEqual(state.value(), 10)
        XCTAssertEqual(backend.liveKeyCount, 1)
        XCTAssertEqual(state.name, "count")
    }

    func testReadingAnUnknownKeyAllocatesNothing() throws {
        let backend = try makeStateBackend(Int64.self)
        let state = try backend.getState(ValueStateDescriptor<Int64>(name: "v"))
        let list = try backend.getListState(ListStateDescriptor<Int64>(name: "l"))
        for key in Int64(0)..<1000 {
            backend.setCurrentKey(key)
            XCTAssertNil(state.value())
            XCTAssertEqual(list.get(), [])
            state.clear()
            list.clear()
        }
        XCTAssertEqual(backend.liveKeyCount, 0)
    }

    func testListState() throws {
        let backend = try makeStateBackend(Int64.self)
        let state = try backend.getListState(ListStateDescriptor<String>(name: "events"))
        backend.setCurrentKey(1)
        XCTAssertEqual(state.get(), [])
        state.add("a")
        state.addAll(["b", "c"])
        state.addAll([String]())
        XCTAssertEqual(state.get(), ["a", "b", "c"])
        backend.setCurrentKey(2)
        state.update(["x"])
        XCTAssertEqual(state.get(), ["x"])
        backend.setCurrentKey(1)
        state.update(["z", "y"])
        XCTAssertEqual(state.get(), ["z", "y"])
        state.update([])
        XCTAssertEqual(state.get(), [])
        XCTAssertEqual(backend.liveKeyCount, 1)
        backend.setCurrentKey(2)
        state.clear()
        XCTAssertEqual(backend.liveKeyCount, 0)
    }

    func testMapState() throws {
        let backend = try makeStateBackend(Int64.self)
        let state = try backend.getMapState(MapStateDescriptor<String, Int>(name: "m"))
        backend.setCurrentKey(7)
        XCTAssertTrue(state.isEmpty())
        XCTAssertNil(state.get("a"))
        state.put("a", 1)
        state.putAll(["b": 2, "c": 3])
        XCTAssertEqual(state.get("b"), 2)
        XCTAssertTrue(state.contains("c"))
        XCTAssertFalse(state.contains("d"))
        XCTAssertEqual(state.entries(), ["a": 1, "b": 2, "c": 3])
        XCTAssertEqual(Set(state.keys()), ["a", "b", "c"])
        XCTAssertEqual(state.values().sorted(), [1, 2, 3])
        XCTAssertFalse(state.isEmpty())
        state.remove("b")
        state.remove("nope")
        XCTAssertEqual(state.entries(), ["a": 1, "c": 3])
        backend.setCurrentKey(8)
        XCTAssertTrue(state.isEmpty())
        backend.setCurrentKey(7)
        state.remove("a")
        state.remove("c")
        XCTAssertTrue(state.isEmpty())
        XCTAssertEqual(backend.liveKeyCount, 0, "removing the last entry releases the key")
        state.put("q", 9)
        state.clear()
        XCTAssertEqual(backend.liveKeyCount, 0)
    }

    func testReducingState() throws {
        let backend = try makeStateBackend(Int64.self)
        let state = try backend.getReducingState(ReducingStateDescriptor<Int64>(name: "sum", reduceFunction: +))
        backend.setCurrentKey(1)
        XCTAssertNil(state.get())
        try state.add(5)
        try state.add(7)
        XCTAssertEqual(state.get(), 12)
        backend.setCurrentKey(2)
        try state.add(1)
        XCTAssertEqual(state.get(), 1)
        state.clear()
        XCTAssertNil(state.get())
        backend.setCurrentKey(1)
        XCTAssertEqual(state.get(), 12)

        let failing = try backend.getReducingState(
            ReducingStateDescriptor<Int64>(name: "failing", reduceFunction: { _, _ in throw StateTestFailure() }))
        try failing.add(3)
        XCTAssertThrowsError(try failing.add(4))
        XCTAssertEqual(failing.get(), 3, "a throwing reduce leaves the state unchanged")
    }

    func testAggregatingState() throws {
        let backend = try makeStateBackend(Int64.self)
        let state = try backend.getAggregatingState(AggregatingStateDescriptor(name: "avg", aggregateFunction: StateTestAverage()))
        backend.setCurrentKey(1)
        XCTAssertNil(state.get())
        state.add(1)
        state.add(2)
        XCTAssertEqual(state.get(), 1.5)
        backend.setCurrentKey(2)
        state.add(10)
        XCTAssertEqual(state.get(), 10)
        state.clear()
        XCTAssertNil(state.get())
        XCTAssertEqual(backend.liveKeyCount, 1)
    }

    func testSameNameReturnsSameInstanceAndMismatchThrows() throws {
        let backend = try makeStateBackend(Int64.self)
        let first = try backend.getState(ValueStateDescriptor<Int64>(name: "s"))
        let second = try backend.getState(ValueStateDescriptor<Int64>(name: "s"))
        XCTAssertTrue(first === second)

        XCTAssertThrowsError(try backend.getState(ValueStateDescriptor<String>(name: "s"))) { error in
            let stateError = error as? StateError
            XCTAssertEqual(stateError?.code, .stateTypeMismatch)
            XCTAssertTrue(stateError?.message.contains("ValueState<Int64>") ?? false, "\(error)")
            XCTAssertTrue(stateError?.message.contains("ValueState<String>") ?? false, "\(error)")
        }
        XCTAssertThrowsError(try backend.getListState(ListStateDescriptor<Int64>(name: "s"))) {
            XCTAssertEqual(($0 as? StateError)?.code, .stateTypeMismatch)
        }
        XCTAssertThrowsError(
            try backend.getState(ValueStateDescriptor<Int64>(name: "s", ttl: StateTTLConfig(ttl: .seconds(1))))
        ) { XCTAssertEqual(($0 as? StateError)?.code, .stateTypeMismatch) }
        XCTAssertThrowsError(
            try backend.getNamespacedState(ValueStateDescriptor<Int64>(name: "s"), namespace: Int.self)
        ) { XCTAssertEqual(($0 as? StateError)?.code, .stateTypeMismatch) }
        XCTAssertThrowsError(
            try backend.getState(ValueStateDescriptor<Int64>(name: "zero", ttl: StateTTLConfig(ttl: .zero)))
        ) { XCTAssertEqual(($0 as? StateError)?.code, .invalidTTL) }
        XCTAssertEqual(backend.registeredStateNames, ["s"])
    }

    func testSlotsAreRecycledAndMemoryStaysBounded() throws {
        let backend = try makeStateBackend(Int64.self)
        let value = try backend.getState(ValueStateDescriptor<Int64>(name: "v"))
        let list = try backend.getListState(ListStateDescriptor<Int64>(name: "l"))
        let map = try backend.getMapState(MapStateDescriptor<Int64, Int64>(name: "m"))
        for round in Int64(0)..<5 {
            for key in Int64(0)..<2000 {
                backend.setCurrentKey(key + round * 10_000)
                value.update(key)
                list.add(key)
                map.put(key, key)
            }
            XCTAssertEqual(backend.liveKeyCount, 2000)
            for key in Int64(0)..<2000 {
                backend.setCurrentKey(key + round * 10_000)
                value.clear()
                XCTAssertEqual(backend.liveKeyCount, 2000 - Int(key), "the key stays while the list and map hold values")
                list.clear()
                map.remove(key)
            }
            XCTAssertEqual(backend.liveKeyCount, 0)
            for keyGroup in 0..<128 { XCTAssertEqual(backend.keyCount(inKeyGroup: keyGroup), 0) }
        }
        backend.setCurrentKey(3)
        XCTAssertNil(value.value())
        XCTAssertEqual(list.get(), [])
    }

    /// Random writes and clears against a Dictionary model exercise the index's insertion,
    /// growth and backward-shift deletion.
    func testRandomOperationsMatchADictionaryModel() throws {
        let backend = try makeStateBackend(Int64.self)
        let state = try backend.getState(ValueStateDescriptor<Int64>(name: "v"))
        var model: [Int64: Int64] = [:]
        var generator = SeededGenerator(seed: 42)
        for step in 0..<200_000 {
            let key = Int64(generator.next() % 3000) - 1500
            backend.setCurrentKey(key)
            XCTAssertEqual(state.value(), model[key])
            if generator.next() % 3 == 0 {
                state.clear()
                model[key] = nil
            } else {
                state.update(Int64(step))
                model[key] = Int64(step)
            }
        }
        XCTAssertEqual(backend.liveKeyCount, model.count)
        for (key, expected) in model {
            backend.setCurrentKey(key)
            XCTAssertEqual(state.value(), expected)
        }
        let enumerated = (0..<128).flatMap { backend.keys(inKeyGroup: $0) }
        XCTAssertEqual(Set(enumerated), Set(model.keys))
        XCTAssertEqual(enumerated.count, model.count)
    }

    func testStringKeys() throws {
        let backend = try makeStateBackend(String.self)
        let state = try backend.getState(ValueStateDescriptor<String>(name: "v"))
        for index in 0..<5000 {
            backend.setCurrentKey("key-\(index)")
            state.update("value-\(index)")
        }
        for index in stride(from: 0, to: 5000, by: 2) {
            backend.setCurrentKey("key-\(index)")
            state.clear()
        }
        XCTAssertEqual(backend.liveKeyCount, 2500)
        for index in 0..<5000 {
            backend.setCurrentKey("key-\(index)")
            XCTAssertEqual(state.value(), index % 2 == 0 ? nil : "value-\(index)")
        }
    }

    func testDirtyKeyGroups() throws {
        let backend = try makeStateBackend(String.self)
        let state = try backend.getState(ValueStateDescriptor<Int>(name: "v"))
        XCTAssertEqual(backend.dirtyKeyGroups, [])
        backend.setCurrentKey("user-42")  // key group 20
        state.update(1)
        backend.setCurrentKey("Flink")  // key group 127
        state.update(1)
        XCTAssertEqual(backend.dirtyKeyGroups, [20, 127])
        backend.clearDirtyKeyGroups()
        XCTAssertEqual(backend.dirtyKeyGroups, [])
        _ = state.value()
        backend.setCurrentKey("hello")  // key group 35
        _ = state.value()
        state.clear()
        XCTAssertEqual(backend.dirtyKeyGroups, [], "reads and no-op clears modify nothing")
        backend.setCurrentKey("Flink")
        state.clear()
        XCTAssertEqual(backend.dirtyKeyGroups, [127], "removing a key dirties its group")
    }

    func testKeysOutsideTheRangeAreRejectedAndDropped() throws {
        let range = try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
            maxParallelism: 128, parallelism: 4, operatorIndex: 0)  // 0...31
        let backend = try makeStateBackend(String.self, range: range)
        XCTAssertTrue(backend.owns("user-42"))  // 20
        XCTAssertFalse(backend.owns("Flink"))  // 127
        let state = try backend.getState(ValueStateDescriptor<Int>(name: "v"))
        XCTAssertTrue(backend.restore(TTLValue(value: 1), into: state, forKey: "user-42"))
        XCTAssertFalse(backend.restore(TTLValue(value: 2), into: state, forKey: "Flink"))
        XCTAssertEqual(backend.liveKeyCount, 1)
        XCTAssertEqual(backend.keys(inKeyGroup: 20), ["user-42"])
        XCTAssertEqual(backend.keys(inKeyGroup: 127), [])
    }
}
