/// Evaluates a fired window of a keyed stream with full access to the window (Flink's
/// `ProcessWindowFunction`).
///
/// Given alone to ``WindowedStream/process(_:)``, it receives every element of the window.
/// Given with a reduce or aggregate function (``WindowedStream/reduce(_:process:)``,
/// ``WindowedStream/aggregate(_:process:)``), it receives the one incremental result.
/// Rill creates one instance per subtask, so it may keep fields.
public protocol ProcessWindowFunction<In, Out, Key, W>: RichFunction {
    associatedtype In
    associatedtype Out
    associatedtype Key: StableHashable
    associatedtype W: Window

    /// Called when `context.window` fires, with its contents.
    func process(_ key: Key, _ context: ProcessWindowContext<W, Out>, _ elements: WindowElements<In>,
                 _ out: Collector<Out>) throws
    /// Called when the window is cleaned up: clear the per-window state you created through
    /// ``ProcessWindowContext/windowState``.
    func clear(_ context: ProcessWindowContext<W, Out>) throws
}

extension ProcessWindowFunction {
    public func clear(_ context: ProcessWindowContext<W, Out>) throws {}
}

/// Evaluates a fired window of a non-keyed stream (``DataStream/windowAll(_:)``), as Flink's
/// `ProcessAllWindowFunction`.
public protocol ProcessAllWindowFunction<In, Out, W>: RichFunction {
    associatedtype In
    associatedtype Out
    associatedtype W: Window

    func process(_ context: ProcessWindowContext<W, Out>, _ elements: WindowElements<In>, _ out: Collector<Out>) throws
    func clear(_ context: ProcessWindowContext<W, Out>) throws
}

extension ProcessAllWindowFunction {
    public func clear(_ context: ProcessWindowContext<W, Out>) throws {}
}

/// The elements a window function is given: the window's elements, or the one result of an
/// incremental (reduce or aggregate) function. Indexable like an array, without copying.
public struct WindowElements<Element>: RandomAccessCollection {
    @usableFromInline
    enum Storage {
        case one(Element)
        case many([Element])
    }

    @usableFromInline let storage: Storage

    @inlinable init(one element: Element) { storage = .one(element) }
    @inlinable init(_ elements: [Element]) { storage = .many(elements) }

    @inlinable public var startIndex: Int { 0 }

    @inlinable
    public var endIndex: Int {
        switch storage {
        case .one: 1
        case .many(let elements): elements.count
        }
    }

    @inlinable
    public subscript(position: Int) -> Element {
        switch storage {
        case .one(let element):
            precondition(position == 0, "index \(position) out of range")
            return element
        case .many(let elements):
            return elements[position]
        }
    }
}

/// The context of a window function call (Flink's `ProcessWindowFunction.Context`): the window,
/// the time, per-window and per-key state, and side outputs.
public final class ProcessWindowContext<W: Window, Out> {
    @usableFromInline let output: Output<Out>
    @usableFromInline let timers: any _WindowTimers<W>
    /// The window being evaluated (or cleaned up).
    @exclusivity(unchecked) @usableFromInline var currentWindow: W?
    /// State scoped to the current key and window.
    public let windowState: PerWindowStateStore<W>
    /// State scoped to the current key, shared by all its windows.
    public let globalState: KeyedStateStore

    @usableFromInline
    init(output: Output<Out>, timers: any _WindowTimers<W>, states: any _NamespacedStateAccess & KeyedStateAccess,
         isMerging: Bool) {
        self.output = output
        self.timers = timers
        windowState = PerWindowStateStore(states: states, isMerging: isMerging)
        globalState = KeyedStateStore(states: states)
    }

    @inlinable
    func setWindow(_ window: W) {
        currentWindow = window
        windowState.window = window
    }

    /// The window being evaluated.
    public var window: W {
        guard let currentWindow else { preconditionFailure("a window context was used outside a window function call") }
        return currentWindow
    }

