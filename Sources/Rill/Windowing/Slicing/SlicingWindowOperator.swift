/// Aligned event-time windows (tumbling or sliding) with an incremental function, computed by
/// slicing: time is cut into slices of `gcd(size, slide)`, each element updates its key's
/// accumulator in one slice, and a window's result merges the slices it covers.
///
/// Used instead of ``WindowOperator`` for `reduce`/`aggregate` with the assigner's default
/// ``EventTimeTrigger``, no evictor and no allowed lateness; the results are the same (for the
/// associative and commutative functions incremental aggregation assumes). Each element costs
/// one accumulator update instead of `size / slide`, and no timer is registered per key and
/// window: all keys share the aligned window ends, so a watermark fires every window end it
/// reaches, in order, for the keys with data in the window's slices. Late elements (all their
/// windows fired) go to the late-data side output or are counted as dropped, as in
/// ``WindowOperator``.
@usableFromInline
final class SlicingWindowOperator<K: StableHashable, G: _SliceAggregation>: OneInputStreamOperator {
    @usableFromInline typealias In = G.In

    @usableFromInline let key: (In) -> K
    @usableFromInline let aggregation: G
    @usableFromInline let size: Int64
    @usableFromInline let slide: Int64
    @usableFromInline let offset: Int64
    @usableFromInline let sliceSize: Int64
    @usableFromInline let lateDataTag: OutputTag<In>?
    @usableFromInline let backend: KeyedStateBackend<K>
    @usableFromInline let state: _SliceState<G.Acc>
    @usableFromInline let ctx: _KeyContext
    @usableFromInline let output: Output<G.Out>
    @usableFromInline let setup: OperatorSetup
    @usableFromInline let lateRecordsDropped: LateRecordsCounter

    @exclusivity(unchecked) @usableFromInline var watermark = Int64.min
    /// The next window end to fire (`Int64.max`: no data).
    @exclusivity(unchecked) @usableFromInline var nextWindowEnd = Int64.max
    /// The slice of the last element, and its first and last window ends (most elements fall
    /// into the slice of the one before).
    @exclusivity(unchecked) @usableFromInline var sliceStart = Int64.max
    @exclusivity(unchecked) @usableFromInline var sliceEnd = Int64.min
    @exclusivity(unchecked) @usableFromInline var firstWindowEnd = Int64.min
    @exclusivity(unchecked) @usableFromInline var lastWindowEnd = Int64.min
    /// The slice `sliceEnd` once looked up, and its accumulators (refreshed when it grows);
    /// kept alive by the state's slices or its pool of recycled slices.
    @exclusivity(unchecked) @usableFromInline unowned(unsafe) var currentSlice: _Slice<G.Acc>?
    @exclusivity(unchecked) @usableFromInline var currentAccumulators: UnsafeMutablePointer<G.Acc>?
    /// Per-window merge of several slices: keys and accumulators in order of first arrival.
    @exclusivity(unchecked) @usableFromInline var scratchSlots: [Int32] = []
    @exclusivity(unchecked) @usableFromInline var scratchAccumulators: [G.Acc] = []

    @usableFromInline
    init(setup: OperatorSetup, output: Output<G.Out>, key: @escaping (In) -> K, aggregation: G,
         size: Int64, slide: Int64, offset: Int64, lateDataTag: OutputTag<In>?) throws {
        self.setup = setup
        self.output = output
        self.key = key
        self.aggregation = aggregation
        self.size = size
        self.slide = slide
        self.offset = offset
        sliceSize = gcd(size, slide)
        self.lateDataTag = lateDataTag
        backend = try KeyedStateBackend(maxParallelism: setup.maxParallelism, keyGroupRange: setup.keyGroupRange,
                                        clock: setup.clock)
        state = try backend.getSliceState(name: windowContentsStateName, accumulator: G.Acc.self, sliceSize: sliceSize)
        ctx = backend.ctx
        lateRecordsDropped = LateRecordsCounter.registered(in: setup)
    }

    // MARK: elements

    @inlinable
    func processBatch(_ batch: [StreamRecord<In>]) throws {
        for record in batch {
            let timestamp = record.timestamp
            if timestamp < sliceStart || timestamp >= sliceEnd { try locateSlice(timestamp) }
            if lastWindowEnd &- 1 <= watermark {
                // Every window of the element has fired: late.
                if let lateDataTag {
                    try output.collect(lateDataTag, record.value, timestamp: timestamp)
                } else {
                    lateRecordsDropped.increment()
                }
                continue
            }
            backend.setCurrentKey(key(record.value))
            let info = state.keyInfo(ctx.slot)
            if info.pointee.latestEnd == sliceEnd, let accumulators = currentAccumulators {
                try aggregation.add(record.value, to: &accumulators[Int(info.pointee.latestPosition)])
                ctx.markDirty()
            } else {
                try addSlow(record.value)
            }
        }
        try output.flush()
    }

    /// Caches the slice of `timestamp` and its first and last window ends.
    @inlinable
    func locateSlice(_ timestamp: Int64) throws {
        guard timestamp != StreamRecord<In>.noTimestamp else { throw missingTimestampError("the sliding window operator") }
        let start = TimeWindow.windowStart(timestamp: timestamp, offset: offset, windowSize: sliceSize)
        sliceStart = start
        sliceEnd = start &+ sliceSize
        firstWindowEnd = windowEnd(atOrAfter: sliceEnd)
        lastWindowEnd = TimeWindow.windowStart(timestamp: start, offset: offset, windowSize: slide) &+ size
        currentSlice = nil
        currentAccumulators = nil
    }

