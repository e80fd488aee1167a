import Rill
import XCTest

/// The hooks the checkpointing layer builds on: enumerate per key group, read typed entries,
/// restore into a backend with another key-group range (rescaling), dirty tracking.
final class KeyedStateSnapshotHookTests: XCTestCase {
    func testEnumerateAndRestoreAcrossRescale() throws {
        let clock = ManualClock(startMillis: 500)
        let source = try makeStateBackend(Int64.self, clock: clock)
        let value = try source.getState(ValueStateDescriptor<Int64>(name: "v", ttl: StateTTLConfig(ttl: .seconds(10))))
        let list = try source.getListState(ListStateDescriptor<String>(name: "l"))
        let map = try source.getMapState(MapStateDescriptor<String, Int>(name: "m"))
        let sum = try source.getReducingState(ReducingStateDescriptor<Int64>(name: "r", reduceFunction: +))
        let average = try source.getAggregatingState(AggregatingStateDescriptor(name: "a", aggregateFunction: StateTestAverage()))
        let windows = try source.getNamespacedListState(ListStateDescriptor<Int64>(name: "w"), namespace: Int.self)
        for key in Int64(0)..<300 {
            source.setCurrentKey(key)
            value.update(key * 10)
            if key % 2 == 0 { list.addAll(["a\(key)", "b\(key)"]) }
            if key % 3 == 0 { map.put("k", Int(key)) }
            try sum.add(key)
            average.add(key)
            windows.setCurrentNamespace(Int(key % 4))
            windows.add(key)
        }

        // Keys per key group agree with the key-group assignment.
        var total = 0
        for keyGroup in 0..<128 {
            let keys = source.keys(inKeyGroup: keyGroup)
            total += keys.count
            XCTAssertEqual(source.keyCount(inKeyGroup: keyGroup), keys.count)
            for key in keys {
                XCTAssertEqual(KeyGroupRangeAssignment.assignToKeyGroup(key, maxParallelism: 128), keyGroup)
            }
        }
        XCTAssertEqual(total, 300)

        // Restore into the two subtasks of parallelism 2: each keeps only its key groups.
        var restoredKeys = 0
        for index in 0..<2 {
            let range = try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                maxParallelism: 128, parallelism: 2, operatorIndex: index)
            let target = try makeStateBackend(Int64.self, clock: clock, range: range)
            let value2 = try target.getState(ValueStateDescriptor<Int64>(name: "v", ttl: StateTTLConfig(ttl: .seconds(10))))
            let list2 = try target.getListState(ListStateDescriptor<String>(name: "l"))
            let map2 = try target.getMapState(MapStateDescriptor<String, Int>(name: "m"))
            let sum2 = try target.getReducingState(ReducingStateDescriptor<Int64>(name: "r", reduceFunction: +))
            let average2 = try target.getAggregatingState(
                AggregatingStateDescriptor(name: "a", aggregateFunction: StateTestAverage()))
            let windows2 = try target.getNamespacedListState(ListStateDescriptor<Int64>(name: "w"), namespace: Int.self)
            for keyGroup in 0..<128 {
                for (key, entry) in source.entries(of: value, inKeyGroup: keyGroup) {
                    XCTAssertEqual(entry.lastAccessMillis, 500)
                    XCTAssertEqual(target.restore(entry, into: value2, forKey: key), range.contains(keyGroup))
                }
                for (key, entry) in source.entries(of: list, inKeyGroup: keyGroup) {
                    XCTAssertNil(entry.first?.lastAccessMillis)
                    target.restore(entry, into: list2, forKey: key)
                }
                for (key, entry) in source.entries(of: map, inKeyGroup: keyGroup) {
                    target.restore(entry, into: map2, forKey: key)
                }
                for (key, entry) in source.entries(of: sum, inKeyGroup: keyGroup) {
                    target.restore(entry, into: sum2, forKey: key)
                }
                for (key, entry) in source.entries(of: average, inKeyGroup: keyGroup) {
                    target.restore(entry, into: average2, forKey: key)
                }
                for (key, entry) in source.entries(of: windows, inKeyGroup: keyGroup) {
                    target.restore(entry, into: windows2, forKey: key)
                }
            }
            restoredKeys += target.liveKeyCount
            for key in Int64(0)..<300 where target.owns(key) {
                target.setCurrentKey(key)
                XCTAssertEqual(value2.value(), key * 10)
                XCTAssertEqual(list2.get(), key % 2 == 0 ? ["a\(key)", "b\(key)"] : [])
                XCTAssertEqual(map2.get("k"), key % 3 == 0 ? Int(key) : nil)
                XCTAssertEqual(sum2.get(), key)
                XCTAssertEqual(average2.get(), Double(key))
                windows2.setCurrentNamespace(Int(key % 4))
                XCTAssertEqual(windows2.get(), [key])
            }
            XCTAssertEqual(Set(target.dirtyKeyGroups).isSubset(of: Set(range)), true)
        }
        XCTAssertEqual(restoredKeys, 300, "every key is restored by exactly one subtask")
    }

    func testRestoredTTLTimestampsAreKept() throws {
        let clock = ManualClock(startMillis: 0)
        let source = try makeStateBackend(Int64.self, clock: clock)
        let config = StateTTLConfig(ttl: .milliseconds(100))
        let list = try source.getListState(ListStateDescriptor<Int>(name: "l", ttl: config))
        source.setCurrentKey(1)
        list.add(1)  // 0
        clock.advance(by: .milliseconds(60))
        list.add(2)  // 60
        let entries = source.entries(of: list, inKeyGroup: source.currentKeyGroup)
        XCTAssertEqual(entries.first?.entry, [TTLValue(value: 1, lastAccessMillis: 0), TTLValue(value: 2, lastAccessMillis: 60)])

        let target = try makeStateBackend(Int64.self, clock: clock)
        let list2 = try target.getListState(ListStateDescriptor<Int>(name: "l", ttl: config))
        for (key, entry) in entries { target.restore(entry, into: list2, forKey: key) }
        clock.advance(by: .milliseconds(40))  // 100: element 1 expired, element 2 not
        target.setCurrentKey(1)
        XCTAssertEqual(list2.get(), [2])
    }

    func testSnapshotEntriesAreIndependentCopies() throws {
        let backend = try makeStateBackend(Int64.self)
        let list = try backend.getListState(ListStateDescriptor<Int>(name: "l"))
        backend.setCurrentKey(1)
        list.addAll([1, 2])
        let snapshot = backend.entries(of: list, inKeyGroup: backend.currentKeyGroup)
        list.add(3)
        XCTAssertEqual(snapshot.first?.entry.map(\.value), [1, 2], "later writes do not change a taken snapshot")
    }

    func testDirtyTrackingCoversEveryKindOfWrite() throws {
        let clock = ManualClock(startMillis: 0)
        let backend = try makeStateBackend(String.self, clock: clock)
        let map = try backend.getMapState(MapStateDescriptor<Int, Int>(name: "m"))
        let windows = try backend.getNamespacedValueStateForTest()
        backend.setCurrentKey("user-42")  // 20
        map.put(1, 1)
        backend.setCurrentKey("hello")  // 35
        windows.setCurrentNamespace(1)
        windows.update(1)
        XCTAssertEqual(backend.dirtyKeyGroups, [20, 35])
        backend.clearDirtyKeyGroups()
        backend.setCurrentKey("user-42")
        map.remove(1)
        XCTAssertEqual(backend.dirtyKeyGroups, [20])
    }
}

extension KeyedStateBackend {
    func getNamespacedValueStateForTest() throws -> NamespacedValueState<Int, Int> {
        try getNamespacedState(ValueStateDescriptor<Int>(name: "nv"), namespace: Int.self)
    }
}
