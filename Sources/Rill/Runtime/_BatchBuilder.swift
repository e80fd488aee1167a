/// Writes the records of a new batch in place, for kernels that know an upper bound on how
/// many they produce (map: one per input, filter: at most one per input, a source: one per
/// number of its range).
///
/// `reserveCapacity` + `append` stores the array's count and reloads its capacity on every
/// record, which keeps the compiler from unrolling or vectorizing the loop (it cost a third of
/// W1's time). Here the count stays in a register and the capacity check exists only in debug
/// builds. This is the only place the record path touches raw memory.
@usableFromInline @frozen
struct _BatchBuilder<Element> {
    @usableFromInline let base: UnsafeMutablePointer<Element>
    @usableFromInline let capacity: Int
    @usableFromInline var count = 0

    @inlinable
    init(base: UnsafeMutablePointer<Element>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    /// Appends without a capacity check; the caller never appends more than the capacity it
    /// asked ``build(capacity:_:)`` for.
    @inlinable @inline(__always)
    mutating func uncheckedAppend(_ element: Element) {
        assert(count < capacity, "a kernel wrote more records than the capacity it asked for")
        (base + count).initialize(to: element)
        count &+= 1
    }

    /// Appends `element` if `condition` holds, without a branch for trivially copyable
    /// elements (a data-dependent filter would otherwise mispredict on every other record):
    /// the element is written in the first free slot either way and counted only if kept.
    @inlinable @inline(__always)
    mutating func uncheckedAppend(_ element: Element, if condition: Bool) {
        if _isPOD(Element.self) {
            assert(count < capacity, "a kernel wrote more records than the capacity it asked for")
            (base + count).initialize(to: element)
            count &+= condition ? 1 : 0
        } else if condition {
            uncheckedAppend(element)
        }
    }

    /// Whether another append would exceed the capacity.
    @inlinable
    var isFull: Bool { count >= capacity }

    /// A new array of at most `capacity` elements, appended in order by `fill`. If `fill`
    /// throws, the elements appended so far are destroyed and the error propagates.
    ///
    /// - Complexity: O(1) plus whatever `fill` does.
    @inlinable @inline(__always)
    static func build(capacity: Int, _ fill: (inout _BatchBuilder<Element>) throws -> Void) rethrows -> [Element] {
        guard capacity > 0 else { return [] }
        return try [Element](unsafeUninitializedCapacity: capacity) { buffer, initializedCount in
            var builder = _BatchBuilder(base: buffer.baseAddress!, capacity: capacity)
            defer { initializedCount = builder.count }
            try fill(&builder)
        }
    }
}
