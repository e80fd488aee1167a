// Keyed state scoped to the current key *and* a namespace (a window, for the window
// operator): Flink's internal `InternalKvState` with `setCurrentNamespace`. The
// list/reducing/aggregating variants merge namespaces (Flink's `InternalMergingState`), as
// merging (session) windows need. These states have no TTL.

/// A value per (key, namespace).
public final class NamespacedValueState<N: Hashable, V>: _NamespacedState, KeyedStateSnapshotting {
    public let name: String
    @usableFromInline let cells: _NamespacedCells<N, V>
    @usableFromInline @exclusivity(unchecked) var namespace: N?

    init(name: String, context: _KeyContext, slotCapacity: Int) {
        self.name = name
        cells = _NamespacedCells(context: context, slotCapacity: slotCapacity)
    }

    /// Scopes the following calls to `namespace` (for the backend's current key).
    @inlinable
    public func setCurrentNamespace(_ namespace: N) { self.namespace = namespace }

    @inlinable
    var current: N {
        guard let namespace else { preconditionFailure("state '\(name)': setCurrentNamespace before use") }
        return namespace
    }

    /// The current (key, namespace)'s value.
    @inlinable
    public func value() -> V? { cells.get(current) }

    @inlinable
    public func update(_ value: V) { cells.set(current, value) }

    /// Removes the current (key, namespace)'s value.
    @inlinable
    public func clear() { cells.remove(current) }

    /// The namespaces the current key has a value in.
    public func namespaces() -> [N] { Array(cells.namespaces()) }

    public func snapshotEntry(at slot: KeyedStateSlot) -> [N: V]? { cells.snapshot(at: slot) }
    public func restoreEntry(_ entry: [N: V]) { cells.restore(entry) }
}

/// A list per (key, namespace).
public final class NamespacedListState<N: Hashable, V>: _NamespacedState, KeyedStateSnapshotting {
    public let name: String
    @usableFromInline let cells: _NamespacedCells<N, [V]>
    @usableFromInline @exclusivity(unchecked) var namespace: N?

    init(name: String, context: _KeyContext, slotCapacity: Int) {
        self.name = name
        cells = _NamespacedCells(context: context, slotCapacity: slotCapacity)
    }

    @inlinable
    public func setCurrentNamespace(_ namespace: N) { self.namespace = namespace }

    @inlinable
    var current: N {
        guard let namespace else { preconditionFailure("state '\(name)': setCurrentNamespace before use") }
        return namespace
    }

    /// The current (key, namespace)'s elements (empty when none).
    @inlinable
    public func get() -> [V] { cells.get(current) ?? [] }

    @inlinable
    public func add(_ value: V) { cells.modify(current, initial: []) { $0.append(value) } }

    @inlinable
    public func addAll(_ values: [V]) {
        if values.isEmpty { return }
        cells.modify(current, initial: []) { $0.append(contentsOf: values) }
    }

    /// Replaces the list; an empty list clears it.
    @inlinable
    public func update(_ values: [V]) {
        if values.isEmpty { clear() } else { cells.set(current, values) }
    }

    @inlinable
    public func clear() { cells.remove(current) }

    /// Appends the lists of `sources` (in order) to `target`'s and removes the sources, for the
    /// current key (Flink's `mergeNamespaces`).
    public func mergeNamespaces(target: N, sources: [N]) {
        var merged: [V] = []
        for source in sources {
            if let list = cells.remove(source) { merged.append(contentsOf: list) }
        }
        if merged.isEmpty { return }
        cells.modify(target, initial: []) { $0.append(contentsOf: merged) }
    }

    public func namespaces() -> [N] { Array(cells.namespaces()) }

    public func snapshotEntry(at slot: KeyedStateSlot) -> [N: [V]]? { cells.snapshot(at: slot) }
    public func restoreEntry(_ entry: [N: [V]]) { cells.restore(entry.filter { !$0.value.isEmpty }) }
}

/// A reduced value per (key, namespace).
public final class NamespacedReducingState<N: Hashable, V>: _NamespacedState, KeyedStateSnapshotting {
    public let name: String
    @usableFromInline let cells: _NamespacedCells<N, V>
    @usableFromInline let reduceFunction: ReduceFunction<V>
    @usableFromInline @exclusivity(unchecked) var namespace: N?

    init(name: String, context: _KeyContext, slotCapacity: Int, reduceFunction: @escaping ReduceFunction<V>) {
        self.name = name
        self.reduceFunction = reduceFunction
        cells = _NamespacedCells(context: context, slotCapacity: slotCapacity)
    }

    @inlinable
    public func setCurrentNamespace(_ namespace: N) { self.namespace = namespace }

    @inlinable
    var current: N {
        guard let namespace else { preconditionFailure("state '\(name)': setCurrentNamespace before use") }
        return namespace
    }

    @inlinable
    public func get() -> V? { cells.get(current) }

    /// Reduces `value` into the current (key, namespace)'s value; unchanged if the function
    /// throws.
    @inlinable
    public func add(_ value: V) throws {
        let namespace = current
        if let existing = cells.get(namespace) {
            cells.set(namespace, try reduceFunction(existing, value))
        } else {
            cells.set(namespace, value)
        }
    }

    @inlinable
    public func clear() { cells.remove(current) }

