/// One column of per-key-slot storage: a fully initialized buffer indexed by slot.
///
/// This and ``_KeyTable`` are the only places that touch raw memory in the state backend.
/// The owner (a state class or the backend) calls ``destroy()`` in its `deinit`; a column is
/// never copied into a second owner.
@usableFromInline
struct _SlotColumn<Element> {
    @usableFromInline var base: UnsafeMutablePointer<Element>
    @usableFromInline var capacity: Int

    /// An unallocated column (for storage a state does not use, e.g. TTL timestamps without TTL).
    @usableFromInline
    static func none() -> _SlotColumn {
        _SlotColumn(base: UnsafeMutablePointer<Element>.allocate(capacity: 1), capacity: 0)
    }

    private init(base: UnsafeMutablePointer<Element>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @usableFromInline
    init(capacity: Int, repeating fill: Element) {
        self.capacity = capacity
        base = UnsafeMutablePointer<Element>.allocate(capacity: Swift.max(capacity, 1))
        base.initialize(repeating: fill, count: capacity)
    }

    /// Grows to `newCapacity`, moving the existing elements and filling the rest.
    @usableFromInline
    mutating func grow(to newCapacity: Int, repeating fill: Element) {
        guard newCapacity > capacity else { return }
        let newBase = UnsafeMutablePointer<Element>.allocate(capacity: newCapacity)
        if capacity > 0 { newBase.moveInitialize(from: base, count: capacity) }
        (newBase + capacity).initialize(repeating: fill, count: newCapacity - capacity)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @usableFromInline
    func destroy() {
        if capacity > 0 { base.deinitialize(count: capacity) }
        base.deallocate()
    }

    /// The element of `slot`, without bounds checks (slots come from the backend, which sizes
    /// every column to its slot capacity).
    @inlinable
    subscript(unchecked slot: Int32) -> Element {
        unsafeAddress { UnsafePointer(base + Int(truncatingIfNeeded: slot)) }
        nonmutating unsafeMutableAddress { base + Int(truncatingIfNeeded: slot) }
    }
}
