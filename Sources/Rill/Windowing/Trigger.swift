/// What a trigger tells its window operator to do with a window (Flink's `TriggerResult`).
public enum TriggerResult: Sendable, Equatable, CustomStringConvertible {
    /// Nothing.
    case `continue`
    /// Evaluate the window function on the window's contents and emit the result; keep the
    /// contents.
    case fire
    /// Discard the window's contents (the window itself, its trigger state and timers stay
    /// until cleanup).
    case purge
    /// Fire, then purge.
    case fireAndPurge

    @inlinable public var isFire: Bool { self == .fire || self == .fireAndPurge }
    @inlinable public var isPurge: Bool { self == .purge || self == .fireAndPurge }

    public var description: String {
        switch self {
        case .continue: "CONTINUE"
        case .fire: "FIRE"
        case .purge: "PURGE"
        case .fireAndPurge: "FIRE_AND_PURGE"
        }
    }
}

/// Decides when a window is evaluated and when its contents are purged (Flink's `Trigger`).
///
/// A trigger is a stateless description: one value serves every key and window of an operator
/// subtask. What it must remember per window goes into partitioned state
/// (``TriggerContext/getPartitionedState(_:)-(ValueStateDescriptor<V>)``), and what it waits
/// for into timers; both are scoped to the current key and window.
///
/// The operator calls `onElement` for every element added to a window, `onEventTime` and
/// `onProcessingTime` when a timer registered through the context fires, `onMerge` when
/// session windows merge, and `clear` when the window is cleaned up.
public protocol Trigger<Element, W>: Sendable {
    associatedtype Element
    associatedtype W: Window

    /// Called for every element added to `window`.
    func onElement(_ element: Element, timestamp: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult
    /// Called when an event-time timer of `window` fires.
    func onEventTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult
    /// Called when a processing-time timer of `window` fires.
    func onProcessingTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult
    /// Whether the trigger supports merging windows (sessions). A trigger that returns `true`
    /// implements ``onMerge(window:context:)``.
    var canMerge: Bool { get }
    /// Called when windows merged into `window`: merge the old windows' partitioned state with
    /// ``OnMergeContext/mergePartitionedState(_:)-(ReducingStateDescriptor<V>)`` and register
    /// the timers the merged window needs.
    func onMerge(window: W, context: OnMergeContext<W>) throws
    /// Removes the partitioned state and timers the trigger holds for `window`; called when
    /// the window is cleaned up (or merged away).
    func clear(window: W, context: TriggerContext<W>) throws
}

extension Trigger {
    public var canMerge: Bool { false }

    public func onMerge(window: W, context: OnMergeContext<W>) throws {
        throw RillError(.invalidJobGraph, "the trigger \(Self.self) does not support merging windows; use a trigger whose canMerge is true with session windows")
    }
}

/// The current time and timers of a window operator, for one key, without its key type.
@usableFromInline
protocol _WindowTimers<W>: AnyObject {
    associatedtype W: Window
    var currentWatermark: Int64 { get }
    var currentProcessingTime: Int64 { get }
    func registerEventTimeTimer(_ time: Int64, window: W)
    func deleteEventTimeTimer(_ time: Int64, window: W)
    func registerProcessingTimeTimer(_ time: Int64, window: W)
    func deleteProcessingTimeTimer(_ time: Int64, window: W)
}

/// Namespaced keyed state of a backend, without its key type.
@usableFromInline
protocol _NamespacedStateAccess: AnyObject {
    func getNamespacedState<N, V>(_ descriptor: ValueStateDescriptor<V>, namespace: N.Type) throws(StateError) -> NamespacedValueState<N, V>
    func getNamespacedListState<N, V>(_ descriptor: ListStateDescriptor<V>, namespace: N.Type) throws(StateError) -> NamespacedListState<N, V>
    func getNamespacedMapState<N, UK, UV>(_ descriptor: MapStateDescriptor<UK, UV>, namespace: N.Type) throws(StateError) -> NamespacedMapState<N, UK, UV>
    func getNamespacedReducingState<N, V>(_ descriptor: ReducingStateDescriptor<V>, namespace: N.Type) throws(StateError) -> NamespacedReducingState<N, V>
    func getNamespacedAggregatingState<N, F>(_ descriptor: AggregatingStateDescriptor<F>, namespace: N.Type) throws(StateError) -> NamespacedAggregatingState<N, F>
}

extension KeyedStateBackend: _NamespacedStateAccess {}

/// What a trigger sees of its operator: the time, timers and partitioned state, all scoped to
/// the current key and the window the trigger is called for (Flink's `Trigger.TriggerContext`).
///
/// The context is valid only during the trigger call it is passed to.
public class TriggerContext<W: Window> {
    @usableFromInline let timers: any _WindowTimers<W>
    @usableFromInline let states: any _NamespacedStateAccess
    /// The window of the current call.
    @exclusivity(unchecked) @usableFromInline var window: W?

