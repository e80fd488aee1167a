/// Two streams of possibly different types, processed together by one operator (Flink's
/// `ConnectedStreams`). Records of both inputs are seen in arrival order; the operator's
/// watermark is the minimum of both inputs' watermarks.
public struct ConnectedStreams<T1, T2> {
    public let first: DataStream<T1>
    public let second: DataStream<T2>

    @inlinable
    init(first: DataStream<T1>, second: DataStream<T2>) {
        precondition(first.environment === second.environment, "connect of streams from different environments")
        self.first = first
        self.second = second
    }

    @inlinable
    func addTwoInputOperator<Out>(name: String, isKeyed: Bool,
                                  keyGroup1: (@Sendable (T1, Int) -> Int)?, keyGroup2: (@Sendable (T2, Int) -> Int)?,
                                  build: @escaping OperatorBuilder) -> DataStream<Out> {
        let node = first.graph.addNode(name: name, kind: .twoInput, isKeyed: isKeyed, outputOps: .of(Out.self), build: build)
        first.connect(to: node, inputIndex: 0, keyGroup: keyGroup1, partitioner: isKeyed ? .hash : nil)
        second.connect(to: node, inputIndex: 1, keyGroup: keyGroup2, partitioner: isKeyed ? .hash : nil)
        return DataStream<Out>(environment: first.environment, node: node.id)
    }

    /// Runs a ``CoProcessFunction``; `function` is evaluated once per subtask.
    @inlinable
    public func process<F: CoProcessFunction>(_ function: @autoclosure @escaping @Sendable () -> F) -> DataStream<F.Out>
    where F.In1 == T1, F.In2 == T2 {
        addTwoInputOperator(name: "CoProcess", isKeyed: false, keyGroup1: nil, keyGroup2: nil) { setup, output in
            BuiltOperator(twoInput: ProcessOperator(function: function(), setup: setup,
                                                    output: unsafeDowncast(output!, to: Output<F.Out>.self)))
        }
    }

    /// Partitions both inputs by key, so records with equal keys from either input meet in the
    /// same subtask with shared keyed state and timers.
    @inlinable
    public func keyBy<K: StableHashable>(_ key1: @escaping @Sendable (T1) -> K,
                                         _ key2: @escaping @Sendable (T2) -> K) -> ConnectedKeyedStreams<T1, T2, K> {
        ConnectedKeyedStreams(streams: self, key1: key1, key2: key2)
    }
}

/// Two connected streams partitioned by the same kind of key.
public struct ConnectedKeyedStreams<T1, T2, K: StableHashable> {
    @usableFromInline let streams: ConnectedStreams<T1, T2>
    @usableFromInline let key1: @Sendable (T1) -> K
    @usableFromInline let key2: @Sendable (T2) -> K

    @inlinable
    init(streams: ConnectedStreams<T1, T2>, key1: @escaping @Sendable (T1) -> K, key2: @escaping @Sendable (T2) -> K) {
        self.streams = streams
        self.key1 = key1
        self.key2 = key2
    }

    /// Runs a ``KeyedCoProcessFunction``; `function` is evaluated once per subtask.
    @inlinable
    public func process<F: KeyedCoProcessFunction>(_ function: @autoclosure @escaping @Sendable () -> F) -> DataStream<F.Out>
    where F.In1 == T1, F.In2 == T2, F.Key == K {
        let key1 = self.key1
        let key2 = self.key2
        return streams.addTwoInputOperator(
            name: "KeyedCoProcess", isKeyed: true,
            keyGroup1: KeyedStream(stream: streams.first, key: key1).keyGroup,
            keyGroup2: KeyedStream(stream: streams.second, key: key2).keyGroup
        ) { setup, output in
            BuiltOperator(twoInput: try KeyedCoProcessOperator(function: function(), key1: key1, key2: key2, setup: setup,
                                                               output: unsafeDowncast(output!, to: Output<F.Out>.self)))
        }
    }
}

extension DataStream {
    /// Connects this stream with another for a two-input operator.
    @inlinable
    public func connect<U>(_ other: DataStream<U>) -> ConnectedStreams<T, U> {
        ConnectedStreams(first: self, second: other)
    }

    /// Connects this stream with a broadcast stream (see ``broadcast(_:)``).
    @inlinable
    public func connect<U, BK, BV>(_ other: BroadcastStream<U, BK, BV>) -> BroadcastConnectedStream<T, U, BK, BV> {
        BroadcastConnectedStream(stream: self, broadcast: other)
    }

