/// One column of per-key-slot storage, indexed by slot, kept in pages that checkpoints can share.
///
/// Slots live in pages of ``pageSize`` elements (one smaller page while the capacity is below
/// that). Each page is a reference-counted ``_SlotPage``; the column keeps a raw pointer to
/// every page's elements, so an access costs one extra load from a small page table.
///
/// ``freeze()`` hands a read-only view of every page to a snapshot in O(pages) and marks the
/// pages frozen. The first write to a frozen page afterwards copies that page alone (unless
/// the snapshot has let go of it already), so the view keeps the values of the freeze while the
/// column moves on, and a checkpoint costs the task thread at most one page copy per page it
/// writes. Reads never check.
///
/// This and ``_KeyTable`` are the only places that touch raw memory in the state backend.
/// The owner (a state class or the backend) calls ``destroy()`` in its `deinit`; a column is
/// never copied into a second owner.
@usableFromInline
struct _SlotColumn<Element> {
    /// Page table: per page, the address of its elements, with bit 0 set while the page is
    /// frozen (shared with a snapshot, so it must be copied before a write). One load serves
    /// both the address and the check.
    @usableFromInline var table: UnsafeMutablePointer<UInt>
    /// Per page: the owning object (strong references, initialized up to `pageCount`).
    @usableFromInline var pages: UnsafeMutablePointer<_SlotPage<Element>>
    @usableFromInline var pageCount: Int
    @usableFromInline var capacity: Int

    /// log2 of the page size.
    @inlinable static var pageShift: Int { 10 }
    /// Slots per page once the column holds more than one page.
    @inlinable static var pageSize: Int { 1 << pageShift }
    @inlinable static var frozenBit: UInt { 1 }

    /// An unallocated column (for storage a state does not use, e.g. TTL timestamps without TTL).
    @usableFromInline
    static func none() -> _SlotColumn {
        _SlotColumn(tableCapacity: 1)
    }

    private init(tableCapacity: Int) {
        table = .allocate(capacity: tableCapacity)
        pages = .allocate(capacity: tableCapacity)
        pageCount = 0
        capacity = 0
    }

    @usableFromInline
    init(capacity: Int, repeating fill: Element) {
        self.init(tableCapacity: 1)
        grow(to: capacity, repeating: fill)
    }

    /// Grows to `newCapacity`, keeping the existing elements and filling the rest.
    ///
    /// - Complexity: O(new capacity) below one page; O(new pages) above.
    @usableFromInline
    mutating func grow(to newCapacity: Int, repeating fill: Element) {
        guard newCapacity > capacity else { return }
        let pageSize = Self.pageSize
        if capacity < pageSize {
            resizeFirstPage(to: Swift.min(newCapacity, pageSize), repeating: fill)
        }
        guard newCapacity > pageSize else { return }
        let newPageCount = (newCapacity + pageSize - 1) >> Self.pageShift
        let newTable = UnsafeMutablePointer<UInt>.allocate(capacity: newPageCount)
        let newPages = UnsafeMutablePointer<_SlotPage<Element>>.allocate(capacity: newPageCount)
        newTable.moveInitialize(from: table, count: pageCount)
        newPages.moveInitialize(from: pages, count: pageCount)
        for index in pageCount..<newPageCount {
            let page = _SlotPage(count: pageSize, repeating: fill)
            (newPages + index).initialize(to: page)
            (newTable + index).initialize(to: page.address)
        }
        table.deallocate()
        pages.deallocate()
        table = newTable
        pages = newPages
        pageCount = newPageCount
        capacity = newPageCount << Self.pageShift
    }

    /// Replaces the only page by one of `count` elements (moving them, or copying them when a
    /// snapshot shares the page).
    private mutating func resizeFirstPage(to count: Int, repeating fill: Element) {
        let page: _SlotPage<Element>
        if pageCount == 0 {
            page = _SlotPage(count: count, repeating: fill)
            pages.initialize(to: page)
            table.initialize(to: page.address)
            pageCount = 1
        } else {
            let shared = table[0] & Self.frozenBit != 0 && !isKnownUniquelyReferenced(&pages[0])
            page = _SlotPage(resizing: pages[0], to: count, repeating: fill, share: shared)
            pages[0] = page
            table[0] = page.address
        }
        capacity = count
    }

    @usableFromInline
    func destroy() {
        pages.deinitialize(count: pageCount)
        pages.deallocate()
        table.deallocate()
    }

