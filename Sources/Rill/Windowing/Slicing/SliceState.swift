/// How the slices of a sliced window aggregate: one accumulator per key and slice, merged per
/// window.
@usableFromInline
protocol _SliceAggregation {
    associatedtype In
    associatedtype Acc
    associatedtype Out

    /// The accumulator of a slice whose first element is `value`.
    func create(_ value: In) throws -> Acc
    func add(_ value: In, to accumulator: inout Acc) throws
    /// Combines two slices, `earlier` first.
    func merge(_ earlier: Acc, _ later: Acc) throws -> Acc
    func result(_ accumulator: Acc) -> Out
}

/// `reduce`: a slice holds the reduced value of its elements.
@usableFromInline
struct _ReduceSlices<T>: _SliceAggregation {
    @usableFromInline let reduce: (T, T) throws -> T

    @inlinable init(_ reduce: @escaping (T, T) throws -> T) { self.reduce = reduce }

    @inlinable func create(_ value: T) throws -> T { value }
    @inlinable func add(_ value: T, to accumulator: inout T) throws { accumulator = try reduce(accumulator, value) }
    @inlinable func merge(_ earlier: T, _ later: T) throws -> T { try reduce(earlier, later) }
    @inlinable func result(_ accumulator: T) -> T { accumulator }
}

/// `aggregate`: a slice holds an accumulator; windows merge them with `F.merge`.
@usableFromInline
struct _AggregateSlices<F: AggregateFunction>: _SliceAggregation {
    @usableFromInline let function: F

    @inlinable init(_ function: F) { self.function = function }

    @inlinable func create(_ value: F.In) throws -> F.Accumulator { function.add(value, to: function.createAccumulator()) }
    @inlinable func add(_ value: F.In, to accumulator: inout F.Accumulator) throws { accumulator = function.add(value, to: accumulator) }
    @inlinable func merge(_ earlier: F.Accumulator, _ later: F.Accumulator) throws -> F.Accumulator { function.merge(earlier, later) }
    @inlinable func result(_ accumulator: F.Accumulator) -> F.Out { function.getResult(accumulator) }
}

/// One slice of time `(end - sliceSize, end]` for every key of a subtask: the key slots with
/// data in it and their accumulators, in order of arrival. Slices are recycled with their
/// storage.
///
/// Storage is two manually grown buffers (`slots`, `accumulators`, initialized up to `count`)
/// so that updating an accumulator is a pointer write, without copy-on-write checks.
@usableFromInline
final class _Slice<Acc> {
    // Used only on the task thread, and no access overlaps another.
    @usableFromInline @exclusivity(unchecked) var end: Int64 = 0
    @usableFromInline @exclusivity(unchecked) var count = 0
    @usableFromInline @exclusivity(unchecked) var capacity = 0
    @usableFromInline @exclusivity(unchecked) var slots: UnsafeMutablePointer<Int32>
    @usableFromInline @exclusivity(unchecked) var accumulators: UnsafeMutablePointer<Acc>
    /// Slot → position, built on demand for elements that arrive for an older slice of a key.
    @usableFromInline @exclusivity(unchecked) var positions: [Int32: Int32]?

    @usableFromInline
    init() {
        slots = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        accumulators = UnsafeMutablePointer<Acc>.allocate(capacity: 1)
    }

    deinit {
        accumulators.deinitialize(count: count)
        accumulators.deallocate()
        slots.deallocate()
    }

    /// Appends a key's first accumulator in this slice; returns its position.
    ///
    /// - Complexity: amortized O(1).
    @inlinable
    func append(slot: Int32, _ accumulator: Acc) -> Int32 {
        if count == capacity { grow() }
        (slots + count).initialize(to: slot)
        (accumulators + count).initialize(to: accumulator)
        positions?[slot] = Int32(count)
        count += 1
        return Int32(count - 1)
    }

