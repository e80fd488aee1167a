/// Lifecycle hooks shared by all process functions (Flink's `RichFunction`).
///
/// Rill creates one instance per subtask from the expression you pass to the operator, so a
/// function may keep mutable fields (state handles, caches) without locks.
public protocol RichFunction: AnyObject {
    /// Called once before the first record; get state handles here.
    func open(_ context: RuntimeContext) throws
    /// Called once after the last record, on success and on failure.
    func close() throws
}

extension RichFunction {
    public func open(_ context: RuntimeContext) throws {}
    public func close() throws {}
}

/// Processes each element of a (non-keyed) stream (Flink's `ProcessFunction`).
public protocol ProcessFunction<In, Out>: RichFunction {
    associatedtype In
    associatedtype Out
    func processElement(_ value: In, _ context: ProcessContext<Out>, _ out: Collector<Out>) throws
}

/// Processes each element of a keyed stream with keyed state and timers (Flink's `KeyedProcessFunction`).
public protocol KeyedProcessFunction<Key, In, Out>: RichFunction {
    associatedtype Key: StableHashable
    associatedtype In
    associatedtype Out
    func processElement(_ value: In, _ context: KeyedProcessContext<Key, Out>, _ out: Collector<Out>) throws
    /// A timer registered through ``KeyedProcessContext/timerService`` fired; the context's
    /// `timeDomain` says which kind.
    func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<Key, Out>, _ out: Collector<Out>) throws
}

extension KeyedProcessFunction {
    public func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<Key, Out>, _ out: Collector<Out>) throws {}
}

/// Processes two connected streams (Flink's `CoProcessFunction`).
public protocol CoProcessFunction<In1, In2, Out>: RichFunction {
    associatedtype In1
    associatedtype In2
    associatedtype Out
    func processElement1(_ value: In1, _ context: ProcessContext<Out>, _ out: Collector<Out>) throws
    func processElement2(_ value: In2, _ context: ProcessContext<Out>, _ out: Collector<Out>) throws
}

/// Processes two connected keyed streams sharing keyed state and timers (Flink's `KeyedCoProcessFunction`).
public protocol KeyedCoProcessFunction<Key, In1, In2, Out>: RichFunction {
    associatedtype Key: StableHashable
    associatedtype In1
    associatedtype In2
    associatedtype Out
    func processElement1(_ value: In1, _ context: KeyedProcessContext<Key, Out>, _ out: Collector<Out>) throws
    func processElement2(_ value: In2, _ context: KeyedProcessContext<Key, Out>, _ out: Collector<Out>) throws
    func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<Key, Out>, _ out: Collector<Out>) throws
}

extension KeyedCoProcessFunction {
    public func onTimer(_ timestamp: Int64, _ context: KeyedProcessContext<Key, Out>, _ out: Collector<Out>) throws {}
}

/// Processes a stream together with a broadcast stream whose elements update broadcast state
/// on every subtask (Flink's `BroadcastProcessFunction`).
public protocol BroadcastProcessFunction<In, BroadcastIn, Out>: RichFunction {
    associatedtype In
    associatedtype BroadcastIn
    associatedtype Out
    /// A regular element; broadcast state is read-only here.
    func processElement(_ value: In, _ context: BroadcastReadOnlyContext<Out>, _ out: Collector<Out>) throws
    /// A broadcast element; every subtask sees it and may update broadcast state.
    func processBroadcastElement(_ value: BroadcastIn, _ context: BroadcastContext<Out>, _ out: Collector<Out>) throws
}

/// Which clock a timer belongs to.
public enum TimeDomain: Sendable {
    case eventTime
    case processingTime
}

/// The context of a ``ProcessFunction`` or ``CoProcessFunction`` call.
public class ProcessContext<Out> {
    @usableFromInline let output: Output<Out>
    @exclusivity(unchecked) @usableFromInline var currentTimestamp: Int64 = Int64.min
    @usableFromInline var watermark: Int64 = Int64.min
    @usableFromInline let timeService: ProcessingTimeService

    @usableFromInline
    init(output: Output<Out>, timeService: ProcessingTimeService) {
        self.output = output
        self.timeService = timeService
    }

    /// The timestamp of the element being processed, or `nil` if it has none.
    public var timestamp: Int64? { currentTimestamp == Int64.min ? nil : currentTimestamp }
    /// The operator's current event-time watermark.
    public var currentWatermark: Int64 { watermark }
    /// The current processing time in milliseconds.
    public var currentProcessingTime: Int64 { timeService.currentTime }

    /// Emits `value` to the side output `tag`, with the current element's timestamp.
    @inlinable
    public func output<S>(_ tag: OutputTag<S>, _ value: S) throws {
        try output.collect(tag, value, timestamp: currentTimestamp)
    }
}

/// The context of a ``KeyedProcessFunction`` call: adds the current key and timers.
public final class KeyedProcessContext<Key: StableHashable, Out>: ProcessContext<Out> {
    @exclusivity(unchecked) @usableFromInline var key: Key?
    @exclusivity(unchecked) @usableFromInline var domain: TimeDomain?
    /// Registers and deletes timers for the current key.
    public let timerService: TimerService<Key>

    @usableFromInline
    init(output: Output<Out>, timerService: TimerService<Key>, timeService: ProcessingTimeService) {
        self.timerService = timerService
        super.init(output: output, timeService: timeService)
    }

    /// The key of the element (or timer) being processed.
    public var currentKey: Key { key! }
    /// In ``KeyedProcessFunction/onTimer(_:_:_:)``: which kind of timer fired; otherwise `nil`.
    public var timeDomain: TimeDomain? { domain }
}
