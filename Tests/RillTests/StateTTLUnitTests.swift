import Rill
import XCTest

/// TTL in processing time, driven by a ManualClock (time moves only when the test moves it).
final class StateTTLUnitTests: XCTestCase {
    let ttl = Duration.milliseconds(100)

    func testValueOnCreateAndWriteNeverReturnExpired() throws {
        let clock = ManualClock(startMillis: 1000)
        let backend = try makeStateBackend(Int64.self, clock: clock)
        let state = try backend.getState(ValueStateDescriptor<Int>(name: "v", ttl: StateTTLConfig(ttl: ttl)))
        backend.setCurrentKey(1)
        state.update(1)
        clock.advance(by: .milliseconds(99))
        XCTAssertEqual(state.value(), 1)
        clock.advance(by: .milliseconds(1))  // 1100 = 1000 + 100: expired
        XCTAssertNil(state.value())
        XCTAssertEqual(backend.liveKeyCount, 0, "the expired value was removed on access")

        state.update(2)  // written at 1100
        clock.advance(by: .milliseconds(60))
        XCTAssertEqual(state.value(), 2, "reads do not refresh with onCreateAndWrite")
        clock.advance(by: .milliseconds(40))  // 1200
        XCTAssertNil(state.value())
    }

    func testValueOnReadAndWriteRefreshesOnRead() throws {
        let clock = ManualClock(startMillis: 0)
        let backend = try makeStateBackend(Int64.self, clock: clock)
        let state = try backend.getState(
            ValueStateDescriptor<Int>(name: "v", ttl: StateTTLConfig(ttl: ttl, updateType: .onReadAndWrite)))
        backend.setCurrentKey(1)
        state.update(1)
        for _ in 0..<5 {
            clock.advance(by: .milliseconds(80))
            XCTAssertEqual(state.value(), 1, "every read extends the life")
        }
        clock.advance(by: .milliseconds(100))
        XCTAssertNil(state.value())
    }

    func testReturnExpiredIfNotCleanedUpReturnsOnce() throws {
        let clock = ManualClock(startMillis: 0)
        let backend = try makeStateBackend(Int64.self, clock: clock)
        let state = try backend.getState(
            ValueStateDescriptor<Int>(
                name: "v", ttl: StateTTLConfig(ttl: ttl, visibility: .returnExpiredIfNotCleanedUp)))
        backend.setCurrentKey(1)
        state.update(7)
        clock.advance(by: .milliseconds(500))
        XCTAssertEqual(state.value(), 7, "the expired value is still visible until cleaned up")
        XCTAssertNil(state.value(), "the read that returned it also removed it")

        state.update(8)
        clock.advance(by: .milliseconds(500))
        backend.cleanupExpired()
        XCTAssertNil(state.value(), "after a cleanup sweep it is gone")
    }

    func testCleanupSweepReleasesKeys() throws {
        let clock = ManualClock(startMillis: 0)
        let backend = try makeStateBackend(Int64.self, clock: clock)
        let state = try backend.getState(ValueStateDescriptor<Int64>(name: "v", ttl: StateTTLConfig(ttl: ttl)))
        let plain = try backend.getState(ValueStateDescriptor<Int64>(name: "plain"))
        for key in Int64(0)..<1000 {
            backend.setCurrentKey(key)
            state.update(key)
            if key < 10 { plain.update(key) }
        }
        clock.advance(by: .milliseconds(50))
        backend.setCurrentKey(500)
        state.update(-1)  // refreshed at 50
        clock.advance(by: .milliseconds(50))
        backend.clearDirtyKeyGroups()
        backend.cleanupExpired()
        XCTAssertEqual(backend.liveKeyCount, 11, "key 500 and the ten keys holding non-TTL state remain")
        XCTAssertFalse(backend.dirtyKeyGroups.isEmpty)
        backend.setCurrentKey(500)
        XCTAssertEqual(state.value(), -1)
        backend.setCurrentKey(3)
        XCTAssertNil(state.value())
        XCTAssertEqual(plain.value(), 3)
    }

    func testListElementsExpireIndividually() throws {
        let clock = ManualClock(startMillis: 0)
        let backend = try makeStateBackend(Int64.self, clock: clock)
        let state = try backend.getListState(ListStateDescriptor<String>(name: "l", ttl: StateTTLConfig(ttl: ttl)))
        backend.setCurrentKey(1)
        state.add("a")  // 0
        clock.advance(by: .milliseconds(50))
        state.addAll(["b", "c"])  // 50
        clock.advance(by: .milliseconds(50))  // 100: "a" expired
        XCTAssertEqual(state.get(), ["b", "c"])
        let entry = backend.entries(of: state, inKeyGroup: backend.currentKeyGroup)
        XCTAssertEqual(entry.first?.entry.map(\.value), ["b", "c"], "the expired element was removed on read")
        XCTAssertEqual(entry.first?.entry.map(\.lastAccessMillis), [50, 50])
        clock.advance(by: .milliseconds(50))
        XCTAssertEqual(state.get(), [])
        XCTAssertEqual(backend.liveKeyCount, 0)
    }

