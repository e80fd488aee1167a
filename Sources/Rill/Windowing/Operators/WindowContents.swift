// How a window operator keeps a window's contents: a namespaced state of the backend, one
// namespace per window (per state window, for merging windows). Flink's `windowState`, an
// `InternalAppendingState` that is reducing, aggregating or a list.

/// The contents of the windows of one key.
@usableFromInline
protocol _WindowContents: AnyObject {
    associatedtype In
    associatedtype W: Window
    /// What a fired window hands to the window function.
    associatedtype Acc

    func setCurrentNamespace(_ window: W)
    func add(_ value: In, timestamp: Int64) throws
    /// The current window's contents, `nil` when empty.
    func get() -> Acc?
    func clear()
    /// Moves the contents of `sources` into `target` (merging windows).
    func mergeNamespaces(target: W, sources: [W]) throws
}

/// The name Flink gives a window operator's contents state.
@usableFromInline let windowContentsStateName = "window-contents"

/// Reduced contents (`reduce`): one value per window.
@usableFromInline
final class _ReducingContents<T, W: Window>: _WindowContents {
    @usableFromInline let state: NamespacedReducingState<W, T>

    @inlinable
    init<K>(backend: KeyedStateBackend<K>, reduce: @escaping ReduceFunction<T>) throws {
        state = try backend.getNamespacedReducingState(
            ReducingStateDescriptor(name: windowContentsStateName, reduceFunction: reduce), namespace: W.self)
    }

    @inlinable func setCurrentNamespace(_ window: W) { state.setCurrentNamespace(window) }
    @inlinable func add(_ value: T, timestamp: Int64) throws { try state.add(value) }
    @inlinable func get() -> T? { state.get() }
    @inlinable func clear() { state.clear() }
    @inlinable func mergeNamespaces(target: W, sources: [W]) throws { try state.mergeNamespaces(target: target, sources: sources) }
}

/// Aggregated contents (`aggregate`): one accumulator per window.
@usableFromInline
final class _AggregatingContents<F: AggregateFunction, W: Window>: _WindowContents {
    @usableFromInline let state: NamespacedAggregatingState<W, F>

    @inlinable
    init<K>(backend: KeyedStateBackend<K>, function: F) throws {
        state = try backend.getNamespacedAggregatingState(
            AggregatingStateDescriptor(name: windowContentsStateName, aggregateFunction: function), namespace: W.self)
    }

    @inlinable func setCurrentNamespace(_ window: W) { state.setCurrentNamespace(window) }
    @inlinable func add(_ value: F.In, timestamp: Int64) throws { state.add(value) }
    @inlinable func get() -> F.Accumulator? { state.accumulator() }
    @inlinable func clear() { state.clear() }
    @inlinable func mergeNamespaces(target: W, sources: [W]) throws { state.mergeNamespaces(target: target, sources: sources) }
}

/// Every element (`process` without an incremental function).
@usableFromInline
final class _ListContents<T, W: Window>: _WindowContents {
    @usableFromInline let state: NamespacedListState<W, T>

    @inlinable
    init<K>(backend: KeyedStateBackend<K>) throws {
        state = try backend.getNamespacedListState(ListStateDescriptor(name: windowContentsStateName), namespace: W.self)
    }

    @inlinable func setCurrentNamespace(_ window: W) { state.setCurrentNamespace(window) }
    @inlinable func add(_ value: T, timestamp: Int64) throws { state.add(value) }

    @inlinable
    func get() -> [T]? {
        let elements = state.get()
        return elements.isEmpty ? nil : elements
    }

    @inlinable func clear() { state.clear() }
    @inlinable func mergeNamespaces(target: W, sources: [W]) throws { state.mergeNamespaces(target: target, sources: sources) }
}

/// Every element with its timestamp (windows with an evictor).
@usableFromInline
final class _TimestampedListContents<T, W: Window>: _WindowContents {
    @usableFromInline let state: NamespacedListState<W, _TimestampedElement<T>>

    @inlinable
    init<K>(backend: KeyedStateBackend<K>) throws {
        state = try backend.getNamespacedListState(ListStateDescriptor(name: windowContentsStateName), namespace: W.self)
    }

    @inlinable func setCurrentNamespace(_ window: W) { state.setCurrentNamespace(window) }
    @inlinable func add(_ value: T, timestamp: Int64) throws { state.add(_TimestampedElement(value: value, timestamp: timestamp)) }

    @inlinable
    func get() -> [StreamRecord<T>]? {
        let elements = state.get()
        return elements.isEmpty ? nil : elements.map { StreamRecord($0.value, timestamp: $0.timestamp) }
    }

    /// Replaces the current window's elements with what the evictor left.
    @inlinable
    func update(_ elements: [StreamRecord<T>]) {
        state.update(elements.map { _TimestampedElement(value: $0.value, timestamp: $0.timestamp) })
    }

    @inlinable func clear() { state.clear() }
    @inlinable func mergeNamespaces(target: W, sources: [W]) throws { state.mergeNamespaces(target: target, sources: sources) }
}

/// An element of an evicting window, as stored.
@usableFromInline
struct _TimestampedElement<T> {
    @usableFromInline var value: T
    @usableFromInline var timestamp: Int64

    @inlinable
    init(value: T, timestamp: Int64) {
        self.value = value
        self.timestamp = timestamp
    }
}

extension _TimestampedElement: Codable where T: Codable {}

extension _TimestampedElement: BinaryCodable where T: BinaryCodable {
    @inlinable
    func encode(to writer: inout BinaryWriter) {
        value.encode(to: &writer)
        writer.writeVarInt(timestamp)
    }

    @inlinable
    init(from reader: inout BinaryReader) throws {
        let value = try T(from: &reader)
        self.init(value: value, timestamp: try reader.readVarInt())
    }
}
