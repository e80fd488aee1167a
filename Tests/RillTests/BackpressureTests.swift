import Synchronization
import XCTest
@testable import Rill
import RillTesting

final class BackpressureTests: XCTestCase {
    func testSlowSinkBoundsQueuedRecordsAndTheJobCompletesWhenReleased() async throws {
        let total: Int64 = 100_000
        let batchSize = 64
        let capacity = 3
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 1
        configuration.batchSize = batchSize
        configuration.channelCapacity = capacity
        let env = StreamEnvironment(configuration: configuration)

        let latch = ThreadLatch()
        let box = SendableBox()
        env.fromSequence(1...total)
            .addSink(name: "Slow Sink") { value in
                latch.wait()
                box.received.add(1, ordering: .relaxed)
                box.sum.add(Int(value), ordering: .relaxed)
            }
            .disableChaining()
        let plan = try env.explain()
        let sinkTask = try XCTUnwrap(RuntimeTestKit.taskIndex(of: "Slow Sink", in: plan), plan)
        let sourceTask = try XCTUnwrap(RuntimeTestKit.taskIndex(of: "Sequence Source", in: plan), plan)
        XCTAssertNotEqual(sinkTask, sourceTask, "the sink must run in its own task: \(plan)")

        let client = try env.executeAsync("backpressure")
        try await RuntimeTestKit.waitUntil("the sink's input channel is full") {
            client.queuedBatches(task: sinkTask, subtask: 0) == [capacity] && latch.waitingThreads == 1
        }
        let sourceOut = client.operatorCounts.first { $0.operatorName == "Sequence Source" }?.recordsOut ?? -1
        // In flight at most: the batch the sink is in, `capacity` queued, one the source is
        // pushing, and one it is filling.
        XCTAssertLessThanOrEqual(sourceOut, (capacity + 3) * batchSize, "the source ran ahead of a blocked sink")
        XCTAssertLessThan(sourceOut, Int(total) / 10)
        XCTAssertEqual(client.status, .running)
        XCTAssertEqual(client.maxQueuedBatches(task: sinkTask, subtask: 0), [capacity])

        latch.open()
        let result = try await client.result()
        XCTAssertEqual(box.received.load(ordering: .relaxed), Int(total))
        XCTAssertEqual(box.sum.load(ordering: .relaxed), Int(total * (total + 1) / 2))
        XCTAssertEqual(result.counts("Slow Sink")?.recordsIn, Int(total))
        XCTAssertLessThanOrEqual(client.maxQueuedBatches(task: sinkTask, subtask: 0).max() ?? .max, capacity,
                                 "no channel ever held more than the channel capacity")
        XCTAssertEqual(client.queuedBatches(task: sinkTask, subtask: 0), [0])
    }

    func testBackpressurePropagatesThroughAKeyedExchange() async throws {
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 2
        configuration.batchSize = 32
        configuration.channelCapacity = 2
        let env = StreamEnvironment(configuration: configuration)
        let latch = ThreadLatch()
        let box = SendableBox()
        env.fromSequence(1...50_000).setParallelism(1)
            .keyBy { $0 % 97 }
            .reduce { $0 &+ $1 }
            .addSink(name: "Slow Sink") { _ in
                latch.wait()
                box.received.add(1, ordering: .relaxed)
            }
        let plan = try env.explain()
        let keyedTask = try XCTUnwrap(RuntimeTestKit.taskIndex(of: "Keyed Reduce", in: plan), plan)
        let client = try env.executeAsync()
        // The source is held back once one of its two channels is full.
        try await RuntimeTestKit.waitUntil("both keyed subtasks block and the source is held back") {
            let queued = (0..<2).map { client.queuedBatches(task: keyedTask, subtask: $0) }
            return latch.waitingThreads == 2 && queued.contains { $0 == [2] }
        }
        let sourceOut = client.operatorCounts.first { $0.operatorName == "Sequence Source" }?.recordsOut ?? -1
        XCTAssertLessThan(sourceOut, 5_000, "sources stop when the keyed exchange is full")
        latch.open()
        let result = try await client.result()
        XCTAssertEqual(box.received.load(ordering: .relaxed), 50_000)
        XCTAssertEqual(result.counts("Keyed Reduce")?.recordsIn, 50_000)
        for subtask in 0..<2 {
            XCTAssertTrue(client.maxQueuedBatches(task: keyedTask, subtask: subtask).allSatisfy { $0 <= 2 })
        }
    }
}

/// Atomics shared with sink closures on task threads.
final class SendableBox: Sendable {
    let received = Atomic<Int>(0)
    let sum = Atomic<Int>(0)
    init() {}
}
