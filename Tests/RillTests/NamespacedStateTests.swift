import Rill
import XCTest

/// A stand-in for a time window namespace.
struct StateTestWindow: Hashable {
    let start: Int64
    let end: Int64
}

final class NamespacedStateTests: XCTestCase {
    func testValueStatePerKeyAndNamespace() throws {
        let backend = try makeStateBackend(String.self)
        let state = try backend.getNamespacedState(ValueStateDescriptor<Int>(name: "v"), namespace: StateTestWindow.self)
        let w1 = StateTestWindow(start: 0, end: 10)
        let w2 = StateTestWindow(start: 10, end: 20)
        backend.setCurrentKey("a")
        state.setCurrentNamespace(w1)
        state.update(1)
        state.setCurrentNamespace(w2)
        XCTAssertNil(state.value())
        state.update(2)
        backend.setCurrentKey("b")
        state.setCurrentNamespace(w1)
        XCTAssertNil(state.value())
        state.update(3)
        backend.setCurrentKey("a")
        XCTAssertEqual(state.value(), 1)
        XCTAssertEqual(Set(state.namespaces()), [w1, w2])
        state.clear()
        XCTAssertNil(state.value())
        state.setCurrentNamespace(w2)
        XCTAssertEqual(state.value(), 2)
        state.clear()
        XCTAssertEqual(backend.liveKeyCount, 1, "key a has no window left")
        backend.setCurrentKey("b")
        state.setCurrentNamespace(w1)
        state.clear()
        XCTAssertEqual(backend.liveKeyCount, 0)
    }

    func testListMergeNamespaces() throws {
        let backend = try makeStateBackend(Int64.self)
        let state = try backend.getNamespacedListState(ListStateDescriptor<String>(name: "l"), namespace: StateTestWindow.self)
        let target = StateTestWindow(start: 0, end: 30)
        let s1 = StateTestWindow(start: 0, end: 10)
        let s2 = StateTestWindow(start: 5, end: 15)
        let s3 = StateTestWindow(start: 20, end: 30)
        backend.setCurrentKey(1)
        state.setCurrentNamespace(target)
        state.add("t")
        state.setCurrentNamespace(s1)
        state.addAll(["a", "b"])
        state.setCurrentNamespace(s2)
        state.add("c")
        state.mergeNamespaces(target: target, sources: [s1, s2, s3])
        state.setCurrentNamespace(target)
        XCTAssertEqual(state.get(), ["t", "a", "b", "c"])
        state.setCurrentNamespace(s1)
        XCTAssertEqual(state.get(), [])
        XCTAssertEqual(state.namespaces(), [target])
        state.setCurrentNamespace(target)
        state.update([])
        XCTAssertEqual(backend.liveKeyCount, 0)
    }

    func testMergeIntoATargetThatIsAlsoASource() throws {
        let backend = try makeStateBackend(Int64.self)
        let state = try backend.getNamespacedReducingState(
            ReducingStateDescriptor<Int>(name: "r", reduceFunction: +), namespace: Int.self)
        backend.setCurrentKey(1)
        state.setCurrentNamespace(1)
        try state.add(10)
        state.setCurrentNamespace(2)
        try state.add(5)
        try state.mergeNamespaces(target: 1, sources: [1, 2])
        state.setCurrentNamespace(1)
        XCTAssertEqual(state.get(), 15, "the target's value is counted once")
    }

