/// The control path of a runtime operator: lifecycle, watermarks and end of input.
///
/// The task reaches operators only through ``OperatorControl``, a set of closures that the
/// public API builds where the user's types are concrete, so that even the control path
/// (which fires timers, often once per record) runs specialized code.
@usableFromInline
protocol StreamOperator: AnyObject {
    func open() throws
    /// The combined watermark of the operator's inputs advanced.
    func processWatermark(_ watermark: Int64) throws
    func processWatermarkStatus(idle: Bool) throws
    /// All inputs ended; the operator may still emit.
    func endInput() throws
    /// Emit whatever is buffered; no more input follows.
    func finish() throws
    /// Release resources; called on success and on failure.
    func close() throws
}

extension StreamOperator {
    @usableFromInline func open() throws {}
    @usableFromInline func processWatermarkStatus(idle: Bool) throws {}
    @usableFromInline func endInput() throws {}
    @usableFromInline func finish() throws {}
    @usableFromInline func close() throws {}
}

/// An operator with one typed input.
@usableFromInline
protocol OneInputStreamOperator: StreamOperator {
    associatedtype In
    func processBatch(_ batch: [StreamRecord<In>]) throws
}

/// An operator with two typed inputs (connect, broadcast).
@usableFromInline
protocol TwoInputStreamOperator: StreamOperator {
    associatedtype In1
    associatedtype In2
    func processBatch1(_ batch: [StreamRecord<In1>]) throws
    func processBatch2(_ batch: [StreamRecord<In2>]) throws
}

/// Type-erased handles to one operator instance, made in specialized code.
@usableFromInline
struct OperatorControl {
    @usableFromInline let open: () throws -> Void
    @usableFromInline let processWatermark: (Int64) throws -> Void
    @usableFromInline let processWatermarkStatus: (Bool) throws -> Void
    @usableFromInline let endInput: () throws -> Void
    @usableFromInline let finish: () throws -> Void
    @usableFromInline let close: () throws -> Void
    @usableFromInline let instance: AnyObject

    @inlinable
    init<Op: StreamOperator>(_ op: Op) {
        instance = op
        open = { try op.open() }
        processWatermark = { try op.processWatermark($0) }
        processWatermarkStatus = { try op.processWatermarkStatus(idle: $0) }
        endInput = { try op.endInput() }
        finish = { try op.finish() }
        close = { try op.close() }
    }

    @usableFromInline var watermarkTarget: WatermarkTarget {
        WatermarkTarget(processWatermark: processWatermark, processWatermarkStatus: processWatermarkStatus)
    }
}

/// A typed batch consumer behind a type-erased reference, for build-time wiring.
@usableFromInline
final class BatchConsumer<T> {
    @usableFromInline let consume: ([StreamRecord<T>]) throws -> Void
    @inlinable init(_ consume: @escaping ([StreamRecord<T>]) throws -> Void) { self.consume = consume }
}

/// What building one operator instance yields.
@usableFromInline
struct BuiltOperator {
    @usableFromInline let control: OperatorControl
    /// `BatchConsumer<In_i>` for each input, in input order.
    @usableFromInline let inputs: [AnyObject]
    /// Present for sources: emits at most one batch and says whether more is available.
    @usableFromInline let pollNext: (() throws -> InputStatus)?

    @inlinable
    init<Op: OneInputStreamOperator>(oneInput op: Op) {
        control = OperatorControl(op)
        inputs = [BatchConsumer<Op.In> { try op.processBatch($0) }]
        pollNext = nil
    }

    @inlinable
    init<Op: TwoInputStreamOperator>(twoInput op: Op) {
        control = OperatorControl(op)
        inputs = [BatchConsumer<Op.In1> { try op.processBatch1($0) }, BatchConsumer<Op.In2> { try op.processBatch2($0) }]
        pollNext = nil
    }

    @inlinable
    init<Op: StreamOperator>(source op: Op, pollNext: @escaping () throws -> InputStatus) {
        control = OperatorControl(op)
        inputs = []
        self.pollNext = pollNext
    }
}

/// What a source reader reports after a poll.
public enum InputStatus: Sendable {
    /// Call again at once.
    case moreAvailable
    /// Nothing now; the reader wakes its task through its context when data arrives.
    case nothingAvailable
    /// The reader is done for good.
    case endOfInput
}