    /// Sends every record to every subtask of the operator it is connected to, where it can
    /// update the broadcast state named by `descriptor` (Flink's `broadcast(MapStateDescriptor)`).
    @inlinable
    public func broadcast<K: Hashable, V>(_ descriptor: BroadcastStateDescriptor<K, V>) -> BroadcastStream<T, K, V> {
        BroadcastStream(stream: broadcast(), descriptor: descriptor)
    }
}

extension KeyedStream {
    /// Connects two keyed streams for a ``KeyedCoProcessFunction``.
    @inlinable
    public func connect<U>(_ other: KeyedStream<U, K>) -> ConnectedKeyedStreams<T, U, K> {
        ConnectedKeyedStreams(streams: ConnectedStreams(first: stream, second: other.stream), key1: key, key2: other.key)
    }
}

/// Names a broadcast state: a map of `K` to `V`, the same on every subtask.
public struct BroadcastStateDescriptor<K: Hashable, V>: Sendable {
    public let name: String
    public init(name: String) { self.name = name }
}

/// A stream whose records reach every subtask and update broadcast state there.
public struct BroadcastStream<T, K: Hashable, V> {
    @usableFromInline let stream: DataStream<T>
    public let descriptor: BroadcastStateDescriptor<K, V>

    @inlinable
    init(stream: DataStream<T>, descriptor: BroadcastStateDescriptor<K, V>) {
        self.stream = stream
        self.descriptor = descriptor
    }
}

/// A stream connected with a broadcast stream.
public struct BroadcastConnectedStream<T, B, K: Hashable, V> {
    @usableFromInline let stream: DataStream<T>
    @usableFromInline let broadcast: BroadcastStream<B, K, V>

    @inlinable
    init(stream: DataStream<T>, broadcast: BroadcastStream<B, K, V>) {
        self.stream = stream
        self.broadcast = broadcast
    }

    /// Runs a ``BroadcastProcessFunction``; `function` is evaluated once per subtask.
    @inlinable
    public func process<F: BroadcastProcessFunction>(_ function: @autoclosure @escaping @Sendable () -> F) -> DataStream<F.Out>
    where F.In == T, F.BroadcastIn == B {
        let descriptor = broadcast.descriptor
        return ConnectedStreams(first: stream, second: broadcast.stream)
            .addTwoInputOperator(name: "BroadcastProcess", isKeyed: false, keyGroup1: nil, keyGroup2: nil) { setup, output in
                BuiltOperator(twoInput: try BroadcastProcessOperator(
                    function: function(), descriptor: descriptor, setup: setup,
                    output: unsafeDowncast(output!, to: Output<F.Out>.self)))
            }
    }
}

/// The context of ``BroadcastProcessFunction/processElement(_:_:_:)``: broadcast state is read-only.
public final class BroadcastReadOnlyContext<Out>: ProcessContext<Out> {
    let store: OperatorStateStore

    @usableFromInline
    init(output: Output<Out>, timeService: ProcessingTimeService, store: OperatorStateStore) {
        self.store = store
        super.init(output: output, timeService: timeService)
    }

    /// The broadcast state named by `descriptor`, read-only.
    public func getBroadcastState<K, V>(_ descriptor: BroadcastStateDescriptor<K, V>) throws -> ReadOnlyBroadcastState<K, V> {
        try store.broadcastState(name: descriptor.name, keyType: K.self, valueType: V.self).readOnly
    }
}

/// The context of ``BroadcastProcessFunction/processBroadcastElement(_:_:_:)``: broadcast state is writable.
public final class BroadcastContext<Out>: ProcessContext<Out> {
    let store: OperatorStateStore

    @usableFromInline
    init(output: Output<Out>, timeService: ProcessingTimeService, store: OperatorStateStore) {
        self.store = store
        super.init(output: output, timeService: timeService)
    }

    /// The broadcast state named by `descriptor`. Update it the same way on every subtask
    /// (only from the broadcast element), or subtasks will disagree.
    public func getBroadcastState<K, V>(_ descriptor: BroadcastStateDescriptor<K, V>) throws -> BroadcastState<K, V> {
        try store.broadcastState(name: descriptor.name, keyType: K.self, valueType: V.self)
    }
}