    func testReducingMergeNamespaces() throws {
        let backend = try makeStateBackend(Int64.self)
        let state = try backend.getNamespacedReducingState(
            ReducingStateDescriptor<String>(name: "r", reduceFunction: { $0 + "|" + $1 }), namespace: Int.self)
        backend.setCurrentKey(1)
        for (namespace, value) in [(1, "a"), (2, "b"), (3, "c")] {
            state.setCurrentNamespace(namespace)
            try state.add(value)
        }
        state.setCurrentNamespace(1)
        try state.add("a2")
        XCTAssertEqual(state.get(), "a|a2")
        try state.mergeNamespaces(target: 1, sources: [2, 3, 9])
        XCTAssertEqual(state.get(), "a|a2|b|c", "target = reduce(target, reduce(s1, s2))")
        state.setCurrentNamespace(2)
        XCTAssertNil(state.get())
        try state.mergeNamespaces(target: 7, sources: [1])
        state.setCurrentNamespace(7)
        XCTAssertEqual(state.get(), "a|a2|b|c", "merging into an empty target moves the value")
        state.clear()
        XCTAssertEqual(backend.liveKeyCount, 0)
    }

    func testAggregatingMergeNamespaces() throws {
        let backend = try makeStateBackend(Int64.self)
        let state = try backend.getNamespacedAggregatingState(
            AggregatingStateDescriptor(name: "a", aggregateFunction: StateTestAverage()), namespace: StateTestWindow.self)
        let w1 = StateTestWindow(start: 0, end: 10)
        let w2 = StateTestWindow(start: 5, end: 15)
        let merged = StateTestWindow(start: 0, end: 15)
        backend.setCurrentKey(3)
        state.setCurrentNamespace(w1)
        state.add(1)
        state.add(2)
        state.setCurrentNamespace(w2)
        state.add(9)
        XCTAssertEqual(state.get(), 9)
        state.mergeNamespaces(target: merged, sources: [w1, w2])
        state.setCurrentNamespace(merged)
        XCTAssertEqual(state.get(), 4)
        XCTAssertEqual(state.accumulator()?.count, 3)
        state.setCurrentNamespace(w1)
        XCTAssertNil(state.get())
    }

    func testMapStatePerNamespace() throws {
        let backend = try makeStateBackend(Int64.self)
        let state = try backend.getNamespacedMapState(MapStateDescriptor<String, Int>(name: "m"), namespace: Int.self)
        backend.setCurrentKey(1)
        state.setCurrentNamespace(1)
        state.put("a", 1)
        state.putAll(["b": 2])
        state.setCurrentNamespace(2)
        XCTAssertTrue(state.isEmpty())
        state.put("a", 10)
        XCTAssertEqual(state.entries(), ["a": 10])
        state.setCurrentNamespace(1)
        XCTAssertEqual(state.get("b"), 2)
        XCTAssertTrue(state.contains("a"))
        state.remove("a")
        state.remove("b")
        XCTAssertTrue(state.isEmpty())
        XCTAssertEqual(backend.liveKeyCount, 1)
        state.setCurrentNamespace(2)
        state.clear()
        XCTAssertEqual(backend.liveKeyCount, 0)
    }

    func testNamespacedStateRejectsTTL() throws {
        let backend = try makeStateBackend(Int64.self)
        XCTAssertThrowsError(
            try backend.getNamespacedListState(
                ListStateDescriptor<Int>(name: "l", ttl: StateTTLConfig(ttl: .seconds(1))), namespace: Int.self)
        ) { XCTAssertEqual(($0 as? StateError)?.code, .invalidTTL) }
    }

    func testNamespacedAndPlainStatesShareKeyLifetime() throws {
        let backend = try makeStateBackend(Int64.self)
        let plain = try backend.getState(ValueStateDescriptor<Int>(name: "plain"))
        let windowed = try backend.getNamespacedListState(ListStateDescriptor<Int>(name: "w"), namespace: Int.self)
        backend.setCurrentKey(5)
        plain.update(1)
        windowed.setCurrentNamespace(0)
        windowed.add(1)
        plain.clear()
        XCTAssertEqual(backend.liveKeyCount, 1)
        backend.setCurrentKey(6)
        backend.setCurrentKey(5)
        XCTAssertEqual(windowed.get(), [1])
        windowed.clear()
        XCTAssertEqual(backend.liveKeyCount, 0)
    }
}
