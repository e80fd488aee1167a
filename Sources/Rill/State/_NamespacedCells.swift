/// Per-(key, namespace) storage shared by the namespaced (window) states: per key slot, a
/// dictionary from namespace to cell. A key holds a value in the state while its dictionary
/// is non-empty.
///
/// A class (not a struct) so that every access re-reads the column after a slot allocation
/// may have grown it.
@usableFromInline
final class _NamespacedCells<N: Hashable, Cell> {
    @usableFromInline let ctx: _KeyContext
    @usableFromInline @exclusivity(unchecked) var column: _SlotColumn<[N: Cell]>

    init(context: _KeyContext, slotCapacity: Int) {
        ctx = context
        column = _SlotColumn(capacity: slotCapacity, repeating: [:])
    }

    deinit { column.destroy() }

    /// The current key's cell in `namespace`.
    @inlinable
    func get(_ namespace: N) -> Cell? { column[unchecked: ctx.slot][namespace] }

    /// Sets the current key's cell in `namespace`.
    @inlinable
    func set(_ namespace: N, _ cell: Cell) {
        var slot = ctx.slot
        if column[unchecked: slot].isEmpty { slot = ctx.acquireSlot() }
        column[unchecked: slot][namespace] = cell
        ctx.markDirty()
    }

    /// Mutates the current key's cell in `namespace` in place, creating it from `initial`.
    @inlinable
    func modify<R>(_ namespace: N, initial: @autoclosure () -> Cell, _ body: (inout Cell) throws -> R) rethrows -> R {
        var slot = ctx.slot
        if column[unchecked: slot].isEmpty { slot = ctx.acquireSlot() }
        ctx.markDirty()
        return try body(&column[unchecked: slot][namespace, default: initial()])
    }

    /// Removes and returns the current key's cell in `namespace`.
    @inlinable
    @discardableResult
    func remove(_ namespace: N) -> Cell? {
        let slot = ctx.slot
        guard let removed = column[unchecked: slot].removeValue(forKey: namespace) else { return nil }
        ctx.markDirty()
        if column[unchecked: slot].isEmpty { ctx.releaseSlot(slot) }
        return removed
    }

    /// The namespaces the current key has a cell in.
    @inlinable
    func namespaces() -> Dictionary<N, Cell>.Keys { column[unchecked: ctx.slot].keys }

    func snapshot(at slot: KeyedStateSlot) -> [N: Cell]? {
        let cells = column[unchecked: slot.raw]
        return cells.isEmpty ? nil : cells
    }

    func restore(_ cells: [N: Cell]) {
        let slot = ctx.slot
        if !column[unchecked: slot].isEmpty {
            column[unchecked: slot] = [:]
            ctx.markDirty()
            ctx.releaseSlot(slot)
        }
        if cells.isEmpty { return }
        let acquired = ctx.acquireSlot()
        column[unchecked: acquired] = cells
        ctx.markDirty()
    }

    func grow(to capacity: Int) { column.grow(to: capacity, repeating: [:]) }

    func holdsValue(at slot: Int32) -> Bool { !column[unchecked: slot].isEmpty }
}

/// What the namespaced states share: the current namespace and checkpoint access.
@usableFromInline
protocol _NamespacedState: _CapturableState where SnapshotEntry == [Namespace: Cell] {
    associatedtype Namespace: Hashable
    associatedtype Cell
    var cells: _NamespacedCells<Namespace, Cell> { get }
}

extension _NamespacedState {
    @usableFromInline func _growSlots(to capacity: Int) { cells.grow(to: capacity) }
    @usableFromInline var _hasTTL: Bool { false }
    @usableFromInline func _purgeExpired(at slot: Int32, now: Int64) {}
    @usableFromInline func _holdsValue(at slot: Int32) -> Bool { cells.holdsValue(at: slot) }

    @usableFromInline
    func _captureEntries() -> (Int32) -> [Namespace: Cell]? {
        let column = cells.column.freeze()
        return { slot in
            let cells = column[slot]
            return cells.isEmpty ? nil : cells
        }
    }
}
