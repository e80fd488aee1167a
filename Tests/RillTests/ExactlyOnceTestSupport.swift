import Foundation
import Synchronization
import XCTest
@testable import Rill
import RillTesting

/// Throws once at each of the given values, across all job attempts.
final class FailureInjector: Sendable {
    let remaining: Mutex<Set<Int64>>
    let planned: Int
    let fired = Atomic<Int>(0)

    init(_ values: Set<Int64>) {
        remaining = Mutex(values)
        planned = values.count
    }

    var firedCount: Int { fired.load(ordering: .relaxed) }

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

/// A record with the input value that caused it: exactly-once checks the sums, at-least-once
/// checks that every value arrived.
struct ValueSum: Hashable, Sendable, Codable {
    let key: Int64
    let value: Int64
    let sum: Int64
}

/// Emits (key, value, running sum) per record from keyed ValueState, throwing where `failures`
/// says (a failure in a user function). It also counts records per key in a state whose
/// encoding can be made to fail (``FlakyEncodedCount``).
final class FailingRunningSum: KeyedProcessFunction {
    typealias Key = Int64
    let failures: FailureInjector
    var sum: ValueState<Int64>!
    var count: ValueState<FlakyEncodedCount>!

    init(failures: FailureInjector) { self.failures = failures }

    func open(_ context: RuntimeContext) throws {
        sum = try context.getState(ValueStateDescriptor<Int64>(name: "sum"))
        count = try context.getState(ValueStateDescriptor<FlakyEncodedCount>(name: "count"))
    }

    func processElement(_ value: Int64, _ context: KeyedProcessContext<Int64, ValueSum>, _ out: Collector<ValueSum>) throws {
        try failures.check(value)
        let next = (sum.value() ?? 0) + value
        sum.update(next)
        count.update(FlakyEncodedCount(value: (count.value()?.value ?? 0) + 1))
        try out.collect(ValueSum(key: context.currentKey, value: value, sum: next))
    }
}

/// A number in keyed state whose encoding throws at chosen calls: keyed state is encoded only
/// when it is snapshotted, so this makes an operator's state snapshot fail (as a value that
/// cannot be serialized would).
struct FlakyEncodedCount: Codable, Sendable {
    let value: Int64

    private struct Faults {
        var calls = 0
        var failing: Set<Int> = []
        var fired = 0
    }

    /// Encode calls of this process since ``failEncoding(calls:)``; tests run one job at a time.
    private static let faults = Mutex(Faults())

    /// Makes the encode calls numbered `calls` (from 1, counting from now) throw; `[]` for none.
    static func failEncoding(calls: Set<Int>) { faults.withLock { $0 = Faults(failing: calls) } }

    /// How many encode calls have thrown since ``failEncoding(calls:)``.
    static var firedCount: Int { faults.withLock { $0.fired } }

    init(value: Int64) { self.value = value }

    init(from decoder: any Decoder) throws { value = try decoder.singleValueContainer().decode(Int64.self) }

    func encode(to encoder: any Encoder) throws {
        let fails = Self.faults.withLock { faults -> Bool in
            faults.calls += 1
            guard faults.failing.contains(faults.calls) else { return false }
            faults.fired += 1
            return true
        }
        if fails { throw InjectedJobFailure(value: value) }
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

extension XCTestCase {
    /// A new empty directory for checkpoints, deleted after the test: in memory (`/dev/shm`)
    /// where there is one, because these tests are about recovery, not the disk, and an fsync
    /// there costs nothing; elsewhere in the temporary directory.
    func makeCheckpointDirectory() throws -> String {
        let memory = "/dev/shm"
        guard FileManager.default.isWritableFile(atPath: memory) else { return try makeTemporaryDirectory() }
        let path = memory + "/rill-ckpt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}

extension XCTestCase {
    /// 1,000 numbers from a paced source (a checkpoint after every 50 per subtask) → running sum
    /// per `value % 4`, failing where `failures` says → transactional sink into `results`, with a
    /// checkpoint every millisecond into a new directory.
    func makePacedJob(parallelism: Int, failures: FailureInjector,
                      results: TransactionalResults<ValueSum>) throws -> StreamEnvironment {
        let env = StreamEnvironment()
        env.configuration.parallelism = parallelism
        env.configuration.checkpoints.directory = try makeCheckpointDirectory()
        env.configuration.checkpoints.interval = .milliseconds(1)
        env.fromSource(PacedSequenceSource(count: 1_000, chunk: 50, failures: FailureInjector([])), name: "Paced Source")
            .keyBy { $0 % 4 }
            .process(FailingRunningSum(failures: failures))
            .sinkTo(TransactionalCollectSink(results))
        return env
    }
}

func temporaryDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "rill-\(name)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
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

/// The numbers `0..<count` in one contiguous split per subtask, emitted `chunk` at a time: after
/// each chunk the reader waits until a checkpoint barrier has passed it. So a job takes about
/// `count / (chunk × parallelism)` checkpoints however fast the machine is, and a failure
/// "at the n-th pre-commit" is sure to come. The reader throws where `failures` says (a
/// failure in a split-based source reader).
struct PacedSequenceSource: Source {
    typealias Output = Int64
    let count: Int64
    let chunk: Int64
    let failures: FailureInjector

    var boundedness: Boundedness { .bounded }

    func createEnumerator(_ context: SplitEnumeratorContext<NumberSequenceSplit>) throws -> StaticSplitEnumerator<NumberSequenceSplit> {
        StaticSplitEnumerator(context: context, splits: NumberSequenceSource.split(from: 0, to: count - 1, into: context.currentParallelism))
    }

    func createReader(_ context: SourceReaderContext) throws -> PacedSequenceReader {
        PacedSequenceReader(context: context, chunk: chunk, failures: failures)
    }
}

final class PacedSequenceReader: SourceReader {
    typealias Output = Int64
    typealias Split = NumberSequenceSplit
    let context: SourceReaderContext
    let chunk: Int64
    let failures: FailureInjector
    var splits: [NumberSequenceSplit] = []
    var noMoreSplits = false
    var requested = false
    var emittedSinceSnapshot: Int64 = 0

    init(context: SourceReaderContext, chunk: Int64, failures: FailureInjector) {
        self.context = context
        self.chunk = chunk
        self.failures = failures
    }

    func start() throws { try request() }

    private func request() throws {
        guard !requested && !noMoreSplits else { return }
        requested = true
        try context.sendSplitRequest()
    }

    func pollNext(_ output: ReaderOutput<Int64>) throws -> InputStatus {
        guard var split = splits.first else {
            if noMoreSplits { return .endOfInput }
            try request()
            return .nothingAvailable
        }
        // The trigger mail of the next checkpoint wakes the task.
        guard emittedSinceSnapshot < chunk else { return .nothingAvailable }
        let end = min(split.to, split.from + chunk - emittedSinceSnapshot - 1)
        for value in split.from...end {
            try failures.check(value)
            try output.collect(value)
        }
        emittedSinceSnapshot += end - split.from + 1
        split.from = end + 1
        if split.isFinished {
            splits.removeFirst()
            if splits.isEmpty { try request() }
        } else {
            splits[0] = split
        }
        return .moreAvailable
    }

    func addSplits(_ splits: [NumberSequenceSplit]) {
        requested = false
        self.splits.append(contentsOf: splits)
    }

    func notifyNoMoreSplits() {
        requested = false
        noMoreSplits = true
    }

    func snapshotState(checkpointId: Int64) -> [NumberSequenceSplit] {
        emittedSinceSnapshot = 0
        return splits
    }
}