    /// The element of `slot`, without bounds checks (slots come from the backend, which sizes
    /// every column to its slot capacity). A write copies a frozen page first.
    @inlinable
    subscript(unchecked slot: Int32) -> Element {
        @inline(__always) unsafeAddress {
            let index = Int(truncatingIfNeeded: slot)
            let entry = table[index &>> Self.pageShift] & ~Self.frozenBit
            return UnsafePointer<Element>(bitPattern: entry).unsafelyUnwrapped + (index & (Self.pageSize &- 1))
        }
        @inline(__always) nonmutating unsafeMutableAddress { writableAddress(slot) }
    }

    /// The address of `slot`'s element for writing: its page is copied first when a snapshot
    /// shares it. Valid until the next write to another slot of the column, or its growth.
    @inlinable @inline(__always)
    func writableAddress(_ slot: Int32) -> UnsafeMutablePointer<Element> {
        let index = Int(truncatingIfNeeded: slot)
        let page = index &>> Self.pageShift
        var entry = table[page]
        if entry & Self.frozenBit != 0 { entry = Self.thaw(page, table: table, pages: pages) }
        return UnsafeMutablePointer<Element>(bitPattern: entry).unsafelyUnwrapped + (index & (Self.pageSize &- 1))
    }

    /// Makes page `index` writable: keeps it if the snapshots let go of it, else copies it.
    /// Returns its table entry.
    @usableFromInline
    static func thaw(_ index: Int, table: UnsafeMutablePointer<UInt>, pages: UnsafeMutablePointer<_SlotPage<Element>>) -> UInt {
        if !isKnownUniquelyReferenced(&pages[index]) { pages[index] = _SlotPage(copying: pages[index]) }
        table[index] = pages[index].address
        return table[index]
    }

    /// A read-only view of every slot as it is now, for a snapshot; the column copies a page
    /// before its next write to it, so the view does not change.
    ///
    /// - Complexity: O(pages).
    func freeze() -> _FrozenSlotColumn<Element> {
        for index in 0..<pageCount { table[index] |= Self.frozenBit }
        return _FrozenSlotColumn(pages: Array(UnsafeBufferPointer(start: pages, count: pageCount)))
    }
}

/// The elements of one page of a ``_SlotColumn``, shared by the column and the snapshots that
/// froze it; the last owner to let go frees them (on whichever thread that is).
@usableFromInline
final class _SlotPage<Element> {
    @usableFromInline let base: UnsafeMutablePointer<Element>
    /// Initialized elements.
    var count: Int

    /// The elements' address, for a page table.
    var address: UInt { UInt(bitPattern: base) }

    init(count: Int, repeating fill: Element) {
        base = .allocate(capacity: Swift.max(count, 1))
        base.initialize(repeating: fill, count: count)
        self.count = count
        precondition(address & _SlotColumn<Element>.frozenBit == 0, "page table entries need bit 0")
    }

    /// A copy of `other`. Runs unspecialized (from the slow path of a write), so plain data is
    /// copied as bytes rather than element by element through value witnesses.
    init(copying other: _SlotPage) {
        base = .allocate(capacity: Swift.max(other.count, 1))
        if _isPOD(Element.self) {
            UnsafeMutableRawPointer(base).copyMemory(
                from: UnsafeRawPointer(other.base), byteCount: other.count * MemoryLayout<Element>.stride)
        } else {
            base.initialize(from: other.base, count: other.count)
        }
        count = other.count
    }

    /// `other`'s elements followed by `fill` up to `newCount`; moved out of `other` unless it
    /// is shared.
    init(resizing other: _SlotPage, to newCount: Int, repeating fill: Element, share: Bool) {
        base = .allocate(capacity: Swift.max(newCount, 1))
        if share {
            base.initialize(from: other.base, count: other.count)
        } else {
            base.moveInitialize(from: other.base, count: other.count)
        }
        (base + other.count).initialize(repeating: fill, count: newCount - other.count)
        count = newCount
        if !share { other.count = 0 }
    }

    deinit {
        base.deinitialize(count: count)
        base.deallocate()
    }
}

/// A snapshot's view of a ``_SlotColumn``: the pages as they were when it was frozen. Read
/// on any thread (the column never writes a frozen page; it copies it).
struct _FrozenSlotColumn<Element>: @unchecked Sendable {
    let pages: [_SlotPage<Element>]

    /// The element of `slot` at the freeze.
    subscript(slot: Int32) -> Element {
        let index = Int(slot)
        return pages[index >> _SlotColumn<Element>.pageShift].base[index & (_SlotColumn<Element>.pageSize - 1)]
    }
}