    @usableFromInline
    init(timers: any _WindowTimers<W>, states: any _NamespacedStateAccess) {
        self.timers = timers
        self.states = states
    }

    @inlinable
    var currentWindow: W {
        guard let window else { preconditionFailure("a trigger context was used outside a trigger call") }
        return window
    }

    /// The operator's current event-time watermark.
    public var currentWatermark: Int64 { timers.currentWatermark }
    /// The current processing time in milliseconds.
    public var currentProcessingTime: Int64 { timers.currentProcessingTime }

    /// Calls `onEventTime` for this key and window once the watermark reaches `time`.
    /// Registering the same time twice yields one call.
    public func registerEventTimeTimer(_ time: Int64) { timers.registerEventTimeTimer(time, window: currentWindow) }
    public func deleteEventTimeTimer(_ time: Int64) { timers.deleteEventTimeTimer(time, window: currentWindow) }
    /// Calls `onProcessingTime` for this key and window once processing time reaches `time`.
    public func registerProcessingTimeTimer(_ time: Int64) { timers.registerProcessingTimeTimer(time, window: currentWindow) }
    public func deleteProcessingTimeTimer(_ time: Int64) { timers.deleteProcessingTimeTimer(time, window: currentWindow) }

    /// The value state named by `descriptor`, scoped to the current key and window.
    public func getPartitionedState<V>(_ descriptor: ValueStateDescriptor<V>) throws -> NamespacedValueState<W, V> {
        let state = try states.getNamespacedState(descriptor, namespace: W.self)
        state.setCurrentNamespace(currentWindow)
        return state
    }

    /// The reducing state named by `descriptor`, scoped to the current key and window.
    public func getPartitionedState<V>(_ descriptor: ReducingStateDescriptor<V>) throws -> NamespacedReducingState<W, V> {
        let state = try states.getNamespacedReducingState(descriptor, namespace: W.self)
        state.setCurrentNamespace(currentWindow)
        return state
    }

    /// The aggregating state named by `descriptor`, scoped to the current key and window.
    public func getPartitionedState<F>(_ descriptor: AggregatingStateDescriptor<F>) throws -> NamespacedAggregatingState<W, F> {
        let state = try states.getNamespacedAggregatingState(descriptor, namespace: W.self)
        state.setCurrentNamespace(currentWindow)
        return state
    }

    /// The list state named by `descriptor`, scoped to the current key and window.
    public func getPartitionedState<V>(_ descriptor: ListStateDescriptor<V>) throws -> NamespacedListState<W, V> {
        let state = try states.getNamespacedListState(descriptor, namespace: W.self)
        state.setCurrentNamespace(currentWindow)
        return state
    }

    /// The map state named by `descriptor`, scoped to the current key and window.
    public func getPartitionedState<UK, UV>(_ descriptor: MapStateDescriptor<UK, UV>) throws -> NamespacedMapState<W, UK, UV> {
        let state = try states.getNamespacedMapState(descriptor, namespace: W.self)
        state.setCurrentNamespace(currentWindow)
        return state
    }
}

/// The context of ``Trigger/onMerge(window:context:)``: adds merging the partitioned state of
/// the windows that were merged into the current one (Flink's `Trigger.OnMergeContext`).
public final class OnMergeContext<W: Window>: TriggerContext<W> {
    /// The windows merged into ``TriggerContext/currentWindow`` by the current merge.
    @exclusivity(unchecked) @usableFromInline var mergedWindows: [W] = []

    /// Combines the reducing state named by `descriptor` of the merged windows into the
    /// current window's (and removes theirs).
    public func mergePartitionedState<V>(_ descriptor: ReducingStateDescriptor<V>) throws {
        guard !mergedWindows.isEmpty else { return }
        let state = try states.getNamespacedReducingState(descriptor, namespace: W.self)
        try state.mergeNamespaces(target: currentWindow, sources: mergedWindows)
    }

    /// Combines the aggregating state named by `descriptor` of the merged windows into the
    /// current window's (and removes theirs).
    public func mergePartitionedState<F>(_ descriptor: AggregatingStateDescriptor<F>) throws {
        guard !mergedWindows.isEmpty else { return }
        let state = try states.getNamespacedAggregatingState(descriptor, namespace: W.self)
        state.mergeNamespaces(target: currentWindow, sources: mergedWindows)
    }

    /// Appends the lists named by `descriptor` of the merged windows to the current window's
    /// (and removes theirs).
    public func mergePartitionedState<V>(_ descriptor: ListStateDescriptor<V>) throws {
        guard !mergedWindows.isEmpty else { return }
        let state = try states.getNamespacedListState(descriptor, namespace: W.self)
        state.mergeNamespaces(target: currentWindow, sources: mergedWindows)
    }
}
