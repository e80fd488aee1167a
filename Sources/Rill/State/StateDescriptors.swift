/// Flink's `ReduceFunction`: combines two values of the same type into one.
public typealias ReduceFunction<T> = (T, T) throws -> T

/// Flink's `AggregateFunction`: incremental aggregation through a mutable-by-value
/// accumulator. Used by ``AggregatingState`` and by window aggregation.
public protocol AggregateFunction {
    associatedtype In
    associatedtype Accumulator
    associatedtype Out

    /// A new, empty accumulator.
    func createAccumulator() -> Accumulator
    /// Adds `value` to `accumulator` and returns the updated accumulator.
    func add(_ value: In, to accumulator: Accumulator) -> Accumulator
    /// The result for an accumulator.
    func getResult(_ accumulator: Accumulator) -> Out
    /// Merges two accumulators (merging windows); returns the merged one.
    func merge(_ a: Accumulator, _ b: Accumulator) -> Accumulator
}

/// Names a ``ValueState`` (Flink's `ValueStateDescriptor`).
public struct ValueStateDescriptor<V> {
    public let name: String
    /// Time-to-live of the values; `nil` keeps them until cleared.
    public var ttl: StateTTLConfig?

    public init(name: String, ttl: StateTTLConfig? = nil) {
        self.name = name
        self.ttl = ttl
    }
}

/// Names a ``ListState``; with TTL every element expires on its own.
public struct ListStateDescriptor<V> {
    public let name: String
    public var ttl: StateTTLConfig?

    public init(name: String, ttl: StateTTLConfig? = nil) {
        self.name = name
        self.ttl = ttl
    }
}

/// Names a ``MapState``; with TTL every entry expires on its own.
public struct MapStateDescriptor<UK: Hashable, UV> {
    public let name: String
    public var ttl: StateTTLConfig?

    public init(name: String, ttl: StateTTLConfig? = nil) {
        self.name = name
        self.ttl = ttl
    }
}

/// Names a ``ReducingState`` and its reduce function.
public struct ReducingStateDescriptor<V> {
    public let name: String
    public let reduceFunction: ReduceFunction<V>
    public var ttl: StateTTLConfig?

    public init(name: String, reduceFunction: @escaping ReduceFunction<V>, ttl: StateTTLConfig? = nil) {
        self.name = name
        self.reduceFunction = reduceFunction
        self.ttl = ttl
    }
}

/// Names an ``AggregatingState`` and its aggregate function.
public struct AggregatingStateDescriptor<F: AggregateFunction> {
    public let name: String
    public let aggregateFunction: F
    public var ttl: StateTTLConfig?

    public init(name: String, aggregateFunction: F, ttl: StateTTLConfig? = nil) {
        self.name = name
        self.aggregateFunction = aggregateFunction
        self.ttl = ttl
    }
}
