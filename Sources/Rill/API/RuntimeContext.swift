/// What a user function sees of the subtask it runs in: its index, the job's parallelism,
/// processing time, and (on keyed streams) keyed state.
public final class RuntimeContext {
    @usableFromInline let setup: OperatorSetup
    @usableFromInline let keyedState: (any KeyedStateAccess)?

    @usableFromInline init(setup: OperatorSetup, keyedState: (any KeyedStateAccess)?) {
        self.setup = setup
        self.keyedState = keyedState
    }

    /// Index of this parallel instance, in `0..<parallelism`.
    public var subtaskIndex: Int { setup.subtaskIndex }
    /// Number of parallel instances of this operator.
    public var parallelism: Int { setup.parallelism }
    /// Number of key groups of the job (the upper bound for rescaling).
    public var maxParallelism: Int { setup.maxParallelism }
    /// The operator's name.
    public var operatorName: String { setup.operatorName }
    /// Processing time in milliseconds since the epoch, from the job's clock.
    public var currentProcessingTime: Int64 { setup.timeService.currentTime }

    @usableFromInline func requireKeyed(_ what: String) throws -> any KeyedStateAccess {
        guard let keyedState else {
            throw RillError(.stateError,
                            "\(what) is only available on a keyed stream; call keyBy(_:) before this operator",
                            operatorName: setup.operatorName, subtaskIndex: setup.subtaskIndex)
        }
        return keyedState
    }
}

/// Keyed state as a ``RuntimeContext`` reaches it, whatever the key type.
@usableFromInline
protocol KeyedStateAccess: AnyObject {
    func getState<V>(_ descriptor: ValueStateDescriptor<V>) throws(StateError) -> ValueState<V>
    func getListState<V>(_ descriptor: ListStateDescriptor<V>) throws(StateError) -> ListState<V>
    func getMapState<UK, UV>(_ descriptor: MapStateDescriptor<UK, UV>) throws(StateError) -> MapState<UK, UV>
    func getReducingState<V>(_ descriptor: ReducingStateDescriptor<V>) throws(StateError) -> ReducingState<V>
    func getAggregatingState<F>(_ descriptor: AggregatingStateDescriptor<F>) throws(StateError) -> AggregatingState<F>
}

extension KeyedStateBackend: KeyedStateAccess {}

extension RuntimeContext {
    /// The value state named by `descriptor`, scoped to the current key (Flink's `getState`).
    public func getState<V>(_ descriptor: ValueStateDescriptor<V>) throws -> ValueState<V> {
        try requireKeyed("ValueState '\(descriptor.name)'").getState(descriptor)
    }

    /// The list state named by `descriptor`, scoped to the current key.
    public func getListState<V>(_ descriptor: ListStateDescriptor<V>) throws -> ListState<V> {
        try requireKeyed("ListState '\(descriptor.name)'").getListState(descriptor)
    }

    /// The map state named by `descriptor`, scoped to the current key.
    public func getMapState<UK, UV>(_ descriptor: MapStateDescriptor<UK, UV>) throws -> MapState<UK, UV> {
        try requireKeyed("MapState '\(descriptor.name)'").getMapState(descriptor)
    }

    /// The reducing state named by `descriptor`, scoped to the current key.
    public func getReducingState<V>(_ descriptor: ReducingStateDescriptor<V>) throws -> ReducingState<V> {
        try requireKeyed("ReducingState '\(descriptor.name)'").getReducingState(descriptor)
    }

    /// The aggregating state named by `descriptor`, scoped to the current key.
    public func getAggregatingState<F>(_ descriptor: AggregatingStateDescriptor<F>) throws -> AggregatingState<F> {
        try requireKeyed("AggregatingState '\(descriptor.name)'").getAggregatingState(descriptor)
    }
}
