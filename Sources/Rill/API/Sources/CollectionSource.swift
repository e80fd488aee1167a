/// The elements of a collection still to emit.
public struct CollectionSplit: SourceSplit {
    public var splitId: String { "collection" }
    /// Index of the next element to emit.
    public var offset: Int
    /// Number of elements.
    public let count: Int

    var isFinished: Bool { offset >= count }
}

/// Emits the elements of an array in order, from one subtask (Flink's `fromData`).
public struct CollectionSource<T: Sendable>: Source {
    public typealias Output = T
    public let elements: [T]

    public init(_ elements: [T]) { self.elements = elements }

    public var boundedness: Boundedness { .bounded }

    public func createEnumerator(_ context: SplitEnumeratorContext<CollectionSplit>) throws -> StaticSplitEnumerator<CollectionSplit> {
        StaticSplitEnumerator(context: context, splits: [CollectionSplit(offset: 0, count: elements.count)])
    }

    public func createReader(_ context: SourceReaderContext) throws -> IteratingSplitReader<CollectionSplit, T> {
        let elements = self.elements
        return IteratingSplitReader(context: context, isFinished: { $0.isFinished }) { split, output, budget in
            let end = min(elements.count, split.offset + budget)
            for index in split.offset..<end { try output.collect(elements[index]) }
            split.offset = end
        }
    }
}

/// Generates `count` records from their index with a user function, optionally limited to a
/// number of records per second across all subtasks (Flink's `DataGeneratorSource`).
/// `count == Int64.max` makes it unbounded.
public struct DataGeneratorSource<T>: Source {
    public typealias Output = T
    public let count: Int64
    public let recordsPerSecond: Double?
    public let generator: @Sendable (Int64) throws -> T

    public init(count: Int64, recordsPerSecond: Double? = nil, generator: @escaping @Sendable (Int64) throws -> T) {
        self.count = count
        self.recordsPerSecond = recordsPerSecond
        self.generator = generator
    }

    public var boundedness: Boundedness { count == Int64.max ? .continuousUnbounded : .bounded }

    public func createEnumerator(_ context: SplitEnumeratorContext<NumberSequenceSplit>) throws -> StaticSplitEnumerator<NumberSequenceSplit> {
        StaticSplitEnumerator(context: context,
                              splits: count > 0 ? NumberSequenceSource.split(from: 0, to: count - 1, into: context.currentParallelism) : [])
    }

    public func createReader(_ context: SourceReaderContext) throws -> IteratingSplitReader<NumberSequenceSplit, T> {
        let generator = self.generator
        guard let recordsPerSecond, recordsPerSecond > 0 else {
            return IteratingSplitReader(context: context) { split, output, budget in
                var next = split.from
                let last = split.to
                var emitted = 0
                while next <= last && emitted < budget {
                    try output.collect(generator(next))
                    next += 1
                    emitted += 1
                }
                split.from = next
            }
        }
        let limiter = RateLimiter(perSecond: recordsPerSecond / Double(context.parallelism), clock: context.clock)
        return IteratingSplitReader(context: context) { split, output, budget in
            let permitted = limiter.acquire(upTo: budget)
            if permitted == 0 {
                context.wakeUp(atProcessingTime: limiter.nextPermitTime)
                return
            }
            var next = split.from
            let last = split.to
            var emitted = 0
            while next <= last && emitted < permitted {
                try output.collect(generator(next))
                next += 1
                emitted += 1
            }
            limiter.consumed(emitted)
            split.from = next
        }
    }
}

/// Permits a steady number of records per second of processing time.
@usableFromInline final class RateLimiter {
    @usableFromInline let perSecond: Double
    @usableFromInline let clock: any ProcessingTimeClock
    @usableFromInline let start: Int64
    @usableFromInline var used: Int64 = 0

    @usableFromInline init(perSecond: Double, clock: any ProcessingTimeClock) {
        self.perSecond = perSecond
        self.clock = clock
        start = clock.currentTimeMillis()
    }

    @usableFromInline func acquire(upTo budget: Int) -> Int {
        let elapsed = Double(clock.currentTimeMillis() - start)
        let allowed = Int64(elapsed * perSecond / 1000) + 1
        return Int(max(0, min(Int64(budget), allowed - used)))
    }

    @usableFromInline func consumed(_ count: Int) { used += Int64(count) }

    /// When the next record is permitted.
    @usableFromInline var nextPermitTime: Int64 { start + Int64((Double(used) * 1000 / perSecond).rounded(.up)) }
}
