@_spi(Testing) import Rill

/// Drives the operators a test builds from a placeholder input, synchronously on the test's
/// thread, with a ``ManualClock`` (Flink's `OneInputStreamOperatorTestHarness`).
///
/// ```swift
/// let harness = try OperatorTestHarness<Event, Int> { input in
///     input.keyBy(\.user).process(CountPerUser())
/// }
/// try harness.processElement(Event(user: "a"), timestamp: 10)
/// try harness.processWatermark(100)
/// XCTAssertEqual(harness.output, [1])
/// ```
///
/// Every operator runs as subtask 0 of 1 and owns all key groups; partitioners are direct calls.
public final class OperatorTestHarness<In, Out> {
    let driver: LocalOperatorDriver
    private var records: [StreamRecord<Out>] = []
    private var watermarks: [Int64] = []
    private var sideOutputs: [ObjectIdentifier: [Any]] = [:]

    /// The processing-time clock; move it with ``setProcessingTime(_:)``.
    public var clock: ManualClock { driver.clock }

    /// - Parameters:
    ///   - clock: the processing-time clock (starts at 0 by default).
    ///   - maxParallelism: the number of key groups.
    ///   - build: adds the operators under test to `input` and returns their output.
    public init(clock: ManualClock = ManualClock(), maxParallelism: Int = 128,
                _ build: (DataStream<In>) -> DataStream<Out>) throws {
        driver = LocalOperatorDriver(clock: clock, maxParallelism: maxParallelism)
        let output = build(driver.makeInput(In.self))
        try driver.start(output: output)
        attachCollectors()
    }

    init(driver: LocalOperatorDriver) {
        self.driver = driver
    }

    func attachCollectors() {
        driver.collectOutput(Out.self, into: { [unowned self] in records.append(contentsOf: $0) },
                             watermarks: { [unowned self] in watermarks.append($0) })
        driver.collectSideOutputs(of: Out.self) { [unowned self] tag, record in
            sideOutputs[ObjectIdentifier(tag), default: []].append(record)
        }
    }

    /// Processes one element; `timestamp` is its event time (none if `nil`).
    public func processElement(_ value: In, timestamp: Int64? = nil) throws {
        try driver.process([StreamRecord(value, timestamp: timestamp ?? StreamRecord<In>.noTimestamp)])
    }

    /// Processes elements with their timestamps, in order.
    public func processElements(_ values: [(In, Int64)]) throws {
        try driver.process(values.map { StreamRecord($0.0, timestamp: $0.1) })
    }

    /// Advances event time: fires event-time timers up to `watermark`, then forwards it.
    public func processWatermark(_ watermark: Int64) throws { try driver.processWatermark(watermark) }

    /// Marks the input idle or active.
    public func processWatermarkStatus(idle: Bool) throws { try driver.processWatermarkStatus(idle: idle) }

    /// Moves processing time and fires due processing-time timers.
    public func setProcessingTime(_ millis: Int64) throws { try driver.advanceProcessingTime(to: millis) }

    /// Ends the input (operators finish and flush; no final watermark is implied).
    public func endInput() throws { try driver.endInput() }

    /// Closes the operators.
    public func close() throws { try driver.close() }

    /// Values emitted so far on the main output.
    public var output: [Out] { records.map(\.value) }
    /// Records (with timestamps) emitted so far on the main output.
    public var outputRecords: [StreamRecord<Out>] { records }
    /// Watermarks forwarded so far.
    public var outputWatermarks: [Int64] { watermarks }

    /// Records emitted so far to the side output `tag`.
    public func sideOutput<S>(_ tag: OutputTag<S>) -> [StreamRecord<S>] {
        (sideOutputs[ObjectIdentifier(tag.id)] ?? []).map { $0 as! StreamRecord<S> }
    }

    /// Forgets what was emitted so far.
    public func clearOutput() {
        records.removeAll()
        watermarks.removeAll()
        sideOutputs.removeAll()
    }
}

