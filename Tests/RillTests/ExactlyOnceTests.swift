import Foundation
import XCTest
@testable import Rill
import RillTesting

/// How a scenario takes checkpoints.
enum CheckpointModeUnderTest: String, CustomStringConvertible {
    /// Barriers are aligned: exactly-once.
    case aligned
    /// Barriers overtake in-flight data, which is checkpointed as channel state: exactly-once.
    case unaligned
    /// Aligned until the alignment times out, then unaligned: exactly-once.
    case alignedThenUnaligned
    /// No alignment: records may repeat after a restore, none may be lost.
    case atLeastOnce

    var description: String { rawValue }
    var isExactlyOnce: Bool { self != .atLeastOnce }

    /// The one place that turns a mode into configuration.
    func apply(to checkpoints: inout CheckpointConfig) throws {
        switch self {
        case .aligned:
            checkpoints.mode = .exactlyOnce
        case .atLeastOnce:
            checkpoints.mode = .atLeastOnce
        case .unaligned, .alignedThenUnaligned:
            checkpoints.mode = .exactlyOnce
            checkpoints.unalignedCheckpoints = true
            // A timeout short enough that some checkpoints of these small jobs do switch.
            checkpoints.alignedCheckpointTimeout = self == .unaligned ? .zero : .milliseconds(1)
        }
    }
}

/// Exactly-once is shown, not assumed: small keyed jobs into a transactional sink, with failures
/// injected at seeded random points — in a user function, in a source reader, in a generator
/// source, in a keyed state snapshot, in the sink's pre-commit (its snapshot) and in its commit —
/// and the committed output compared with the failure-free output: per key the same records in
/// the same order, none lost, none repeated. Every iteration also checks that its failures fired and what the job did about
/// them (restarts, failed checkpoints).
///
/// The job: a source at parallelism 2 → keyBy → running sum per key (keyed ValueState) →
/// `TransactionalCollectSink`, parallelism 2. Each key's records come from one source split, so
/// the failure-free output per key is known in advance.
final class ExactlyOnceTests: XCTestCase {
    static let records: Int64 = 2_000
    static let splits: Int64 = 2
    static let keysPerSplit: Int64 = 10
    /// Records per source subtask between two checkpoints (paced source).
    static let chunk: Int64 = 100
    static var chunksPerSplit: Int { Int(records / splits / chunk) }
    static let seeds: ClosedRange<UInt64> = 1...8

    static func key(_ value: Int64) -> Int64 {
        value % keysPerSplit + keysPerSplit * (value / (records / splits))
    }

    /// Per key, the output of the job without failures.
    static let expectedPerKey: [Int64: [ValueSum]] = {
        var sums: [Int64: Int64] = [:]
        var output: [Int64: [ValueSum]] = [:]
        for value in 0..<records {
            let key = key(value)
            sums[key, default: 0] += value
            output[key, default: []].append(ValueSum(key: key, value: value, sum: sums[key]!))
        }
        return output
    }()

    /// Two records of one split, at least two chunks apart, so the first fails its attempt
    /// before the second is reached and the job restarts once per failure: one source subtask
    /// emits them in order, and (paced source) the second only after a checkpoint completed
    /// that covers the first, so downstream has processed it. (Records of different splits are
    /// processed at the same time, and two failures in one attempt restart it once.)
    static func twoSequentialRecords(using random: inout SeededGenerator) -> Set<Int64> {
        let splitSize = records / splits
        let start = Int64.random(in: 0..<splits, using: &random) * splitSize
        let first = start + Int64.random(in: 1..<(splitSize - 2 * chunk), using: &random)
        return [first, Int64.random(in: (first + 2 * chunk)..<(start + splitSize), using: &random)]
    }

    enum FailurePoint: CustomStringConvertible {
        /// No failure: the baseline that shows the expected output is right.
        case none
        /// The keyed process function throws at random records.
        case userFunction
        /// The split-based source reader throws at random records.
        case sourceReader
        /// The generator of the built-in generator source throws at random indices.
        case generatorSource
        /// The sink's pre-commit (its part of the checkpoint) throws once; the checkpoint is
        /// declined. Within `tolerableFailedCheckpoints` the job goes on; beyond, it restarts.
        case snapshot(tolerated: Bool)
        /// The keyed operator's state snapshot throws once (a value fails to encode): the
        /// checkpoint is declined before the sink in its chain pre-commits, and the job goes on.
        case stateSnapshot
        /// The sink's commit (on checkpoint completion, or at the end of the job) throws once;
        /// the task fails and the restored sink commits again what the checkpoint pre-committed.
        case commit