    @usableFromInline
    func grow() {
        let newCapacity = Swift.max(16, capacity * 2)
        let newSlots = UnsafeMutablePointer<Int32>.allocate(capacity: newCapacity)
        newSlots.moveInitialize(from: slots, count: count)
        slots.deallocate()
        slots = newSlots
        let newAccumulators = UnsafeMutablePointer<Acc>.allocate(capacity: newCapacity)
        newAccumulators.moveInitialize(from: accumulators, count: count)
        accumulators.deallocate()
        accumulators = newAccumulators
        capacity = newCapacity
    }

    /// The position of `slot`, if it has data here.
    ///
    /// - Complexity: O(1) expected once built; the first call builds the index in O(count).
    @usableFromInline
    func position(of slot: Int32) -> Int32? {
        if positions == nil {
            var index: [Int32: Int32] = [:]
            index.reserveCapacity(count)
            for position in 0..<count { index[slots[position]] = Int32(position) }
            positions = index
        }
        return positions![slot]
    }

    /// Empties the slice for reuse, keeping its buffers.
    @usableFromInline
    func reset() {
        accumulators.deinitialize(count: count)
        count = 0
        positions = nil
    }
}

/// A slice's keys and accumulators, read for snapshots.
protocol _SliceEntries {
    associatedtype Acc
    var end: Int64 { get }
    /// The position of `slot`'s accumulator, if the key has data in the slice.
    func position(of slot: Int32) -> Int32?
    func accumulator(at position: Int32) -> Acc
}

extension _Slice: _SliceEntries {
    func accumulator(at position: Int32) -> Acc { accumulators[Int(position)] }
}

/// A copy of a slice taken for a checkpoint, read on the checkpoint writer's thread.
final class _CapturedSlice<Acc>: _SliceEntries {
    // Read by one thread at a time; `positions` is built on first use.
    let end: Int64
    let slots: [Int32]
    let accumulators: [Acc]
    private var positions: [Int32: Int32]?

    init(copying slice: _Slice<Acc>) {
        end = slice.end
        slots = Array(UnsafeBufferPointer(start: slice.slots, count: slice.count))
        accumulators = Array(UnsafeBufferPointer(start: slice.accumulators, count: slice.count))
    }

    func position(of slot: Int32) -> Int32? {
        if positions == nil {
            var index: [Int32: Int32] = [:]
            index.reserveCapacity(slots.count)
            for (position, slot) in slots.enumerated() { index[slot] = Int32(position) }
            positions = index
        }
        return positions![slot]
    }

    func accumulator(at position: Int32) -> Acc { accumulators[Int(position)] }
}

/// What a slicing operator keeps per key slot.
@usableFromInline
struct _SliceKeyInfo {
    /// The end of the newest slice where the key has data (`Int64.min`: none).
    @usableFromInline var latestEnd = Int64.min
    /// The key's position in that slice.
    @usableFromInline var latestPosition: Int32 = 0
    /// How many slices hold data of the key; the key holds its backend slot while positive.
    @usableFromInline var liveSlices: Int32 = 0
    /// While a window is being combined: the window end, and the key's position in the
    /// operator's scratch arrays.
    @usableFromInline var mergeEnd = Int64.min
    @usableFromInline var mergePosition: Int32 = 0
    /// Windows ending at or before this were emitted before a restore.
    @usableFromInline var firedThrough = Int64.min

    @inlinable init() {}
}

/// What a checkpoint stores of one key: its slices and the windows already emitted.
@usableFromInline
struct _SliceSnapshot<Acc> {
    @usableFromInline var ends: [Int64]
    @usableFromInline var accumulators: [Acc]
    @usableFromInline var firedThrough: Int64

    @inlinable
    init(ends: [Int64], accumulators: [Acc], firedThrough: Int64) {
        self.ends = ends
        self.accumulators = accumulators
        self.firedThrough = firedThrough
    }
}

extension _SliceSnapshot: Codable where Acc: Codable {}

extension _SliceSnapshot: BinaryCodable where Acc: BinaryCodable {
    @usableFromInline
    func encode(to writer: inout BinaryWriter) {
        ends.encode(to: &writer)
        accumulators.encode(to: &writer)
        writer.writeVarInt(firedThrough)
    }

