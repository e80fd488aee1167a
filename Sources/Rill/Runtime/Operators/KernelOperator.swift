/// A stateless one-input operator (map, filter, flatMap) whose per-batch work is a closure built
/// where the user's types are concrete, so its loop is specialized.
@usableFromInline
final class KernelOperator<In, Out>: OneInputStreamOperator {
    @usableFromInline let kernel: ([StreamRecord<In>], Output<Out>) throws -> Void
    @usableFromInline let output: Output<Out>

    @inlinable
    init(output: Output<Out>, kernel: @escaping ([StreamRecord<In>], Output<Out>) throws -> Void) {
        self.output = output
        self.kernel = kernel
    }

    @inlinable
    func processBatch(_ batch: [StreamRecord<In>]) throws {
        try kernel(batch, output)
        try output.flush()
    }

    @usableFromInline func processWatermark(_ watermark: Int64) throws { try output.emitWatermark(watermark) }
    @usableFromInline func processWatermarkStatus(idle: Bool) throws { try output.emitWatermarkStatus(idle: idle) }
}

extension Output {
    /// Emits a whole batch; it travels on without copying when nothing is buffered.
    @inlinable
    public func emit(_ batch: [StreamRecord<T>]) throws {
        if buffer.isEmpty && batch.count >= batchSize / 2 {
            try flushSideOutputs()
            try deliver(batch)
        } else {
            buffer.append(contentsOf: batch)
            if buffer.count >= batchSize { try flush() }
        }
    }
}