        var description: String {
            switch self {
            case .none: "no failure"
            case .userFunction: "user function"
            case .sourceReader: "source reader"
            case .generatorSource: "generator source"
            case .snapshot(let tolerated): tolerated ? "snapshot (tolerated)" : "snapshot (not tolerated)"
            case .stateSnapshot: "state snapshot"
            case .commit: "commit"
            }
        }
    }

    /// What one job run did.
    struct Run {
        let committed: [ValueSum]
        let restarts: Int
        let expectedRestarts: Int
        let plannedFailures: Int
        let firedFailures: Int
        let failedCheckpoints: Int
        let unfinishedTransactions: Int
        let label: String
    }

    func runJob(_ point: FailurePoint, mode: CheckpointModeUnderTest, seed: UInt64) throws -> Run {
        var random = SeededGenerator(seed: seed)
        var recordFailures = FailureInjector([])
        var faults: TransactionalFaults?
        var tolerable = Int.max
        var stateEncodingFailures: Set<Int> = []
        let expectedRestarts: Int
        switch point {
        case .none:
            expectedRestarts = 0
        case .userFunction, .sourceReader, .generatorSource:
            recordFailures = FailureInjector(Self.twoSequentialRecords(using: &random))
            expectedRestarts = 2
        case .snapshot(let tolerated):
            // Each sink subtask pre-commits at least `chunksPerSplit - 1` times before its input
            // ends, so this call is a checkpoint's pre-commit, never the final one.
            let call = Int.random(in: 1...(Self.chunksPerSplit - 1), using: &random)
            faults = TransactionalFaults(failing: [.preCommit: [call]])
            tolerable = tolerated ? Int.max : 0
            expectedRestarts = tolerated ? 0 : 1
        case .stateSnapshot:
            // Every checkpoint after the first chunk encodes the counts of all 20 keys, and each
            // sink subtask takes at least `chunksPerSplit - 1` checkpoints.
            let encodesBeforeTheEnd = Int(Self.splits * Self.keysPerSplit) * (Self.chunksPerSplit - 2)
            stateEncodingFailures = [Int.random(in: 1...encodesBeforeTheEnd, using: &random)]
            expectedRestarts = 0
        case .commit:
            // Every pre-committed transaction is committed once; there are at least
            // 2 × chunksPerSplit of them. Later calls are those at the end of the job.
            let call = Int.random(in: 1...(2 * Self.chunksPerSplit), using: &random)
            faults = TransactionalFaults(failing: [.commit: [call]],
                                         timing: Bool.random(using: &random) ? .beforeEffect : .afterEffect)
            expectedRestarts = 1
        }

        let results = TransactionalResults<ValueSum>()
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.configuration.batchSize = 32
        env.configuration.checkpoints.directory = try makeCheckpointDirectory()
        env.configuration.checkpoints.interval = .milliseconds(1)
        env.configuration.checkpoints.tolerableFailedCheckpoints = tolerable
        try mode.apply(to: &env.configuration.checkpoints)
        // More attempts than expected, so that an unexpected restart shows in the count.
        env.configuration.restartStrategy = .fixedDelay(attempts: expectedRestarts + 3, delay: .zero)

        let numbers: DataStream<Int64>
        if case .generatorSource = point {
            let failures = recordFailures
            numbers = env.fromGenerator(count: Self.records, recordsPerSecond: 100_000) { index in
                try failures.check(index)
                return index
            }
        } else {
            let readerFailures = point.isSourceReader ? recordFailures : FailureInjector([])
            numbers = env.fromSource(PacedSequenceSource(count: Self.records, chunk: Self.chunk, failures: readerFailures),
                                     name: "Paced Source")
        }
        let functionFailures = point.isUserFunction ? recordFailures : FailureInjector([])
        numbers.setParallelism(Int(Self.splits)).uid("numbers")
            .keyBy { Self.key($0) }
            .process(FailingRunningSum(failures: functionFailures)).uid("running-sum")
            .sinkTo(TransactionalCollectSink(results, faults: faults))

        let label = "\(point), \(mode), seed \(seed)"
        FlakyEncodedCount.failEncoding(calls: stateEncodingFailures)
        defer { FlakyEncodedCount.failEncoding(calls: []) }
        let client = try env.executeAsync(label)
        _ = try client.waitForResult()
        return Run(committed: results.committed, restarts: client.restarts, expectedRestarts: expectedRestarts,
                   plannedFailures: recordFailures.planned + (faults == nil ? 0 : 1) + stateEncodingFailures.count,
                   firedFailures: recordFailures.firedCount + (faults?.injectedCount ?? 0) + FlakyEncodedCount.firedCount,
                   failedCheckpoints: client.checkpointStatistics.failed,
                   unfinishedTransactions: results.unfinishedTransactions, label: label)
    }