    @usableFromInline
    init(from reader: inout BinaryReader) throws {
        let ends = try [Int64](from: &reader)
        let accumulators = try [Acc](from: &reader)
        guard ends.count == accumulators.count else {
            throw CodecError._malformed("slice ends and accumulators differ in count", at: reader.offset)
        }
        self.init(ends: ends, accumulators: accumulators, firedThrough: try reader.readVarInt())
    }
}

/// The keyed state of a slicing window operator, registered with the backend like any keyed
/// state: live slices in time order (each holding the keys with data in it), and per key slot
/// a ``_SliceKeyInfo``. A key holds a reference on its backend slot while it has data in any
/// slice, and takes part in checkpoints through ``KeyedStateSnapshotting``.
///
/// Slice-major storage keeps the hot path sequential: the elements of one slice of time go to
/// one array whatever their key, and a window fires by walking its slices.
@usableFromInline
final class _SliceState<Acc>: _KeyedStateStorage, KeyedStateSnapshotting, _CapturableState {
    @usableFromInline let name: String
    @usableFromInline let ctx: _KeyContext
    @usableFromInline let sliceSize: Int64
    @usableFromInline @exclusivity(unchecked) var info: _SlotColumn<_SliceKeyInfo>
    /// Live slices in ascending `end` from `head`.
    @usableFromInline @exclusivity(unchecked) var slices: [_Slice<Acc>] = []
    @usableFromInline @exclusivity(unchecked) var head = 0
    @usableFromInline @exclusivity(unchecked) var pool: [_Slice<Acc>] = []
    /// Set by the operator before a snapshot: windows ending at or before this were emitted.
    var snapshotFiredThrough = Int64.min

    init(name: String, context: _KeyContext, slotCapacity: Int, sliceSize: Int64) {
        self.name = name
        ctx = context
        self.sliceSize = sliceSize
        info = _SlotColumn(capacity: slotCapacity, repeating: _SliceKeyInfo())
    }

    deinit { info.destroy() }

    /// The key info of `slot`, for reading and writing (a page a snapshot shares is copied
    /// first).
    @inlinable
    func keyInfo(_ slot: Int32) -> UnsafeMutablePointer<_SliceKeyInfo> { info.writableAddress(slot) }

    @inlinable var isEmpty: Bool { head == slices.count }

    /// The live slice ending at `end`, created if needed; also returns whether it is new.
    ///
    /// - Complexity: O(1) for the newest slice; O(log n) otherwise (plus O(n) to insert an
    ///   older slice).
    @inlinable
    func slice(endingAt end: Int64) -> (slice: _Slice<Acc>, isNew: Bool) {
        if let newest = slices.last, head < slices.count {
            if newest.end == end { return (newest, false) }
            if newest.end < end { return (appendSlice(end), true) }
        } else {
            return (appendSlice(end), true)
        }
        var low = head
        var high = slices.count
        while low < high {
            let middle = (low + high) / 2
            if slices[middle].end < end { low = middle + 1 } else { high = middle }
        }
        if slices[low].end == end { return (slices[low], false) }
        let slice = makeSlice(end)
        slices.insert(slice, at: low)
        return (slice, true)
    }

