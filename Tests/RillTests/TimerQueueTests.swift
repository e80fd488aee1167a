import Rill
import XCTest

final class TimerQueueTests: XCTestCase {
    private typealias Fired = [String]

    private func drain(_ queue: TimerQueue<String, Int>, upTo bound: Int64) -> Fired {
        var fired: Fired = []
        while let timer = queue.popIfDue(upTo: bound) {
            fired.append("\(timer.timestamp):\(timer.key):\(timer.namespace)")
        }
        return fired
    }

    func testPopsInTimestampOrderThenRegistrationOrder() {
        let queue = TimerQueue<String, Int>()
        XCTAssertTrue(queue.register(timestamp: 30, key: "a", namespace: 0))
        XCTAssertTrue(queue.register(timestamp: 10, key: "b", namespace: 0))
        XCTAssertTrue(queue.register(timestamp: 20, key: "z", namespace: 1))
        XCTAssertTrue(queue.register(timestamp: 20, key: "a", namespace: 1))
        XCTAssertTrue(queue.register(timestamp: 20, key: "m", namespace: 0))
        XCTAssertEqual(queue.count, 5)
        XCTAssertEqual(queue.peekTimestamp, 10)
        XCTAssertEqual(drain(queue, upTo: .max), ["10:b:0", "20:z:1", "20:a:1", "20:m:0", "30:a:0"])
        XCTAssertTrue(queue.isEmpty)
        XCTAssertNil(queue.peekTimestamp)
    }

    func testDeduplicatesPerTimestampKeyAndNamespace() {
        let queue = TimerQueue<String, Int>()
        XCTAssertTrue(queue.register(timestamp: 10, key: "a", namespace: 0))
        XCTAssertFalse(queue.register(timestamp: 10, key: "a", namespace: 0))
        XCTAssertTrue(queue.register(timestamp: 10, key: "a", namespace: 1))
        XCTAssertTrue(queue.register(timestamp: 10, key: "b", namespace: 0))
        XCTAssertTrue(queue.register(timestamp: 11, key: "a", namespace: 0))
        XCTAssertEqual(queue.count, 4)
        XCTAssertEqual(drain(queue, upTo: .max), ["10:a:0", "10:a:1", "10:b:0", "11:a:0"])
    }

    func testPopIfDueRespectsBound() {
        let queue = TimerQueue<String, Int>()
        for timestamp: Int64 in [5, 15, 10, 20] { queue.register(timestamp: timestamp, key: "k", namespace: 0) }
        XCTAssertNil(queue.popIfDue(upTo: 4))
        XCTAssertEqual(drain(queue, upTo: 10), ["5:k:0", "10:k:0"], "the bound is inclusive")
        XCTAssertEqual(queue.peekTimestamp, 15)
        XCTAssertEqual(queue.count, 2)
        XCTAssertEqual(drain(queue, upTo: 19), ["15:k:0"])
    }

    func testDeleteRemovesOnlyThatTimer() {
        let queue = TimerQueue<String, Int>()
        queue.register(timestamp: 10, key: "a", namespace: 0)
        queue.register(timestamp: 20, key: "a", namespace: 0)
        queue.register(timestamp: 10, key: "b", namespace: 0)
        XCTAssertTrue(queue.delete(timestamp: 10, key: "a", namespace: 0))
        XCTAssertFalse(queue.delete(timestamp: 10, key: "a", namespace: 0))
        XCTAssertFalse(queue.delete(timestamp: 99, key: "a", namespace: 0))
        XCTAssertEqual(queue.count, 2)
        XCTAssertEqual(queue.peekTimestamp, 10)
        XCTAssertTrue(queue.delete(timestamp: 10, key: "b", namespace: 0))
        XCTAssertEqual(queue.peekTimestamp, 20, "peek skips deleted timers")
        XCTAssertEqual(drain(queue, upTo: .max), ["20:a:0"])
    }

    func testReRegisterAfterDeleteFiresOnceInNewOrder() {
        let queue = TimerQueue<String, Int>()
        queue.register(timestamp: 10, key: "a", namespace: 0)
        queue.register(timestamp: 10, key: "b", namespace: 0)
        XCTAssertTrue(queue.delete(timestamp: 10, key: "a", namespace: 0))
        XCTAssertTrue(queue.register(timestamp: 10, key: "a", namespace: 0), "deleted timers can come back")
        XCTAssertFalse(queue.register(timestamp: 10, key: "a", namespace: 0))
        XCTAssertEqual(queue.count, 2)
        XCTAssertEqual(drain(queue, upTo: .max), ["10:b:0", "10:a:0"], "re-registered: now after b, and only once")
        XCTAssertTrue(queue.register(timestamp: 10, key: "a", namespace: 0), "fired timers can be registered again")
        XCTAssertEqual(drain(queue, upTo: .max), ["10:a:0"])
    }

    func testDeleteThenReRegisterRepeatedlyAndCompaction() {
        let queue = TimerQueue<String, Int>()
        for round in 0..<500 {
            for index in 0..<10 {
                queue.register(timestamp: Int64(index), key: "k\(index)", namespace: round % 3)
            }
            for index in 0..<10 where index != 7 {
                XCTAssertTrue(queue.delete(timestamp: Int64(index), key: "k\(index)", namespace: round % 3))
            }
        }
        // Timer 7 survives in namespaces 0, 1 and 2; everything else was deleted.
        XCTAssertEqual(queue.count, 3)
        XCTAssertEqual(queue.peekTimestamp, 7)
        XCTAssertEqual(Set(drain(queue, upTo: .max)), ["7:k7:0", "7:k7:1", "7:k7:2"])
        XCTAssertTrue(queue.isEmpty)
    }