    func assertScenario(_ point: FailurePoint, _ mode: CheckpointModeUnderTest) throws {
        // Skips before any job runs in a mode the runtime does not have yet.
        var modeCheck = CheckpointConfig()
        try mode.apply(to: &modeCheck)
        for seed in Self.seeds {
            let run = try runJob(point, mode: mode, seed: seed)
            let label = run.label
            XCTAssertEqual(run.firedFailures, run.plannedFailures, "\(label): every injected failure fired")
            XCTAssertEqual(run.restarts, run.expectedRestarts, "\(label): restarts")
            XCTAssertEqual(run.unfinishedTransactions, 0, "\(label): every transaction ends committed or aborted")
            if point.isToleratedSnapshotFailure {
                XCTAssertGreaterThanOrEqual(run.failedCheckpoints, 1, "\(label): the declined checkpoint is counted")
            }
            if mode.isExactlyOnce {
                assertExactlyOnce(run.committed, label)
            } else {
                assertNothingLost(run.committed, label)
            }
        }
    }

    /// Per key, exactly the failure-free records in the failure-free order.
    func assertExactlyOnce(_ committed: [ValueSum], _ label: String) {
        XCTAssertEqual(committed.count, Int(Self.records), "\(label): nothing lost, nothing repeated")
        let perKey = Dictionary(grouping: committed, by: \.key)
        XCTAssertEqual(Set(perKey.keys), Set(Self.expectedPerKey.keys), label)
        for (key, expected) in Self.expectedPerKey where perKey[key] != expected {
            let got = perKey[key] ?? []
            let firstDifference = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? min(got.count, expected.count)
            XCTFail("\(label): key \(key) differs from record \(firstDifference) on (\(got.count) committed, \(expected.count) expected)")
        }
    }

    /// Every input value is in the output at least once (sums may count a replayed record twice).
    func assertNothingLost(_ committed: [ValueSum], _ label: String) {
        XCTAssertGreaterThanOrEqual(committed.count, Int(Self.records), label)
        XCTAssertEqual(Set(committed.map(\.value)), Set(0..<Self.records), "\(label): every record arrived")
    }

    func testWithoutFailuresTheOutputIsTheExpectedOne() throws { try assertScenario(.none, .aligned) }

    /// Sinks commit their last transactions only when the whole job has finished: a subtask
    /// that committed when its own input ended would have its records replayed, and committed
    /// twice, when another subtask fails after that. Without checkpoints the only commits are
    /// the two last ones; the second fails, and the job restarts from the start.
    func testAFailureAfterOneSinkSubtaskFinishedRepeatsNothing() throws {
        let results = TransactionalResults<ValueSum>()
        let faults = TransactionalFaults(failing: [.commit: [2]])
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.configuration.checkpoints.directory = try makeCheckpointDirectory()
        env.configuration.restartStrategy = .fixedDelay(attempts: 3, delay: .zero)
        env.fromSequence(0...(Self.records - 1))
            .keyBy { Self.key($0) }
            .process(FailingRunningSum(failures: FailureInjector([])))
            .sinkTo(TransactionalCollectSink(results, faults: faults))
        let client = try env.executeAsync("last commits")
        _ = try client.waitForResult()
        XCTAssertEqual(faults.injectedCount, 1)
        XCTAssertEqual(client.restarts, 1, "the failed commit is retried once")
        XCTAssertEqual(results.unfinishedTransactions, 0)
        assertExactlyOnce(results.committed, "last commits")
    }