/// The one-input harness under Flink's name.
public typealias OneInputOperatorTestHarness<In, Out> = OperatorTestHarness<In, Out>

/// A harness for a ``KeyedProcessFunction`` (Flink's `KeyedOneInputStreamOperatorTestHarness`).
public final class KeyedOneInputOperatorTestHarness<Key: StableHashable, In, Out> {
    public let harness: OperatorTestHarness<In, Out>

    /// - Parameters:
    ///   - function: evaluated once to create the function instance under test.
    ///   - key: the key selector.
    public init<F: KeyedProcessFunction>(function: @autoclosure @escaping @Sendable () -> F,
                                         key: @escaping @Sendable (In) -> Key,
                                         clock: ManualClock = ManualClock(), maxParallelism: Int = 128) throws
    where F.In == In, F.Out == Out, F.Key == Key {
        harness = try OperatorTestHarness(clock: clock, maxParallelism: maxParallelism) { input in
            input.keyBy(key).process(function())
        }
    }

    public func processElement(_ value: In, timestamp: Int64? = nil) throws { try harness.processElement(value, timestamp: timestamp) }
    public func processWatermark(_ watermark: Int64) throws { try harness.processWatermark(watermark) }
    public func setProcessingTime(_ millis: Int64) throws { try harness.setProcessingTime(millis) }
    public func endInput() throws { try harness.endInput() }
    public func close() throws { try harness.close() }
    public var output: [Out] { harness.output }
    public var outputRecords: [StreamRecord<Out>] { harness.outputRecords }
    public var outputWatermarks: [Int64] { harness.outputWatermarks }
    public func sideOutput<S>(_ tag: OutputTag<S>) -> [StreamRecord<S>] { harness.sideOutput(tag) }
    public func clearOutput() { harness.clearOutput() }
}

/// Drives a two-input operator (connect, keyed connect, broadcast) synchronously (Flink's
/// `TwoInputStreamOperatorTestHarness`).
public final class TwoInputOperatorTestHarness<In1, In2, Out> {
    let driver: LocalOperatorDriver
    private let collector: OperatorTestHarness<In1, Out>

    public var clock: ManualClock { driver.clock }

    /// - Parameter build: connects the two inputs and returns the output under test.
    public init(clock: ManualClock = ManualClock(), maxParallelism: Int = 128,
                _ build: (DataStream<In1>, DataStream<In2>) -> DataStream<Out>) throws {
        driver = LocalOperatorDriver(clock: clock, maxParallelism: maxParallelism)
        let first = driver.makeInput(In1.self)
        let second = driver.makeInput(In2.self)
        try driver.start(output: build(first, second))
        collector = OperatorTestHarness(driver: driver)
        collector.attachCollectors()
    }

    public func processElement1(_ value: In1, timestamp: Int64? = nil) throws {
        try driver.process([StreamRecord(value, timestamp: timestamp ?? Int64.min)], input: 0)
    }

    public func processElement2(_ value: In2, timestamp: Int64? = nil) throws {
        try driver.process([StreamRecord(value, timestamp: timestamp ?? Int64.min)], input: 1)
    }

    public func processWatermark1(_ watermark: Int64) throws { try driver.processWatermark(watermark, input: 0) }
    public func processWatermark2(_ watermark: Int64) throws { try driver.processWatermark(watermark, input: 1) }
    public func setProcessingTime(_ millis: Int64) throws { try driver.advanceProcessingTime(to: millis) }
    public func endInput() throws { try driver.endInput() }
    public func close() throws { try driver.close() }
    public var output: [Out] { collector.output }
    public var outputRecords: [StreamRecord<Out>] { collector.outputRecords }
    public var outputWatermarks: [Int64] { collector.outputWatermarks }
    public func sideOutput<S>(_ tag: OutputTag<S>) -> [StreamRecord<S>] { collector.sideOutput(tag) }
    public func clearOutput() { collector.clearOutput() }
}
