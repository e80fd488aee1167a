import Foundation
import Synchronization
import XCTest
@testable import Rill
import RillTesting

/// Polls `condition` until it holds (a readiness check, not a timing assertion).
func waitUntil(_ what: String, timeout: TimeInterval = 60, _ condition: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        guard Date() < deadline else { throw RillError(.internalError, "timed out waiting for \(what)") }
        usleep(1_000)
    }
}

final class SavepointTests: XCTestCase {
    /// Per key, the running sums of the endless stream 0, 1, 2, ... keyed by `value % keys`.
    static func expectedSums(key: Int64, count: Int, keys: Int64) -> [Int64] {
        var sum: Int64 = 0
        return (0..<count).map { index in
            sum += Int64(index) * keys + key
            return sum
        }
    }

    static func makeJob(parallelism: Int, checkpointDirectory: String, restore: RestoreSettings,
                 results: TransactionalResults<KeySum>, stateType: Bool = true) -> StreamEnvironment {
        let env = StreamEnvironment()
        env.configuration.parallelism = parallelism
        env.configuration.checkpoints.directory = checkpointDirectory
        env.configuration.restore = restore
        env.configuration.batchSize = 32
        env.configuration.checkpoints.interval = .milliseconds(5)
        env.configuration.checkpoints.tolerableFailedCheckpoints = Int.max
        env.fromGenerator(count: Int64.max, recordsPerSecond: 200_000) { $0 }.setParallelism(1).uid("numbers")
            .keyBy { $0 % 10 }
            .process(RunningSum()).uid("running-sum")
            .sinkTo(TransactionalCollectSink(results)).uid("sink")
        return env
    }

    /// Keyed state stays exact across stop-with-savepoint and restores at parallelism 1 → 3 → 2:
    /// the committed running sums of every key are exactly the failure-free sequence, with no
    /// gap and no repeat.
    func testRescaleOneToThreeToTwoKeepsKeyedStateExact() async throws {
        let results = TransactionalResults<KeySum>()
        let savepoints = temporaryDirectory("savepoints")
        var restore = RestoreSettings.none
        for (round, parallelism) in [1, 3, 2].enumerated() {
            let env = Self.makeJob(parallelism: parallelism, checkpointDirectory: temporaryDirectory("chk-\(round)"),
                              restore: restore, results: results)
            let client = try env.executeAsync("rescale round \(round)")
            let before = results.committed.count
            try waitUntil("records in round \(round)") { results.commitCount > 0 && results.committed.count > before }
            let path = try await client.stopWithSavepoint(to: savepoints + "/sp-\(round)")
            XCTAssertEqual(client.status, .cancelled)
            restore = .path(path)
        }
        let committed = results.committed
        XCTAssertGreaterThan(committed.count, 0)
        let perKey = Dictionary(grouping: committed, by: \.key)
        for (key, sums) in perKey {
            let values = sums.map(\.sum).sorted()
            XCTAssertEqual(values, Self.expectedSums(key: key, count: values.count, keys: 10), "key \(key)")
        }
    }

    func testRestoringWithAChangedStateTypeFailsNamingOperatorAndState() async throws {
        let results = TransactionalResults<KeySum>()
        let env = Self.makeJob(parallelism: 1, checkpointDirectory: temporaryDirectory("chk"), restore: .none, results: results)
        let client = try env.executeAsync("v1")
        try waitUntil("first commit") { results.commitCount > 0 }
        let path = try await client.stopWithSavepoint(to: temporaryDirectory("sp") + "/sp")

        final class StringSum: KeyedProcessFunction {
            typealias Key = Int64
            var sum: ValueState<String>!
            func open(_ context: RuntimeContext) throws { sum = try context.getState(ValueStateDescriptor<String>(name: "sum")) }
            func processElement(_ value: Int64, _ context: KeyedProcessContext<Int64, String>, _ out: Collector<String>) throws {
                sum.update("\(value)")
            }
        }
        let changed = StreamEnvironment()
        changed.configuration.parallelism = 1
        changed.configuration.restore = .path(path, allowNonRestoredState: true)
        changed.fromGenerator(count: 10) { $0 }.setParallelism(1).uid("numbers")
            .keyBy { $0 % 10 }
            .process(StringSum()).uid("running-sum")
            .addSink { _ in }
        do {
            try await changed.execute("v2")
            XCTFail("a changed state type must not restore silently")
        } catch let error as RillError {
            XCTAssertTrue(error.description.contains("'sum'"), "names the state: \(error)")
            XCTAssertTrue(error.description.contains("KeyedProcess") || error.description.contains("running-sum"),
                          "names the operator: \(error)")
        }
    }

    func testStateWithoutAMatchingOperatorFailsUnlessAllowed() async throws {
        let results = TransactionalResults<KeySum>()
        let env = Self.makeJob(parallelism: 1, checkpointDirectory: temporaryDirectory("chk"), restore: .none, results: results)
        let client = try env.executeAsync("v1")
        try waitUntil("first commit") { results.commitCount > 0 }
        let path = try await client.stopWithSavepoint(to: temporaryDirectory("sp") + "/sp")

        func job(allow: Bool) -> StreamEnvironment {
            let env = StreamEnvironment()
            env.configuration.parallelism = 1
            env.configuration.restore = .path(path, allowNonRestoredState: allow)
            // A new source (its own uid): the savepoint's source, keyed and sink state have no home.
            env.fromGenerator(count: 5) { $0 }.setParallelism(1).uid("numbers-v2").addSink { _ in }
            return env
        }
        XCTAssertThrowsError(try job(allow: false).executeAsync()) { error in
            XCTAssertTrue(["numbers", "running-sum", "sink"].contains { "\(error)".contains("(id \($0))") },
                          "names the operator whose state has no home: \(error)")
            XCTAssertTrue("\(error)".contains("allowNonRestoredState"), "says what to do: \(error)")
        }
        XCTAssertNoThrow(try job(allow: true).executeBlocking())
    }

    func testResumingFromAnEmptyCheckpointDirectoryIsAnErrorNotAFreshStart() {
        let env = StreamEnvironment()
        env.configuration.checkpoints.directory = temporaryDirectory("empty")
        env.configuration.restore = .latestCheckpoint
        env.fromSequence(1...10).addSink { _ in }
        XCTAssertThrowsError(try env.executeAsync()) { error in
            XCTAssertTrue("\(error)".contains(env.configuration.checkpoints.directory!), "names the directory: \(error)")
        }
    }

    func testRestoreLatestResumesFromTheNewestCheckpoint() async throws {
        let results = TransactionalResults<KeySum>()
        let directory = temporaryDirectory("latest")
        let env = Self.makeJob(parallelism: 2, checkpointDirectory: directory, restore: .none, results: results)
        let client = try env.executeAsync("first")
        try waitUntil("first commit") { results.commitCount > 0 }
        _ = try await client.triggerCheckpoint()
        client.cancel()
        _ = try? await client.result()
        let committedBefore = results.committed.count

        let resumed = Self.makeJob(parallelism: 2, checkpointDirectory: directory, restore: .latestCheckpoint, results: results)
        let second = try resumed.executeAsync("second")
        try waitUntil("resumed commits") { results.committed.count > committedBefore + 100 }
        second.cancel()
        _ = try? await second.result()
        let perKey = Dictionary(grouping: results.committed, by: \.key)
        for (key, sums) in perKey {
            let values = sums.map(\.sum).sorted()
            XCTAssertEqual(values, Self.expectedSums(key: key, count: values.count, keys: 10), "key \(key)")
        }
    }
}