    // MARK: user function

    func testUserFunctionFailuresAligned() throws { try assertScenario(.userFunction, .aligned) }
    func testUserFunctionFailuresUnaligned() throws { try assertScenario(.userFunction, .unaligned) }
    func testUserFunctionFailuresAlignedThenUnaligned() throws { try assertScenario(.userFunction, .alignedThenUnaligned) }
    func testUserFunctionFailuresAtLeastOnce() throws { try assertScenario(.userFunction, .atLeastOnce) }

    // MARK: sources

    func testSourceReaderFailuresAligned() throws { try assertScenario(.sourceReader, .aligned) }
    func testSourceReaderFailuresUnaligned() throws { try assertScenario(.sourceReader, .unaligned) }
    func testSourceReaderFailuresAlignedThenUnaligned() throws { try assertScenario(.sourceReader, .alignedThenUnaligned) }
    func testSourceReaderFailuresAtLeastOnce() throws { try assertScenario(.sourceReader, .atLeastOnce) }

    func testGeneratorSourceFailuresAligned() throws { try assertScenario(.generatorSource, .aligned) }
    func testGeneratorSourceFailuresUnaligned() throws { try assertScenario(.generatorSource, .unaligned) }
    func testGeneratorSourceFailuresAlignedThenUnaligned() throws { try assertScenario(.generatorSource, .alignedThenUnaligned) }
    func testGeneratorSourceFailuresAtLeastOnce() throws { try assertScenario(.generatorSource, .atLeastOnce) }

    // MARK: snapshot

    func testToleratedSnapshotFailureAligned() throws { try assertScenario(.snapshot(tolerated: true), .aligned) }
    func testToleratedSnapshotFailureUnaligned() throws { try assertScenario(.snapshot(tolerated: true), .unaligned) }
    func testToleratedSnapshotFailureAlignedThenUnaligned() throws {
        try assertScenario(.snapshot(tolerated: true), .alignedThenUnaligned)
    }
    func testToleratedSnapshotFailureAtLeastOnce() throws { try assertScenario(.snapshot(tolerated: true), .atLeastOnce) }

    func testStateSnapshotFailureAligned() throws { try assertScenario(.stateSnapshot, .aligned) }
    func testStateSnapshotFailureUnaligned() throws { try assertScenario(.stateSnapshot, .unaligned) }
    func testStateSnapshotFailureAlignedThenUnaligned() throws { try assertScenario(.stateSnapshot, .alignedThenUnaligned) }
    func testStateSnapshotFailureAtLeastOnce() throws { try assertScenario(.stateSnapshot, .atLeastOnce) }

    func testSnapshotFailureBeyondToleranceAligned() throws { try assertScenario(.snapshot(tolerated: false), .aligned) }
    func testSnapshotFailureBeyondToleranceUnaligned() throws { try assertScenario(.snapshot(tolerated: false), .unaligned) }
    func testSnapshotFailureBeyondToleranceAlignedThenUnaligned() throws {
        try assertScenario(.snapshot(tolerated: false), .alignedThenUnaligned)
    }
    func testSnapshotFailureBeyondToleranceAtLeastOnce() throws { try assertScenario(.snapshot(tolerated: false), .atLeastOnce) }

    // MARK: commit

    func testCommitFailureAligned() throws { try assertScenario(.commit, .aligned) }
    func testCommitFailureUnaligned() throws { try assertScenario(.commit, .unaligned) }
    func testCommitFailureAlignedThenUnaligned() throws { try assertScenario(.commit, .alignedThenUnaligned) }
    func testCommitFailureAtLeastOnce() throws { try assertScenario(.commit, .atLeastOnce) }
}

extension ExactlyOnceTests.FailurePoint {
    var isUserFunction: Bool { if case .userFunction = self { true } else { false } }
    var isSourceReader: Bool { if case .sourceReader = self { true } else { false } }
    var isToleratedSnapshotFailure: Bool {
        switch self {
        case .snapshot(tolerated: true), .stateSnapshot: true
        default: false
        }
    }
}
