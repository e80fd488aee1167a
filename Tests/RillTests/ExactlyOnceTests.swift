import Foundation
import Synchronization
import XCTest
@testable import Rill
import RillTesting

/// Throws once at each of the given values, across all job attempts.
final class FailureInjector: Sendable {
    let remaining: Mutex<Set<Int64>>
    let fired = Atomic<Int>(0)

    init(_ values: Set<Int64>) { remaining = Mutex(values) }

    func check(_ value: Int64) throws {
        let hit = remaining.withLock { $0.remove(value) != nil }
        if hit {
            fired.add(1, ordering: .relaxed)
            throw InjectedJobFailure(value: value)
        }
    }
}

struct InjectedJobFailure: Error, CustomStringConvertible {
    let value: Int64
    var description: String { "injected failure at \(value)" }
}

/// Emits (key, running sum) per record, from keyed ValueState.
final class RunningSum: KeyedProcessFunction {
    typealias Key = Int64
    var sum: ValueState<Int64>!

    func open(_ context: RuntimeContext) throws {
        sum = try context.getState(ValueStateDescriptor<Int64>(name: "sum"))
    }

    func processElement(_ value: Int64, _ context: KeyedProcessContext<Int64, KeySum>, _ out: Collector<KeySum>) throws {
        let next = (sum.value() ?? 0) + value
        sum.update(next)
        try out.collect(KeySum(key: context.currentKey, sum: next))
    }
}

struct KeySum: Hashable, Sendable, Codable {
    let key: Int64
    let sum: Int64
}

func temporaryDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "rill-\(name)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

final class ExactlyOnceTests: XCTestCase {
    let records: Int64 = 20_000
    let keys: Int64 = 50

    /// The output of the job without failures: per key, the running sums in order.
    func expectedOutput() -> [KeySum] {
        var sums: [Int64: Int64] = [:]
        var output: [KeySum] = []
        for value in 0..<records {
            let key = value % keys
            sums[key, default: 0] += value
            output.append(KeySum(key: key, sum: sums[key]!))
        }
        return output
    }

    func runJob(seed: UInt64, failures: Int, mode: CheckpointingMode) throws -> (committed: [KeySum], restarts: Int, fired: Int) {
        var generator = SeededGenerator(seed: seed)
        let injector = FailureInjector(Set((0..<failures).map { _ in Int64.random(in: 1..<records, using: &generator) }))
        let results = TransactionalResults<KeySum>()
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.configuration.checkpoints.directory = temporaryDirectory("eo-\(seed)")
        env.configuration.checkpoints.interval = .milliseconds(2)
        env.configuration.checkpoints.mode = mode
        env.configuration.checkpoints.tolerableFailedCheckpoints = Int.max
        env.configuration.restartStrategy = .fixedDelay(attempts: failures + 1, delay: .zero)
        env.configuration.batchSize = 64
        env.fromSequence(0...(records - 1)).setParallelism(1)
            .map { value -> Int64 in
                try injector.check(value)
                return value
            }.setParallelism(1)
            .keyBy { $0 % 50 }
            .process(RunningSum()).uid("running-sum")
            .sinkTo(TransactionalCollectSink(results))
        let client = try env.executeAsync("exactly-once \(seed)")
        _ = try client.waitForResult()
        XCTAssertEqual(results.unfinishedTransactions, 0, "every transaction ends committed or aborted")
        return (results.committed, client.restarts, injector.fired.load(ordering: .relaxed))
    }

    func assertExactlyOnce(mode: CheckpointingMode, seeds: ClosedRange<UInt64>) throws {
        let expected = expectedOutput()
        let expectedPerKey = Dictionary(grouping: expected, by: \.key)
        for seed in seeds {
            let (committed, restarts, fired) = try runJob(seed: seed, failures: 3, mode: mode)
            XCTAssertEqual(fired, 3, "seed \(seed): every injected failure fired")
            XCTAssertEqual(restarts, 3, "seed \(seed): the job restarted once per failure")
            XCTAssertEqual(committed.count, expected.count, "seed \(seed): nothing lost, nothing duplicated")
            // Per key, the committed running sums are exactly the failure-free sequence.
            let perKey = Dictionary(grouping: committed, by: \.key)
            for key in 0..<keys {
                XCTAssertEqual(perKey[key] ?? [], expectedPerKey[key] ?? [], "seed \(seed) key \(key)")
            }
        }
    }

    func testAlignedCheckpointsGiveExactlyOnceOutputUnderInjectedJobFailures() throws {
        try assertExactlyOnce(mode: .exactlyOnce, seeds: 1...4)
    }

    func testWithoutFailuresTheOutputIsComplete() throws {
        let (committed, restarts, _) = try runJob(seed: 99, failures: 0, mode: .exactlyOnce)
        XCTAssertEqual(restarts, 0)
        XCTAssertEqual(committed.sorted { ($0.key, $0.sum) < ($1.key, $1.sum) },
                       expectedOutput().sorted { ($0.key, $0.sum) < ($1.key, $1.sum) })
    }
}

/// SplitMix64: a small, seedable generator, so failures land in the same places every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
