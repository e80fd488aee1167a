import Foundation
import Synchronization
import XCTest
@testable import Rill
import RillTesting

final class CheckpointFaultTests: XCTestCase {
    /// A checkpoint that cannot complete in time is aborted and counted; the job goes on.
    func testATimedOutCheckpointIsAbortedAndTheJobGoesOn() async throws {
        let release = DispatchSemaphore(value: 0)
        let blocked = Atomic<Bool>(false)
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        env.configuration.checkpoints.directory = temporaryDirectory("timeout")
        env.configuration.checkpoints.timeout = .milliseconds(50)
        env.configuration.checkpoints.tolerableFailedCheckpoints = 10
        let results = CollectedResults<Int64>()
        env.fromSequence(0...999).setParallelism(1)
            .map { value -> Int64 in
                if value == 10, !blocked.exchange(true, ordering: .relaxed) { release.wait() }
                return value
            }
            .rebalance()
            .collect(into: results)
        let client = try env.executeAsync("timeout")
        try waitUntil("the map to block") { blocked.load(ordering: .relaxed) }
        do {
            _ = try await client.triggerCheckpoint()
            XCTFail("a checkpoint cannot complete while a task is stuck")
        } catch let error as RillError {
            XCTAssertTrue(error.message.contains("timeout"), "says why: \(error)")
        }
        XCTAssertEqual(client.checkpointStatistics.failed, 1)
        XCTAssertEqual(client.status, .running, "a failed checkpoint within the tolerance does not fail the job")
        release.signal()
        _ = try await client.result()
        XCTAssertEqual(results.count, 1_000)
    }

    /// A corrupt newest checkpoint is reported by path and the previous one is used.
    func testRestoreLatestSkipsACorruptCheckpointForThePreviousOne() async throws {
        let results = TransactionalResults<KeySum>()
        let directory = temporaryDirectory("corrupt")
        let env = SavepointTests.makeJob(parallelism: 1, checkpointDirectory: directory, restore: .none, results: results)
        env.configuration.checkpoints.interval = nil
        env.configuration.checkpoints.retainedCheckpoints = 3
        let client = try env.executeAsync("first")
        let first = try await client.triggerCheckpoint()
        try waitUntil("more records") { client.operatorCounts[0].recordsOut > 1_000 }
        let second = try await client.triggerCheckpoint()
        client.cancel()
        _ = try? await client.result()

        // Flip one byte in a state file of the newest checkpoint.
        let files = try FileManager.default.contentsOfDirectory(atPath: second)
        guard let newest = files.first(where: { $0 != "_metadata" }) else { return XCTFail("no state files in \(second): \(files)") }
        let file = second + "/" + newest
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: file))

        let storage = try CheckpointStorage(directory: directory)
        let latest = try storage.latestCompleted(verification: .checksums)
        XCTAssertEqual(latest.path, first, "the previous checkpoint is the latest valid one")
        XCTAssertTrue(latest.skipped.contains { $0.path == second }, "the corrupt one is reported by path")

        let resumed = SavepointTests.makeJob(parallelism: 1, checkpointDirectory: directory, restore: .latestCheckpoint, results: results)
        resumed.configuration.checkpoints.interval = nil
        let second2 = try resumed.executeAsync("resumed")
        try waitUntil("resumed progress") { second2.operatorCounts[0].recordsOut > 100 }
        second2.cancel()
        _ = try? await second2.result()
    }
}