    /// The operator's current event-time watermark.
    public var currentWatermark: Int64 { timers.currentWatermark }
    /// The current processing time in milliseconds.
    public var currentProcessingTime: Int64 { timers.currentProcessingTime }

    /// Emits `value` to the side output `tag`, with the window's `maxTimestamp` as its timestamp.
    @inlinable
    public func output<S>(_ tag: OutputTag<S>, _ value: S) throws {
        try output.collect(tag, value, timestamp: window.maxTimestamp)
    }
}

/// Keyed state scoped to the current key and window (Flink's per-window `KeyedStateStore`).
/// Ask for a state in each call: the handle it returns is scoped to the window of that call.
/// Not available with merging (session) windows, as in Flink.
public final class PerWindowStateStore<W: Window> {
    @usableFromInline let states: any _NamespacedStateAccess
    @usableFromInline let isMerging: Bool
    @exclusivity(unchecked) @usableFromInline var window: W?

    @usableFromInline
    init(states: any _NamespacedStateAccess, isMerging: Bool) {
        self.states = states
        self.isMerging = isMerging
    }

    func currentWindow() throws -> W {
        if isMerging {
            throw RillError(.stateError, "per-window state is not available with merging (session) windows; use globalState, or keep what you need in the window contents")
        }
        guard let window else { preconditionFailure("per-window state was used outside a window function call") }
        return window
    }

    public func getState<V>(_ descriptor: ValueStateDescriptor<V>) throws -> NamespacedValueState<W, V> {
        let window = try currentWindow()
        let state = try states.getNamespacedState(descriptor, namespace: W.self)
        state.setCurrentNamespace(window)
        return state
    }

    public func getListState<V>(_ descriptor: ListStateDescriptor<V>) throws -> NamespacedListState<W, V> {
        let window = try currentWindow()
        let state = try states.getNamespacedListState(descriptor, namespace: W.self)
        state.setCurrentNamespace(window)
        return state
    }

    public func getMapState<UK, UV>(_ descriptor: MapStateDescriptor<UK, UV>) throws -> NamespacedMapState<W, UK, UV> {
        let window = try currentWindow()
        let state = try states.getNamespacedMapState(descriptor, namespace: W.self)
        state.setCurrentNamespace(window)
        return state
    }

    public func getReducingState<V>(_ descriptor: ReducingStateDescriptor<V>) throws -> NamespacedReducingState<W, V> {
        let window = try currentWindow()
        let state = try states.getNamespacedReducingState(descriptor, namespace: W.self)
        state.setCurrentNamespace(window)
        return state
    }

    public func getAggregatingState<F>(_ descriptor: AggregatingStateDescriptor<F>) throws -> NamespacedAggregatingState<W, F> {
        let window = try currentWindow()
        let state = try states.getNamespacedAggregatingState(descriptor, namespace: W.self)
        state.setCurrentNamespace(window)
        return state
    }
}

/// Keyed state scoped to the current key (Flink's `KeyedStateStore` of a window context's
/// `globalState()`).
public final class KeyedStateStore {
    @usableFromInline let states: any KeyedStateAccess

    @usableFromInline init(states: any KeyedStateAccess) { self.states = states }

    public func getState<V>(_ descriptor: ValueStateDescriptor<V>) throws -> ValueState<V> {
        try states.getState(descriptor)
    }

    public func getListState<V>(_ descriptor: ListStateDescriptor<V>) throws -> ListState<V> {
        try states.getListState(descriptor)
    }

    public func getMapState<UK, UV>(_ descriptor: MapStateDescriptor<UK, UV>) throws -> MapState<UK, UV> {
        try states.getMapState(descriptor)
    }

    public func getReducingState<V>(_ descriptor: ReducingStateDescriptor<V>) throws -> ReducingState<V> {
        try states.getReducingState(descriptor)
    }

    public func getAggregatingState<F>(_ descriptor: AggregatingStateDescriptor<F>) throws -> AggregatingState<F> {
        try states.getAggregatingState(descriptor)
    }
}
