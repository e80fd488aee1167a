import XCTest
@testable import Rill
import RillTesting

/// Records which subtask saw which key (and which key group range that subtask was told it owns).
final class KeyRouteRecorder: KeyedProcessFunction {
    var subtask = -1
    var maxParallelism = -1
    var parallelism = -1

    func open(_ context: RuntimeContext) throws {
        subtask = context.subtaskIndex
        maxParallelism = context.maxParallelism
        parallelism = context.parallelism
    }

    func processElement(_ value: Int, _ context: KeyedProcessContext<Int, KeyRoute>, _ out: Collector<KeyRoute>) throws {
        try out.collect(KeyRoute(key: context.currentKey, subtask: subtask, parallelism: parallelism,
                                 maxParallelism: maxParallelism))
    }
}

struct KeyRoute: Sendable {
    let key: Int
    let subtask: Int
    let parallelism: Int
    let maxParallelism: Int
}

final class KeyGroupTests: XCTestCase {
    func testRangesCoverAllKeyGroupsContiguouslyWithFlinksFormula() throws {
        let maxP = 128
        for p in 1...7 {
            var next = 0
            for i in 0..<p {
                let range = try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                    maxParallelism: maxP, parallelism: p, operatorIndex: i)
                XCTAssertEqual(range.start, (i * maxP + p - 1) / p, "p=\(p) i=\(i)")
                XCTAssertEqual(range.end, ((i + 1) * maxP - 1) / p, "p=\(p) i=\(i)")
                XCTAssertEqual(range.start, next, "ranges are contiguous (p=\(p) i=\(i))")
                XCTAssertGreaterThanOrEqual(range.count, maxP / p)
                XCTAssertLessThanOrEqual(range.count, maxP / p + 1)
                for group in range {
                    XCTAssertEqual(KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup(
                        maxParallelism: maxP, parallelism: p, keyGroup: group), i,
                                   "group \(group) is owned by the subtask whose range holds it (p=\(p))")
                }
                next = range.end + 1
            }
            XCTAssertEqual(next, maxP, "the ranges of p=\(p) end at the last key group")
        }
    }

    func testRangeAssignmentRejectsInvalidArguments() {
        XCTAssertThrowsError(try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
            maxParallelism: 4, parallelism: 5, operatorIndex: 0))
        XCTAssertThrowsError(try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
            maxParallelism: 128, parallelism: 2, operatorIndex: 2))
        XCTAssertThrowsError(try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
            maxParallelism: 0, parallelism: 1, operatorIndex: 0))
    }

    private func runRouting(parallelism: Int, maxParallelism: Int?) async throws -> [KeyRoute] {
        let env = StreamEnvironment()
        env.configuration.parallelism = parallelism
        let results = CollectedResults<KeyRoute>()
        let keyed = env.fromCollection(Array(0..<2_000).map { $0 % 500 })
            .keyBy { $0 }
            .process(KeyRouteRecorder())
        if let maxParallelism { keyed.setMaxParallelism(maxParallelism) }
        keyed.collect(into: results)
        try await env.execute()
        return results.values
    }

    func testKeyedJobRoutesEveryKeyToTheSubtaskOwningItsKeyGroup() async throws {
        for (parallelism, maxParallelism) in [(3, nil), (4, nil), (3, 10), (2, 7)] as [(Int, Int?)] {
            let routes = try await runRouting(parallelism: parallelism, maxParallelism: maxParallelism)
            let maxP = maxParallelism ?? 128
            XCTAssertEqual(routes.count, 2_000)
            var subtaskOfKey: [Int: Int] = [:]
            for route in routes {
                XCTAssertEqual(route.parallelism, parallelism)
                XCTAssertEqual(route.maxParallelism, maxP)
                let group = KeyGroupRangeAssignment.assignToKeyGroup(route.key, maxParallelism: maxP)
                let range = try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                    maxParallelism: maxP, parallelism: parallelism, operatorIndex: route.subtask)
                XCTAssertTrue(range.contains(group),
                              "key \(route.key) (group \(group)) reached subtask \(route.subtask) owning \(range); p=\(parallelism) maxP=\(maxP)")
                if let previous = subtaskOfKey.updateValue(route.subtask, forKey: route.key) {
                    XCTAssertEqual(previous, route.subtask, "key \(route.key) reached two subtasks")
                }
            }
            XCTAssertEqual(Set(routes.map(\.subtask)), Set(0..<parallelism), "every subtask got keys")
        }
    }
}