    @usableFromInline
    func appendSlice(_ end: Int64) -> _Slice<Acc> {
        if head > 0 && head == slices.count {
            slices.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= slices.count {
            slices.removeFirst(head)
            head = 0
        }
        let slice = makeSlice(end)
        slices.append(slice)
        return slice
    }

    @usableFromInline
    func makeSlice(_ end: Int64) -> _Slice<Acc> {
        let slice = pool.popLast() ?? _Slice<Acc>()
        slice.end = end
        return slice
    }

    /// Drops the oldest slice: its keys lose a slice, and a key with none left releases its
    /// backend slot.
    ///
    /// - Complexity: O(keys with data in the slice).
    @inlinable
    func dropOldestSlice() {
        let slice = slices[head]
        head += 1
        for position in 0..<slice.count {
            let slot = slice.slots[position]
            let key = keyInfo(slot)
            key.pointee.liveSlices -= 1
            if key.pointee.liveSlices == 0 {
                key.pointee = _SliceKeyInfo()
                ctx.releaseSlot(slot)
            } else {
                ctx.markDirty(slot: slot)
            }
        }
        slice.reset()
        pool.append(slice)
    }

    // MARK: _KeyedStateStorage

    @usableFromInline func _growSlots(to capacity: Int) { info.grow(to: capacity, repeating: _SliceKeyInfo()) }
    @usableFromInline var _hasTTL: Bool { false }
    @usableFromInline func _purgeExpired(at slot: Int32, now: Int64) {}
    @usableFromInline func _holdsValue(at slot: Int32) -> Bool { keyInfo(slot).pointee.liveSlices > 0 }

    // MARK: KeyedStateSnapshotting

    @usableFromInline
    func snapshotEntry(at slot: KeyedStateSlot) -> _SliceSnapshot<Acc>? {
        Self.entry(of: slot.raw, key: info[unchecked: slot.raw], slices: slices[head...], firedThrough: snapshotFiredThrough)
    }

    /// Slices change in place, so a capture copies their keys and accumulators (a flat copy,
    /// nothing encoded); the key infos are frozen copy-on-write.
    ///
    /// - Complexity: O(entries of the live slices).
    @usableFromInline
    func _captureEntries() -> (Int32) -> _SliceSnapshot<Acc>? {
        let info = info.freeze()
        let slices = slices[head...].map { _CapturedSlice(copying: $0) }
        let firedThrough = snapshotFiredThrough
        return { slot in Self.entry(of: slot, key: info[slot], slices: slices, firedThrough: firedThrough) }
    }

    /// The snapshot entry of the key at `slot`, from `slices` in ascending end.
    static func entry<Slices: Collection>(
        of slot: Int32, key: _SliceKeyInfo, slices: Slices, firedThrough: Int64
    ) -> _SliceSnapshot<Acc>? where Slices.Element: _SliceEntries, Slices.Element.Acc == Acc {
        guard key.liveSlices > 0 else { return nil }
        var ends: [Int64] = []
        var accumulators: [Acc] = []
        for slice in slices {
            if slice.end > key.latestEnd { break }
            let found = slice.end == key.latestEnd ? key.latestPosition : slice.position(of: slot)
            if let found {
                ends.append(slice.end)
                accumulators.append(slice.accumulator(at: found))
            }
        }
        return _SliceSnapshot(ends: ends, accumulators: accumulators,
                              firedThrough: Swift.max(key.firedThrough, firedThrough))
    }

    /// Adds the current key's restored slices (the operator then recomputes what to fire).
    @usableFromInline
    func restoreEntry(_ entry: _SliceSnapshot<Acc>) {
        guard !entry.ends.isEmpty else { return }
        var slot = ctx.slot
        if keyInfo(slot).pointee.liveSlices == 0 { slot = ctx.acquireSlot() }
        let key = keyInfo(slot)
        key.pointee.firedThrough = Swift.max(key.pointee.firedThrough, entry.firedThrough)
        for (end, accumulator) in zip(entry.ends, entry.accumulators) {
            let slice = self.slice(endingAt: end).slice
            let position: Int32
            if let existing = slice.position(of: slot) {
                position = existing
                slice.accumulators[Int(existing)] = accumulator
            } else {
                position = slice.append(slot: slot, accumulator)
                key.pointee.liveSlices += 1
            }
            if end >= key.pointee.latestEnd {
                key.pointee.latestEnd = end
                key.pointee.latestPosition = position
            }
        }
        ctx.markDirty()
    }
}

extension KeyedStateBackend {
    /// The slice state named `name`, created on first use.
    func getSliceState<Acc>(name: String, accumulator: Acc.Type, sliceSize: Int64) throws(StateError) -> _SliceState<Acc> {
        try register(name, ttl: nil) { () throws(StateError) in
            _SliceState<Acc>(name: name, context: ctx, slotCapacity: slotCapacity, sliceSize: sliceSize)
        }
    }
}
