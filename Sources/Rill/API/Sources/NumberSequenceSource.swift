/// A range of numbers still to emit.
public struct NumberSequenceSplit: SourceSplit, Equatable {
    public let splitId: String
    /// The next number to emit.
    public var from: Int64
    /// The last number to emit (inclusive).
    public let to: Int64

    public init(splitId: String, from: Int64, to: Int64) {
        self.splitId = splitId
        self.from = from
        self.to = to
    }

    /// Set when the range ended at `Int64.max`, where `from` cannot move past `to`.
    public var exhausted = false

    @usableFromInline var isFinished: Bool { exhausted || from > to }
}

/// Emits each number of `from...to` exactly once, split into one contiguous range per subtask
/// (Flink's `NumberSequenceSource`).
public struct NumberSequenceSource: Source {
    public typealias Output = Int64
    public let from: Int64
    public let to: Int64

    public init(from: Int64, to: Int64) {
        self.from = from
        self.to = to
    }

    public var boundedness: Boundedness { .bounded }

    public func createEnumerator(_ context: SplitEnumeratorContext<NumberSequenceSplit>) throws -> StaticSplitEnumerator<NumberSequenceSplit> {
        StaticSplitEnumerator(context: context, splits: Self.split(from: from, to: to, into: context.currentParallelism))
    }

    public func createReader(_ context: SourceReaderContext) throws -> IteratingSplitReader<NumberSequenceSplit, Int64> {
        IteratingSplitReader(context: context) { split, output, budget in
            let first = split.from
            guard first <= split.to else { return }
            let end = split.to - first < Int64(budget) ? split.to : first + Int64(budget) - 1
            try output.collect(numbers: first...end)
            split.from = end == Int64.max ? end : end + 1
            if end == Int64.max { split.exhausted = true }
        }
    }

    /// Splits `from...to` into `count` contiguous ranges of near-equal size.
    @usableFromInline static func split(from: Int64, to: Int64, into count: Int) -> [NumberSequenceSplit] {
        guard to >= from else { return [] }
        let total = UInt64(bitPattern: to &- from) &+ 1
        let parts = UInt64(max(1, count))
        var splits: [NumberSequenceSplit] = []
        var start = from
        for index in 0..<parts {
            let size = total / parts + (index < total % parts ? 1 : 0)
            if size == 0 { continue }
            let end = start &+ Int64(bitPattern: size &- 1)
            splits.append(NumberSequenceSplit(splitId: String(index), from: start, to: end))
            start = end &+ 1
        }
        return splits
    }
}

/// Hands out a fixed list of splits, one per request, then signals that there are no more.
public final class StaticSplitEnumerator<Split: SourceSplit>: SplitEnumerator {
    @usableFromInline let context: SplitEnumeratorContext<Split>
    @usableFromInline var remaining: [Split]

    public init(context: SplitEnumeratorContext<Split>, splits: [Split]) {
        self.context = context
        remaining = splits
    }

    public func handleSplitRequest(subtask: Int) throws {
        if remaining.isEmpty {
            context.signalNoMoreSplits(to: subtask)
        } else {
            context.assignSplits([remaining.removeFirst()], to: subtask)
        }
    }

    public func addSplitsBack(_ splits: [Split], subtask: Int) { remaining.append(contentsOf: splits) }

    public func snapshotState() -> [Split] { remaining }
}

extension Source where Enumerator == StaticSplitEnumerator<Split> {
    public func restoreEnumerator(_ context: SplitEnumeratorContext<Split>, unassignedSplits: [Split]) throws -> Enumerator {
        StaticSplitEnumerator(context: context, splits: unassignedSplits)
    }
}

/// A reader that asks for one split at a time and emits from it with a user closure until the
/// split is finished.
public final class IteratingSplitReader<Split: SourceSplit, Output>: SourceReader {
    public typealias Emit = (_ split: inout Split, _ output: ReaderOutput<Output>, _ budget: Int) throws -> Void
    @usableFromInline let context: SourceReaderContext
    @usableFromInline let emit: Emit
    @usableFromInline let isFinished: (Split) -> Bool
    @usableFromInline var current: Split?
    @usableFromInline var queued: [Split] = []
    @usableFromInline var noMoreSplits = false
    @usableFromInline var requested = false

    public init(context: SourceReaderContext, isFinished: @escaping (Split) -> Bool, emit: @escaping Emit) {
        self.context = context
        self.emit = emit
        self.isFinished = isFinished
    }

    public func start() throws { try request() }

    private func request() throws {
        guard !requested && !noMoreSplits else { return }
        requested = true
        try context.sendSplitRequest()
    }

    public func pollNext(_ output: ReaderOutput<Output>) throws -> InputStatus {
        if current == nil, !queued.isEmpty { current = queued.removeFirst() }
        guard var split = current else {
            if noMoreSplits { return .endOfInput }
            try request()
            return .nothingAvailable
        }
        try emit(&split, output, context.batchSize)
        if isFinished(split) {
            current = nil
            if queued.isEmpty {
                try request()
                if noMoreSplits { return .endOfInput }
            }
        } else {
            current = split
        }
        return .moreAvailable
    }

    public func addSplits(_ splits: [Split]) {
        requested = false
        queued.append(contentsOf: splits)
    }

    public func notifyNoMoreSplits() {
        requested = false
        noMoreSplits = true
    }

    public func snapshotState(checkpointId: Int64) -> [Split] {
        (current.map { [$0] } ?? []) + queued
    }
}

extension IteratingSplitReader where Split == NumberSequenceSplit {
    @usableFromInline convenience init(context: SourceReaderContext, emit: @escaping Emit) {
        self.init(context: context, isFinished: { $0.isFinished }, emit: emit)
    }
}