final class PartitionerTests: XCTestCase {
    func testRebalanceSpreadsRecordsOverAllDownstreamSubtasks() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 4
        let results = CollectedResults<Tagged<Int64>>()
        env.fromSequence(1...1_000).setParallelism(1)
            .rebalance()
            .process(TagWithSubtask<Int64>())
            .collect(into: results)
        let plan = try env.explain()
        XCTAssertTrue(plan.contains("--REBALANCE-->"), plan)
        try await env.execute()

        XCTAssertEqual(results.values.map(\.value).sorted(), Array(1...1_000))
        var perSubtask: [Int: Int] = [:]
        for record in results.values { perSubtask[record.subtask, default: 0] += 1 }
        XCTAssertEqual(Set(perSubtask.keys), [0, 1, 2, 3])
        // Round-robin from one producer: the shares differ by at most one record.
        XCTAssertLessThanOrEqual(perSubtask.values.max()! - perSubtask.values.min()!, 1, "\(perSubtask)")
    }

    func testDefaultEdgeBetweenDifferentParallelismsIsRebalance() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 3
        let results = CollectedResults<Tagged<Int64>>()
        env.fromSequence(1...300).setParallelism(1).process(TagWithSubtask<Int64>()).collect(into: results)
        XCTAssertTrue(try env.explain().contains("--REBALANCE-->"))
        try await env.execute()
        XCTAssertEqual(Set(results.values.map(\.subtask)), [0, 1, 2])
        XCTAssertEqual(results.values.map(\.value).sorted(), Array(1...300))
    }

    func testRescaleSendsEveryRecordOnceAndOnlyToLocalSubtasks() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 4
        let results = CollectedResults<Tagged<Tagged<Int64>>>()
        env.fromSequence(1...400).setParallelism(1)
            .rebalance()
            .process(TagWithSubtask<Int64>()).setParallelism(2)
            .rescale()
            .process(TagWithSubtask<Tagged<Int64>>())
            .collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.values.map(\.value.value).sorted(), Array(1...400))
        for record in results.values {
            // Upstream i of 2 feeds downstream 2i and 2i+1 of 4.
            XCTAssertEqual(record.subtask / 2, record.value.subtask, "upstream \(record.value.subtask) -> \(record.subtask)")
        }
        XCTAssertEqual(Set(results.values.map(\.subtask)), [0, 1, 2, 3])
    }

    func testBroadcastDeliversEveryRecordToEverySubtask() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 3
        let results = CollectedResults<Tagged<Int64>>()
        env.fromSequence(1...500).setParallelism(1)
            .rebalance().map { $0 }.setParallelism(2)
            .broadcast()
            .process(TagWithSubtask<Int64>())
            .collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.count, 1_500)
        for subtask in 0..<3 {
            XCTAssertEqual(results.values.filter { $0.subtask == subtask }.map(\.value).sorted(), Array(1...500),
                           "subtask \(subtask) sees every record once")
        }
    }

    /// Subtasks 1 and 2 get no records but must still see end of input, or the job never ends.
    func testGlobalSendsEverythingToSubtaskZero() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 3
        let results = CollectedResults<Tagged<Int64>>()
        env.fromSequence(1...600).setParallelism(1)
            .rebalance().map { $0 }
            .global()
            .process(TagWithSubtask<Int64>())
            .collect(into: results)
        XCTAssertTrue(try env.explain().contains("--GLOBAL-->"))
        try await RuntimeTestKit.executeGuarded(env)
        XCTAssertEqual(results.values.map(\.value).sorted(), Array(1...600))
        XCTAssertEqual(Set(results.values.map(\.subtask)), [0])
    }

    func testShuffleDeliversEveryRecordExactlyOnce() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 3
        let results = CollectedResults<Tagged<Int64>>()
        env.fromSequence(1...3_000).setParallelism(1).shuffle().process(TagWithSubtask<Int64>()).collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.values.map(\.value).sorted(), Array(1...3_000))
        XCTAssertEqual(Set(results.values.map(\.subtask)), [0, 1, 2])
    }

    func testPartitionCustomRoutesAsTold() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 3
        let results = CollectedResults<Tagged<Int64>>()
        env.fromSequence(1...900).setParallelism(1)
            .rebalance().map { $0 }.setParallelism(2)
            .partitionCustom { value, channels in
                precondition(channels == 3)
                return Int(value % Int64(channels))
            }
            .process(TagWithSubtask<Int64>())
            .collect(into: results)
        XCTAssertTrue(try env.explain().contains("--CUSTOM-->"))
        try await env.execute()
        XCTAssertEqual(results.values.map(\.value).sorted(), Array(1...900))
        for record in results.values {
            XCTAssertEqual(record.subtask, Int(record.value % 3), "record \(record.value)")
        }
    }

    func testPartitionCustomOutOfRangeFailsTheJobWithInvalidPartition() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.fromSequence(1...100)
            .partitionCustom { value, channels in value == 42 ? channels : 0 }
            .map { $0 }
            .collect(into: CollectedResults<Int64>())
        let error = await RuntimeTestKit.expectRillError(code: .invalidPartition) { try await env.execute() }
        XCTAssertTrue(error?.description.contains("channel 2") ?? false, "\(String(describing: error))")
        XCTAssertTrue(error?.description.contains("0..<2") ?? false, "says which values are allowed: \(String(describing: error))")
        XCTAssertNotNil(error?.subtaskIndex)
    }

    func testUnionMergesStreamsOfDifferentSources() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let results = CollectedResults<Int64>()
        let first = env.fromSequence(1...100).setParallelism(1)
        let second = env.fromGenerator(count: 50) { 1_000 + $0 }.setParallelism(1)
        let third = env.fromCollection(Array(Int64(5_000)..<5_010)).map { $0 }
        first.union(second, third).map { $0 }.collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.values.sorted(), Array(1...100) + Array(1_000..<1_050) + Array(5_000..<5_010))
    }

    func testUnionOfAStreamWithItselfDuplicatesRecords() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        let results = CollectedResults<Int64>()
        let numbers = env.fromSequence(1...50).setParallelism(1)
        numbers.union(numbers.map { -$0 }).collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.values.sorted(), Array(-50 ... -1) + Array(1...50))
    }

    /// Regression test: two sources of the same type and name share one split enumerator (the
    /// coordinator is looked up by "source-coordinator-<name>-<type>"), so the second source
    /// emits the first one's elements.
    func testUnionOfTwoCollectionSourcesOfTheSameType() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let results = CollectedResults<Int>()
        env.fromCollection([1, 2, 3]).union(env.fromCollection([10, 20, 30])).collect(into: results)
        // It sometimes hangs instead (one reader never gets "no more splits"): bound the wait.
        try await RuntimeTestKit.executeGuarded(env, timeout: .seconds(5))
        XCTAssertEqual(results.values.sorted(), [1, 2, 3, 10, 20, 30])
    }

    func testUnionOfTwoDifferentlyNamedCollectionSourcesOfTheSameType() async throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let results = CollectedResults<Int>()
        env.fromCollection([1, 2, 3]).name("Small")
            .union(env.fromCollection([10, 20, 30]).name("Large"))
            .collect(into: results)
        try await RuntimeTestKit.executeGuarded(env)
        XCTAssertEqual(results.values.sorted(), [1, 2, 3, 10, 20, 30])
    }
}