    func testListOnReadAndWriteAndReturnExpired() throws {
        let clock = ManualClock(startMillis: 0)
        let backend = try makeStateBackend(Int64.self, clock: clock)
        let state = try backend.getListState(
            ListStateDescriptor<Int>(
                name: "l",
                ttl: StateTTLConfig(ttl: ttl, updateType: .onReadAndWrite, visibility: .returnExpiredIfNotCleanedUp)))
        backend.setCurrentKey(1)
        state.add(1)  // 0
        clock.advance(by: .milliseconds(60))
        state.add(2)  // 60
        clock.advance(by: .milliseconds(60))  // 120: 1 expired, 2 alive and refreshed to 120
        XCTAssertEqual(state.get(), [1, 2], "the expired element is returned once")
        XCTAssertEqual(state.get(), [2])
        clock.advance(by: .milliseconds(99))  // 219 < 120 + 100
        XCTAssertEqual(state.get(), [2])
    }

    func testMapEntriesExpireIndividually() throws {
        let clock = ManualClock(startMillis: 0)
        let backend = try makeStateBackend(Int64.self, clock: clock)
        let state = try backend.getMapState(
            MapStateDescriptor<String, Int>(name: "m", ttl: StateTTLConfig(ttl: ttl, updateType: .onReadAndWrite)))
        backend.setCurrentKey(1)
        state.put("old", 1)  // 0
        clock.advance(by: .milliseconds(70))
        state.put("new", 2)  // 70
        clock.advance(by: .milliseconds(30))  // 100: "old" expired
        XCTAssertNil(state.get("old"))
        XCTAssertFalse(state.contains("old"))
        XCTAssertEqual(state.get("new"), 2)  // refreshed to 100
        clock.advance(by: .milliseconds(90))  // 190
        XCTAssertEqual(state.entries(), ["new": 2])  // refreshed to 190
        clock.advance(by: .milliseconds(100))
        XCTAssertTrue(state.isEmpty())
        XCTAssertEqual(backend.liveKeyCount, 0)

        state.putAll(["x": 1, "y": 2])
        clock.advance(by: .milliseconds(100))
        backend.cleanupExpired()
        XCTAssertEqual(backend.liveKeyCount, 0, "the sweep removes expired map entries")
    }

    func testMapReturnExpiredOnce() throws {
        let clock = ManualClock(startMillis: 0)
        let backend = try makeStateBackend(Int64.self, clock: clock)
        let state = try backend.getMapState(
            MapStateDescriptor<String, Int>(
                name: "m", ttl: StateTTLConfig(ttl: ttl, visibility: .returnExpiredIfNotCleanedUp)))
        backend.setCurrentKey(1)
        state.put("a", 1)
        clock.advance(by: .seconds(1))
        XCTAssertEqual(state.get("a"), 1)
        XCTAssertNil(state.get("a"))
    }

    func testReducingAndAggregatingStartOverAfterExpiry() throws {
        let clock = ManualClock(startMillis: 0)
        let backend = try makeStateBackend(Int64.self, clock: clock)
        let sum = try backend.getReducingState(
            ReducingStateDescriptor<Int64>(name: "sum", reduceFunction: +, ttl: StateTTLConfig(ttl: ttl)))
        let average = try backend.getAggregatingState(
            AggregatingStateDescriptor(name: "avg", aggregateFunction: StateTestAverage(), ttl: StateTTLConfig(ttl: ttl)))
        backend.setCurrentKey(1)
        try sum.add(1)
        average.add(10)
        clock.advance(by: .milliseconds(50))
        try sum.add(2)  // refreshed at 50
        average.add(20)
        XCTAssertEqual(sum.get(), 3)
        XCTAssertEqual(average.get(), 15)
        clock.advance(by: .milliseconds(100))  // 150 >= 50 + 100
        try sum.add(5)
        average.add(1)
        XCTAssertEqual(sum.get(), 5, "an expired accumulator is not reduced into")
        XCTAssertEqual(average.get(), 1)
        clock.advance(by: .milliseconds(100))
        XCTAssertNil(sum.get())
        XCTAssertNil(average.get())
        XCTAssertEqual(backend.liveKeyCount, 0)
    }
}
