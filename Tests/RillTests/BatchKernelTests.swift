import Synchronization
import XCTest
@testable import Rill
import RillTesting

/// Counts live instances, to show that records a failing kernel already produced are released.
final class TrackedRecord: Sendable {
    static let live = Atomic<Int>(0)
    let value: Int64
    init(_ value: Int64) {
        self.value = value
        Self.live.add(1, ordering: .relaxed)
    }
    deinit { Self.live.subtract(1, ordering: .relaxed) }
}

/// A collection whose `count` says fewer elements than it iterates (a broken conformance).
struct UnderstatedCollection: Collection {
    let elements: [Int]
    let claimedCount: Int
    var startIndex: Int { 0 }
    var endIndex: Int { elements.count }
    subscript(position: Int) -> Int { elements[position] }
    func index(after i: Int) -> Int { i + 1 }
    var count: Int { claimedCount }
}

/// Emits its batches with `ReaderOutput.collect(contentsOf:)`, one per poll.
struct BulkSource: Source {
    typealias Output = Int
    let batches: @Sendable () -> [AnyCollectionOfInts]
    var boundedness: Boundedness { .bounded }

    func createEnumerator(_ context: SplitEnumeratorContext<OnlySplit>) throws -> StaticSplitEnumerator<OnlySplit> {
        StaticSplitEnumerator(context: context, splits: [OnlySplit()])
    }

    func createReader(_ context: SourceReaderContext) throws -> Reader { Reader(context: context, batches: batches()) }

    final class Reader: SourceReader {
        typealias Output = Int
        typealias Split = OnlySplit
        let context: SourceReaderContext
        var batches: [AnyCollectionOfInts]
        init(context: SourceReaderContext, batches: [AnyCollectionOfInts]) {
            self.context = context
            self.batches = batches
        }

        func start() throws {}
        func pollNext(_ output: ReaderOutput<Int>) throws -> InputStatus {
            guard !batches.isEmpty else { return .endOfInput }
            try batches.removeFirst().emit(output)
            return .moreAvailable
        }
        func addSplits(_ splits: [OnlySplit]) {}
        func notifyNoMoreSplits() {}
        func snapshotState(checkpointId: Int64) -> [OnlySplit] { [] }
    }
}

/// One concrete collection handed to `collect(contentsOf:)` with its static type.
struct AnyCollectionOfInts: Sendable {
    let emit: @Sendable (ReaderOutput<Int>) throws -> Void
    init<C: Collection & Sendable>(_ values: C) where C.Element == Int {
        emit = { try $0.collect(contentsOf: values) }
    }
}

extension UnderstatedCollection: Sendable {}

final class BatchKernelTests: XCTestCase {
    private func environment(batchSize: Int) -> StreamEnvironment {
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 1
        configuration.batchSize = batchSize
        return StreamEnvironment(configuration: configuration)
    }

    /// A data-dependent pattern, so a filter keeps and drops irregularly.
    private static func scrambled(_ i: Int) -> Int { (i &* 7_919) % 1_000 }

    func testFilterKeepsExactlyTheMatchingRecordsInOrderWithTheirTimestamps() async throws {
        let input = (0..<2_000).map(Self.scrambled)
        for batchSize in [1, 7, 1024] {
            let env = environment(batchSize: batchSize)
            let results = CollectedResults<Int>()
            env.fromCollection(input, watermarkStrategy: .forMonotonousTimestamps().withTimestampAssigner { _, _ in 42 })
                .filter { $0 % 3 == 1 || $0 > 900 }
                .collect(into: results)
            let result = try await env.execute()
            let expected = input.filter { $0 % 3 == 1 || $0 > 900 }
            XCTAssertEqual(results.values, expected, "batch size \(batchSize)")
            XCTAssertTrue(results.timestampedValues.allSatisfy { $0.timestamp == 42 }, "batch size \(batchSize)")
            XCTAssertEqual(result.counts("Filter")?.recordsIn, input.count)
            XCTAssertEqual(result.counts("Filter")?.recordsOut, expected.count)
        }
    }

    func testFilterOfReferenceCountedRecordsKeepsExactlyTheMatchingOnes() async throws {
        let input = (0..<2_000).map { "r\(Self.scrambled($0))" }
        let env = environment(batchSize: 64)
        let results = CollectedResults<String>()
        env.fromCollection(input).filter { $0.hasSuffix("7") }.collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.values, input.filter { $0.hasSuffix("7") })
    }

    func testMapChangesTheTypeAndKeepsEachRecordsTimestamp() async throws {
        let env = environment(batchSize: 5)
        let results = CollectedResults<String>()
        env.fromCollection(Array(0..<23), watermarkStrategy: .forMonotonousTimestamps().withTimestampAssigner { v, _ in Int64(v) * 10 })
            .map { "v\($0)" }
            .collect(into: results)
        try await env.execute()
        XCTAssertEqual(results.timestampedValues, (0..<23).map { StreamRecord("v\($0)", timestamp: Int64($0) * 10) })
    }

    func testMapThatThrowsInTheMiddleOfABatchReleasesWhatItMappedAndNamesItself() async throws {
        let env = environment(batchSize: 100)
        env.fromSequence(1...1_000)
            .map { value -> TrackedRecord in
                if value == 250 { throw InjectedFailure(detail: "record 250") }
                return TrackedRecord(value)
            }.name("Tracking Map")
            .filter { $0.value % 2 == 0 }.name("Even")
            .addSink { _ in }
        let error = await RuntimeTestKit.expectRillError(code: .userFunctionFailed) { try await env.execute() }
        XCTAssertEqual(error?.operatorName, "Tracking Map")
        XCTAssertEqual(error?.underlying as? InjectedFailure, InjectedFailure(detail: "record 250"))
        XCTAssertEqual(TrackedRecord.live.load(ordering: .relaxed), 0,
                       "records mapped before the failure, in the failing batch or earlier, are all released")
    }

    func testFilterThatThrowsNamesTheFilterNotTheMapBeforeIt() async throws {
        let env = environment(batchSize: 100)
        env.fromSequence(1...1_000)
            .map { "n\($0)" }.name("Label")
            .filter { label in
                if label == "n333" { throw InjectedFailure(detail: "filter") }
                return true
            }.name("Picky Filter")
            .addSink { _ in }
        let error = await RuntimeTestKit.expectRillError(code: .userFunctionFailed) { try await env.execute() }
        XCTAssertEqual(error?.operatorName, "Picky Filter")
    }

    func testCollectContentsOfEmitsEveryElementOfEveryKindOfCollection() async throws {
        let env = environment(batchSize: 8)
        let results = CollectedResults<Int>()
        let source = BulkSource(batches: {
            [AnyCollectionOfInts([1, 2, 3]),                                    // contiguous storage
             AnyCollectionOfInts(4...20),                                       // computed elements
             AnyCollectionOfInts([25, 24, 23, 22, 21].reversed()),              // no contiguous storage
             AnyCollectionOfInts([Int]()),                                      // nothing
             AnyCollectionOfInts(UnderstatedCollection(elements: Array(26...40), claimedCount: 4))]
        })
        env.fromSource(source, name: "Bulk").collect(into: results)
        let result = try await env.execute()
        XCTAssertEqual(results.values, Array(1...40),
                       "a collection whose count understates its elements still delivers all of them, in order")
        XCTAssertEqual(result.counts("Bulk")?.recordsOut, 40)
    }
}