    /// Reduces the sources' values (in order) into `target`'s and removes the sources:
    /// `target = reduce(target, reduce(reduce(s1, s2), …))` as in Flink's heap backend.
    public func mergeNamespaces(target: N, sources: [N]) throws {
        var merged: V?
        for source in sources {
            guard let value = cells.get(source) else { continue }
            merged = try merged.map { try reduceFunction($0, value) } ?? value
        }
        guard let merged else { return }
        let existing = sources.contains(target) ? nil : cells.get(target)
        let result = try existing.map { try reduceFunction($0, merged) } ?? merged
        for source in sources { cells.remove(source) }
        cells.set(target, result)
    }

    public func namespaces() -> [N] { Array(cells.namespaces()) }

    public func snapshotEntry(at slot: KeyedStateSlot) -> [N: V]? { cells.snapshot(at: slot) }
    public func restoreEntry(_ entry: [N: V]) { cells.restore(entry) }
}

/// An accumulator per (key, namespace).
public final class NamespacedAggregatingState<N: Hashable, F: AggregateFunction>: _NamespacedState,
    KeyedStateSnapshotting
{
    public let name: String
    @usableFromInline let cells: _NamespacedCells<N, F.Accumulator>
    @usableFromInline let function: F
    @usableFromInline @exclusivity(unchecked) var namespace: N?

    init(name: String, context: _KeyContext, slotCapacity: Int, function: F) {
        self.name = name
        self.function = function
        cells = _NamespacedCells(context: context, slotCapacity: slotCapacity)
    }

    @inlinable
    public func setCurrentNamespace(_ namespace: N) { self.namespace = namespace }

    @inlinable
    var current: N {
        guard let namespace else { preconditionFailure("state '\(name)': setCurrentNamespace before use") }
        return namespace
    }

    /// `getResult` of the current (key, namespace)'s accumulator.
    @inlinable
    public func get() -> F.Out? { cells.get(current).map { function.getResult($0) } }

    @inlinable
    public func add(_ value: F.In) {
        let function = self.function
        cells.modify(current, initial: function.createAccumulator()) { accumulator in
            accumulator = function.add(value, to: accumulator)
        }
    }

    /// The raw accumulator (window operators that emit it themselves).
    @inlinable
    public func accumulator() -> F.Accumulator? { cells.get(current) }

    @inlinable
    public func clear() { cells.remove(current) }

    /// Merges the sources' accumulators (in order) into `target`'s with `F.merge` and removes
    /// the sources.
    public func mergeNamespaces(target: N, sources: [N]) {
        var merged: F.Accumulator?
        for source in sources {
            guard let accumulator = cells.remove(source) else { continue }
            merged = merged.map { function.merge($0, accumulator) } ?? accumulator
        }
        guard let merged else { return }
        let result = cells.get(target).map { function.merge($0, merged) } ?? merged
        cells.set(target, result)
    }

    public func namespaces() -> [N] { Array(cells.namespaces()) }

    public func snapshotEntry(at slot: KeyedStateSlot) -> [N: F.Accumulator]? { cells.snapshot(at: slot) }
    public func restoreEntry(_ entry: [N: F.Accumulator]) { cells.restore(entry) }
}

/// A map per (key, namespace).
public final class NamespacedMapState<N: Hashable, UK: Hashable, UV>: _NamespacedState, KeyedStateSnapshotting {
    public let name: String
    @usableFromInline let cells: _NamespacedCells<N, [UK: UV]>
    @usableFromInline @exclusivity(unchecked) var namespace: N?

    init(name: String, context: _KeyContext, slotCapacity: Int) {
        self.name = name
        cells = _NamespacedCells(context: context, slotCapacity: slotCapacity)
    }

    @inlinable
    public func setCurrentNamespace(_ namespace: N) { self.namespace = namespace }

    @inlinable
    var current: N {
        guard let namespace else { preconditionFailure("state '\(name)': setCurrentNamespace before use") }
        return namespace
    }

    @inlinable
    public func get(_ key: UK) -> UV? { cells.get(current)?[key] }

    @inlinable
    public func put(_ key: UK, _ value: UV) { cells.modify(current, initial: [:]) { $0[key] = value } }

    @inlinable
    public func putAll(_ entries: [UK: UV]) {
        if entries.isEmpty { return }
        cells.modify(current, initial: [:]) { $0.merge(entries) { _, new in new } }
    }

    @inlinable
    public func remove(_ key: UK) {
        let namespace = current
        guard cells.get(namespace)?[key] != nil else { return }
        let nowEmpty = cells.modify(namespace, initial: [:]) { map -> Bool in
            map[key] = nil
            return map.isEmpty
        }
        if nowEmpty { cells.remove(namespace) }
    }

    @inlinable
    public func contains(_ key: UK) -> Bool { get(key) != nil }

    @inlinable
    public func entries() -> [UK: UV] { cells.get(current) ?? [:] }

    @inlinable
    public func keys() -> Dictionary<UK, UV>.Keys { entries().keys }

    @inlinable
    public func values() -> Dictionary<UK, UV>.Values { entries().values }

    @inlinable
    public func isEmpty() -> Bool { cells.get(current)?.isEmpty ?? true }

    @inlinable
    public func clear() { cells.remove(current) }

    public func namespaces() -> [N] { Array(cells.namespaces()) }

    public func snapshotEntry(at slot: KeyedStateSlot) -> [N: [UK: UV]]? { cells.snapshot(at: slot) }
    public func restoreEntry(_ entry: [N: [UK: UV]]) { cells.restore(entry.filter { !$0.value.isEmpty }) }
}
