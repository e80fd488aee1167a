import XCTest
@testable import Rill
import RillTesting

final class CountPerKey: KeyedProcessFunction {
    func processElement(_ value: Int64, _ context: KeyedProcessContext<Int64, Int64>, _ out: Collector<Int64>) throws {
        try out.collect(value)
    }
}

final class ValidationTests: XCTestCase {
    /// `explain()` and `executeAsync()` both reject the job with `code` and a message holding every hint.
    private func assertRejected(_ env: StreamEnvironment, code: RillError.Code, hints: [String],
                                file: StaticString = #filePath, line: UInt = #line) {
        for (what, attempt) in [("explain()", { _ = try env.explain() }),
                                ("executeAsync()", { _ = try env.executeAsync() })] as [(String, () throws -> Void)] {
            let error = RuntimeTestKit.expectRillErrorSync(code: code, file: file, line: line, attempt)
            for hint in hints {
                XCTAssertTrue(error?.message.contains(hint) ?? false,
                              "\(what): '\(error?.message ?? "no error")' should mention '\(hint)'", file: file, line: line)
            }
        }
    }

    func testParallelismZeroIsRejected() {
        let env = StreamEnvironment()
        env.configuration.parallelism = 0
        env.fromSequence(1...10).print()
        assertRejected(env, code: .invalidConfiguration, hints: ["parallelism is 0", "use 1 or more"])
    }

    func testOperatorParallelismZeroIsRejected() {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.fromSequence(1...10).map { $0 }.name("Zero").setParallelism(0).print()
        assertRejected(env, code: .invalidConfiguration, hints: ["'Zero'", "at least 1"])
    }

    func testKeyedOperatorParallelismAboveMaxParallelismIsRejected() {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.configuration.maxParallelism = 4
        env.fromSequence(1...10).keyBy { $0 }.process(CountPerKey()).name("Counter").setParallelism(8).print()
        assertRejected(env, code: .invalidConfiguration,
                       hints: ["'Counter'", "parallelism 8", "max parallelism 4", "raise the max parallelism"])
    }

    func testKeyedOperatorWithItsOwnTooSmallMaxParallelismIsRejected() {
        let env = StreamEnvironment()
        env.configuration.parallelism = 3
        env.fromSequence(1...10).keyBy { $0 }.process(CountPerKey()).name("Counter").setMaxParallelism(2).print()
        assertRejected(env, code: .invalidConfiguration, hints: ["'Counter'", "max parallelism 2"])
    }

    func testInvalidConfigurationValuesAreRejected() {
        func env(_ change: (inout StreamEnvironment.Configuration) -> Void) -> StreamEnvironment {
            var configuration = StreamEnvironment.Configuration()
            configuration.parallelism = 1
            change(&configuration)
            let env = StreamEnvironment(configuration: configuration)
            env.fromSequence(1...10).print()
            return env
        }
        assertRejected(env { $0.maxParallelism = 0 }, code: .invalidConfiguration, hints: ["1...32768"])
        assertRejected(env { $0.maxParallelism = 40_000 }, code: .invalidConfiguration, hints: ["1...32768"])
        assertRejected(env { $0.batchSize = 0 }, code: .invalidConfiguration, hints: ["batch size"])
        assertRejected(env { $0.channelCapacity = 0 }, code: .invalidConfiguration, hints: ["channel capacity"])
        assertRejected(env { $0.bufferTimeout = .milliseconds(-1) }, code: .invalidConfiguration, hints: ["buffer timeout"])
    }

    func testUIDUsedTwiceIsRejected() {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        env.fromSequence(1...10).uid("source")
            .map { $0 }.name("First").uid("shared")
            .map { $0 }.name("Second").uid("shared")
            .print()
        assertRejected(env, code: .invalidJobGraph, hints: ["'shared'", "'First'", "'Second'", "unique"])
    }

    func testForwardBetweenDifferentParallelismsIsRejected() {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.fromSequence(1...10).forward().map { $0 }.name("Wider").setParallelism(3).print()
        assertRejected(env, code: .invalidJobGraph, hints: ["forward", "'Wider' has 3", "rebalance()"])
    }

    func testForwardBetweenEqualParallelismsIsAccepted() throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.fromSequence(1...10).forward().map { $0 }.print()
        XCTAssertNoThrow(try env.explain())
    }

    func testEmptyJobIsRejected() {
        let env = StreamEnvironment()
        assertRejected(env, code: .invalidJobGraph, hints: ["no operators", "add a source"])
    }

    func testCycleIsRejected() throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let first = env.fromSequence(1...10).map { $0 + 1 }.name("First")
        let second = first.map { $0 * 2 }.name("Second")
        second.print()
        let firstNode = first.inputs[0].node
        let secondNode = second.inputs[0].node
        env.graph.addEdge(StreamEdge(source: StreamOutputRef(node: secondNode), target: firstNode, inputIndex: 0,
                                     partitioner: .rebalance, typeOps: .of(Int64.self), writers: .of(Int64.self)))
        assertRejected(env, code: .invalidJobGraph, hints: ["cycle", "First", "Second"])
    }

    func testTwoInputOperatorNeedsBothInputs() throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 1
        let first = env.fromCollection([1, 2])
        let second = env.fromCollection(["a"])
        let joined = first.connect(second).process(LabelBoth()).name("Both")
        joined.print()
        // Drop the second input's edge through the internals.
        env.graph.edges.removeAll { $0.target == joined.inputs[0].node && $0.inputIndex == 1 }
        assertRejected(env, code: .invalidJobGraph, hints: ["'Both'", "both inputs"])
    }

    func testValidJobIsAcceptedAndExplainsItself() throws {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.fromSequence(1...10).keyBy { $0 }.process(CountPerKey()).print()
        let plan = try env.explain()
        XCTAssertTrue(plan.contains("parallelism 2"), plan)
    }
}