    func testMatchesReferenceModelUnderRandomOperations() {
        let queue = TimerQueue<Int, Int>()
        var model: [(timestamp: Int64, key: Int, namespace: Int, sequence: Int)] = []
        var sequence = 0
        var random = SeededGenerator(seed: 7)
        var bound: Int64 = 0
        for _ in 0..<20_000 {
            let timestamp = bound + Int64.random(in: 0..<50, using: &random)
            let key = Int.random(in: 0..<20, using: &random)
            let namespace = Int.random(in: 0..<2, using: &random)
            let present = model.contains { $0.timestamp == timestamp && $0.key == key && $0.namespace == namespace }
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                XCTAssertEqual(queue.register(timestamp: timestamp, key: key, namespace: namespace), !present)
                if !present { model.append((timestamp, key, namespace, sequence)); sequence += 1 }
            case 5..<8:
                XCTAssertEqual(queue.delete(timestamp: timestamp, key: key, namespace: namespace), present)
                model.removeAll { $0.timestamp == timestamp && $0.key == key && $0.namespace == namespace }
            default:
                bound += Int64.random(in: 0..<10, using: &random)
                let expected = model.filter { $0.timestamp <= bound }
                    .sorted { ($0.timestamp, $0.sequence) < ($1.timestamp, $1.sequence) }
                var fired: [(Int64, Int, Int)] = []
                while let timer = queue.popIfDue(upTo: bound) { fired.append(timer) }
                XCTAssertEqual(fired.map { "\($0)" }, expected.map { "\(($0.timestamp, $0.key, $0.namespace))" })
                model.removeAll { $0.timestamp <= bound }
            }
            XCTAssertEqual(queue.count, model.count)
            XCTAssertEqual(queue.peekTimestamp, model.map(\.timestamp).min())
        }
    }

    func testSnapshotAndRemoveAll() {
        let queue = TimerQueue<String, Int>()
        queue.register(timestamp: 3, key: "x", namespace: 1)
        queue.register(timestamp: 1, key: "y", namespace: 2)
        queue.register(timestamp: 2, key: "z", namespace: 3)
        queue.delete(timestamp: 2, key: "z", namespace: 3)
        let snapshot = Set(queue.allTimers.map { "\($0.timestamp):\($0.key):\($0.namespace)" })
        XCTAssertEqual(snapshot, ["3:x:1", "1:y:2"])
        var visited: Set<String> = []
        queue.forEach { visited.insert("\($0.timestamp):\($0.key):\($0.namespace)") }
        XCTAssertEqual(visited, snapshot)

        queue.removeAll()
        XCTAssertTrue(queue.isEmpty)
        XCTAssertNil(queue.peekTimestamp)
        XCTAssertNil(queue.popIfDue(upTo: .max))

        let restored = TimerQueue<String, Int>()
        for timer in [(Int64(3), "x", 1), (Int64(1), "y", 2)] { restored.register(timestamp: timer.0, key: timer.1, namespace: timer.2) }
        XCTAssertEqual(drain(restored, upTo: .max), ["1:y:2", "3:x:1"])
    }

    func testCollidingKeysSurviveDeletesInsideProbeRuns() {
        let queue = TimerQueue<CollidingTimerKey, Int>()
        for id in 0..<200 { XCTAssertTrue(queue.register(timestamp: Int64(id % 7), key: CollidingTimerKey(id: id), namespace: 0)) }
        for id in stride(from: 0, to: 200, by: 3) {
            XCTAssertTrue(queue.delete(timestamp: Int64(id % 7), key: CollidingTimerKey(id: id), namespace: 0))
        }
        for id in 0..<200 {
            XCTAssertEqual(queue.register(timestamp: Int64(id % 7), key: CollidingTimerKey(id: id), namespace: 0), id % 3 == 0,
                           "only deleted timers are missing (id \(id))")
        }
        var fired: [Int] = []
        var last = Int64.min
        while let timer = queue.popIfDue(upTo: .max) {
            XCTAssertGreaterThanOrEqual(timer.timestamp, last)
            last = timer.timestamp
            fired.append(timer.key.id)
        }
        XCTAssertEqual(fired.sorted(), Array(0..<200))
    }

    func testLargeRandomWorkloadFiresEveryLiveTimerOnce() {
        let queue = TimerQueue<Int, Int>()
        var random = SeededGenerator(seed: 99)
        var expected: Set<Int> = []
        for id in 0..<50_000 {
            queue.register(timestamp: Int64.random(in: 0..<1_000, using: &random), key: id, namespace: id % 5)
        }
        for timer in queue.allTimers {
            if timer.key % 4 == 0 {
                XCTAssertTrue(queue.delete(timestamp: timer.timestamp, key: timer.key, namespace: timer.namespace))
            } else {
                expected.insert(timer.key)
            }
        }
        XCTAssertEqual(queue.count, expected.count)
        var fired: Set<Int> = []
        var last = Int64.min
        for bound in stride(from: Int64(0), through: 1_000, by: 37) {
            while let timer = queue.popIfDue(upTo: bound) {
                XCTAssertLessThanOrEqual(timer.timestamp, bound)
                XCTAssertGreaterThanOrEqual(timer.timestamp, last)
                last = timer.timestamp
                XCTAssertTrue(fired.insert(timer.key).inserted, "fired twice: \(timer.key)")
            }
        }
        XCTAssertEqual(fired, expected)
        XCTAssertTrue(queue.isEmpty)
    }
}

/// A key whose hash always collides, to exercise long probe runs in the hash index.
struct CollidingTimerKey: Hashable {
    var id: Int
    func hash(into hasher: inout Hasher) { hasher.combine(0) }
}