    /// The smallest window end at or after `time`.
    @inlinable
    func windowEnd(atOrAfter time: Int64) -> Int64 {
        TimeWindow.windowStart(timestamp: time &+ slide &- 1, offset: offset &+ size, windowSize: slide)
    }

    /// The element's key has no accumulator in the slice, or the slice is not cached.
    @inlinable
    func addSlow(_ value: In) throws {
        var slot = ctx.slot
        if state.keyInfo(slot).pointee.liveSlices == 0 { slot = ctx.acquireSlot() }
        let info = state.keyInfo(slot)
        let slice: _Slice<G.Acc>
        if let currentSlice {
            slice = currentSlice
        } else {
            let (located, isNew) = state.slice(endingAt: sliceEnd)
            slice = located
            currentSlice = located
            if isNew {
                // The slice's first window that has not fired yet.
                let first = firstWindowEnd &- 1 > watermark ? firstWindowEnd : windowEnd(atOrAfter: watermark &+ 2)
                if first < nextWindowEnd { nextWindowEnd = first }
            }
        }
        let latestEnd = info.pointee.latestEnd
        if latestEnd == sliceEnd {
            try aggregation.add(value, to: &slice.accumulators[Int(info.pointee.latestPosition)])
        } else if latestEnd < sliceEnd {
            info.pointee.latestPosition = slice.append(slot: slot, try aggregation.create(value))
            info.pointee.latestEnd = sliceEnd
            info.pointee.liveSlices += 1
        } else if let position = slice.position(of: slot) {
            // An element for an older slice of the key.
            try aggregation.add(value, to: &slice.accumulators[Int(position)])
        } else {
            _ = slice.append(slot: slot, try aggregation.create(value))
            info.pointee.liveSlices += 1
        }
        currentAccumulators = slice.accumulators
        ctx.markDirty()
    }

    // MARK: firing

    @inlinable
    func processWatermark(_ watermark: Int64) throws {
        self.watermark = watermark
        while nextWindowEnd != Int64.max && nextWindowEnd &- 1 <= watermark {
            let end = nextWindowEnd
            try fireWindow(endingAt: end)
            // Slices that no later window covers.
            let obsolete = end &+ slide &- size
            while !state.isEmpty && state.slices[state.head].end <= obsolete {
                if state.slices[state.head] === currentSlice {
                    currentSlice = nil
                    currentAccumulators = nil
                }
                state.dropOldestSlice()
            }
            nextWindowEnd = state.isEmpty
                ? Int64.max
                : Swift.max(end &+ slide, windowEnd(atOrAfter: state.slices[state.head].end))
        }
        try output.emitWatermark(watermark)
    }

    /// Emits the window `[end - size, end)` of every key with data in it.
    @inlinable
    func fireWindow(endingAt end: Int64) throws {
        let slices = state.slices
        var first = state.head
        let windowStart = end &- size
        while first < slices.count && slices[first].end <= windowStart { first += 1 }
        var last = first
        while last < slices.count && slices[last].end <= end { last += 1 }
        let timestamp = end &- 1
        if last - first == 1 {
            // One slice (always, for tumbling windows): its accumulators are the results.
            let slice = slices[first]
            for position in 0..<slice.count {
                if state.keyInfo(slice.slots[position]).pointee.firedThrough >= end { continue }
                try output.collect(aggregation.result(slice.accumulators[position]), timestamp: timestamp)
            }
            return
        }
        for index in first..<last {
            let slice = slices[index]
            for position in 0..<slice.count {
                let slot = slice.slots[position]
                let info = state.keyInfo(slot)
                if info.pointee.mergeEnd == end {
                    let merged = Int(info.pointee.mergePosition)
                    scratchAccumulators[merged] = try aggregation.merge(scratchAccumulators[merged], slice.accumulators[position])
                } else {
                    info.pointee.mergeEnd = end
                    info.pointee.mergePosition = Int32(scratchSlots.count)
                    scratchSlots.append(slot)
                    scratchAccumulators.append(slice.accumulators[position])
                }
            }
        }
        for merged in 0..<scratchSlots.count {
            if state.keyInfo(scratchSlots[merged]).pointee.firedThrough >= end { continue }
            try output.collect(aggregation.result(scratchAccumulators[merged]), timestamp: timestamp)
        }
        scratchSlots.removeAll(keepingCapacity: true)
        scratchAccumulators.removeAll(keepingCapacity: true)
    }

    /// After a restore: fire from the earliest window any restored key has not emitted.
    func resumeAfterRestore() {
        currentSlice = nil
        currentAccumulators = nil
        guard !state.isEmpty else { return }
        var earliest = Int64.max
        for index in state.head..<state.slices.count {
            let slice = state.slices[index]
            for position in 0..<slice.count {
                let firedThrough = state.keyInfo(slice.slots[position]).pointee.firedThrough
                let candidate = firedThrough == Int64.min
                    ? windowEnd(atOrAfter: slice.end)
                    : Swift.max(windowEnd(atOrAfter: slice.end), firedThrough &+ slide)
                earliest = Swift.min(earliest, candidate)
            }
        }
        nextWindowEnd = earliest
    }

    // MARK: lifecycle

    @usableFromInline func processWatermarkStatus(idle: Bool) throws { try output.emitWatermarkStatus(idle: idle) }
    @usableFromInline func finish() throws { try output.flush() }
}

/// The greatest common divisor of two positive numbers.
@usableFromInline
func gcd(_ a: Int64, _ b: Int64) -> Int64 {
    var (x, y) = (a, b)
    while y != 0 { (x, y) = (y, x % y) }
    return x
}
