/// What every process-function operator (one- and two-input, keyed or not) holds and does
/// around its user function: the output, the collector and context it passes, the setup, and
/// the per-batch loop that stamps each record's timestamp before the function sees it.
///
/// A value stored in its operator (or keyed core), so no extra indirection. The loops are
/// `@inlinable` and always inlined, with the function call as a non-escaping closure: inside
/// the operator's specialized `processBatch` the closure is inlined too, so a record costs a
/// direct call of the user's function, as before this type existed.
@usableFromInline
struct ProcessCore<Out, Context: ProcessContext<Out>> {
    @usableFromInline let output: Output<Out>
    @usableFromInline let collector: Collector<Out>
    /// The context passed with every element (for a broadcast operator, with its regular input's).
    @usableFromInline let context: Context
    @usableFromInline let setup: OperatorSetup

    @inlinable
    init(setup: OperatorSetup, output: Output<Out>, context: Context) {
        self.output = output
        self.setup = setup
        self.context = context
        collector = Collector(output)
    }

    /// Calls `body` with each record of `batch`, `context` and the collector, both stamped with
    /// the record's timestamp, then flushes the output.
    ///
    /// `body` gets the context and collector as arguments (not from this value, which a keyed
    /// operator reaches through a computed property, and copying it per record would retain
    /// each of its references).
    @inlinable @inline(__always)
    func processBatch<In, C: ProcessContext<Out>>(_ batch: [StreamRecord<In>], stamping context: C,
                                                 _ body: (In, C, Collector<Out>) throws -> Void) throws {
        let collector = collector
        for record in batch {
            context.currentTimestamp = record.timestamp
            collector.timestamp = record.timestamp
            try body(record.value, context, collector)
        }
        try output.flush()
    }

    /// ``processBatch(_:stamping:_:)`` with ``context``.
    @inlinable @inline(__always)
    func processBatch<In>(_ batch: [StreamRecord<In>], _ body: (In, Context, Collector<Out>) throws -> Void) throws {
        try processBatch(batch, stamping: context, body)
    }

    /// Tells ``context`` the watermark and forwards it.
    @inlinable
    func processWatermark(_ watermark: Int64) throws {
        context.watermark = watermark
        try output.emitWatermark(watermark)
    }
}

extension ProcessCore where Context == ProcessContext<Out> {
    /// The core of a non-keyed operator, with a plain ``ProcessContext``.
    @inlinable
    init(setup: OperatorSetup, output: Output<Out>) {
        self.init(setup: setup, output: output, context: ProcessContext(output: output, timeService: setup.timeService))
    }
}

/// An operator that runs a user's process function through a ``ProcessCore``: the lifecycle
/// and watermark handling they all share. Keyed operators (``KeyedFunctionOperator``) replace
/// `open` and `processWatermark` (keyed state, timers).
@usableFromInline
protocol ProcessFunctionOperator: StreamOperator {
    associatedtype Function: RichFunction
    associatedtype Out
    associatedtype Context: ProcessContext<Out>
    var function: Function { get }
    var process: ProcessCore<Out, Context> { get }
}

extension ProcessFunctionOperator {
    @usableFromInline func open() throws { try function.open(process.setup.makeRuntimeContext()) }
    @usableFromInline func processWatermark(_ watermark: Int64) throws { try process.processWatermark(watermark) }
    @usableFromInline func processWatermarkStatus(idle: Bool) throws { try process.output.emitWatermarkStatus(idle: idle) }
    @usableFromInline func finish() throws { try process.output.flush() }
    @usableFromInline func close() throws { try function.close() }
}
