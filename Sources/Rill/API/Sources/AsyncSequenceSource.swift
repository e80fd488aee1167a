import Synchronization

/// Feeds a job from any `AsyncSequence`, from one subtask. The sequence is iterated on Swift's
/// concurrency pool and handed to the task thread through a bounded buffer, so a fast sequence
/// waits for a slow job instead of filling memory.
public struct AsyncSequenceSource<Sequence: AsyncSequence & Sendable>: Source where Sequence.Element: Sendable {
    public typealias Output = Sequence.Element
    public let sequence: Sequence
    public let bufferCapacity: Int

    public init(_ sequence: Sequence, bufferCapacity: Int = 1024) {
        self.sequence = sequence
        self.bufferCapacity = max(1, bufferCapacity)
    }

    public var boundedness: Boundedness { .bounded }

    public func createEnumerator(_ context: SplitEnumeratorContext<AsyncSequenceSplit>) throws -> StaticSplitEnumerator<AsyncSequenceSplit> {
        StaticSplitEnumerator(context: context, splits: [AsyncSequenceSplit()])
    }

    public func createReader(_ context: SourceReaderContext) throws -> AsyncSequenceReader<Sequence> {
        AsyncSequenceReader(sequence: sequence, capacity: bufferCapacity, context: context)
    }
}

/// The only split of an ``AsyncSequenceSource``. An async sequence cannot be rewound, so it has
/// no position to checkpoint.
public struct AsyncSequenceSplit: SourceSplit {
    public var splitId: String { "async-sequence" }
}

/// Reads an ``AsyncSequenceSource``.
public final class AsyncSequenceReader<Sequence: AsyncSequence & Sendable>: SourceReader where Sequence.Element: Sendable {
    public typealias Output = Sequence.Element
    public typealias Split = AsyncSequenceSplit

    private struct Buffer: @unchecked Sendable {
        // Only accessed under the mutex.
        var elements: [Sequence.Element] = []
        var finished = false
        var failure: (any Error)?
        var waitingProducer: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let sequence: Sequence
    private let capacity: Int
    private let context: SourceReaderContext
    private final class SharedBuffer: Sendable {
        let state = Mutex(Buffer())
        func withLock<R>(_ body: (inout Buffer) -> R) -> R { state.withLock { body(&$0) } }
    }

    private let buffer = SharedBuffer()
    private var producer: Task<Void, Never>?
    private var started = false

    @usableFromInline init(sequence: Sequence, capacity: Int, context: SourceReaderContext) {
        self.sequence = sequence
        self.capacity = capacity
        self.context = context
    }

    public func addSplits(_ splits: [AsyncSequenceSplit]) {
        guard !splits.isEmpty, !started else { return }
        started = true
        let sequence = self.sequence
        let capacity = self.capacity
        let context = self.context
        producer = Task { [buffer] in
            do {
                for try await element in sequence {
                    if Task.isCancelled { break }
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        let mustWait = buffer.withLock { state -> Bool in
                            if state.closed { return false }
                            state.elements.append(element)
                            if state.elements.count >= capacity {
                                state.waitingProducer = continuation
                                return true
                            }
                            return false
                        }
                        context.wakeUp()
                        if !mustWait { continuation.resume() }
                    }
                    if buffer.withLock({ $0.closed }) { break }
                }
                buffer.withLock { $0.finished = true }
            } catch {
                buffer.withLock {
                    $0.failure = error
                    $0.finished = true
                }
            }
            context.wakeUp()
        }
    }

    public func start() throws { try context.sendSplitRequest() }

    public func pollNext(_ output: ReaderOutput<Output>) throws -> InputStatus {
        let (elements, finished, failure, waiting) = buffer.withLock { state in
            let taken = state.elements
            state.elements.removeAll(keepingCapacity: true)
            let waiting = state.waitingProducer
            state.waitingProducer = nil
            return (taken, state.finished, state.failure, waiting)
        }
        waiting?.resume()
        for element in elements { try output.collect(element) }
        if let failure { throw failure }
        if !elements.isEmpty { return .moreAvailable }
        return finished ? .endOfInput : .nothingAvailable
    }

    public func notifyNoMoreSplits() {}

    public func snapshotState(checkpointId: Int64) -> [AsyncSequenceSplit] { started ? [AsyncSequenceSplit()] : [] }

    public func close() throws {
        let waiting = buffer.withLock { state -> CheckedContinuation<Void, Never>? in
            state.closed = true
            let waiting = state.waitingProducer
            state.waitingProducer = nil
            return waiting
        }
        waiting?.resume()
        producer?.cancel()
    }
}
