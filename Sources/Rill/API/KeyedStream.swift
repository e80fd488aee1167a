/// A stream partitioned by key (Flink's `KeyedStream`): operators on it see one key at a time
/// and may keep keyed state and timers per key.
public struct KeyedStream<T, K: StableHashable> {
    public let stream: DataStream<T>
    @usableFromInline let key: @Sendable (T) -> K

    @inlinable
    init(stream: DataStream<T>, key: @escaping @Sendable (T) -> K) {
        self.stream = stream
        self.key = key
    }

    /// The key group of a record, given the job's max parallelism.
    @inlinable
    var keyGroup: @Sendable (T, Int) -> Int {
        let key = self.key
        return { value, maxParallelism in
            KeyGroupRangeAssignment.assignToKeyGroup(key(value), maxParallelism: maxParallelism)
        }
    }
}

extension KeyedStream {
    @inlinable
    func addKeyedOperator<Out>(name: String, build: @escaping OperatorBuilder) -> DataStream<Out> {
        stream.addOperator(name: name, isKeyed: true, keyGroup: keyGroup, partitioner: .hash, build: build)
    }

    /// Runs a ``KeyedProcessFunction`` with keyed state and timers. `function` is evaluated
    /// once per subtask.
    @inlinable
    public func process<F: KeyedProcessFunction>(_ function: @autoclosure @escaping @Sendable () -> F) -> DataStream<F.Out>
    where F.In == T, F.Key == K {
        let key = self.key
        return addKeyedOperator(name: "KeyedProcess") { setup, output in
            BuiltOperator(oneInput: try KeyedProcessOperator(function: function(), key: key, setup: setup,
                                                             output: unsafeDowncast(output!, to: Output<F.Out>.self)))
        }
    }

    /// Combines each record with the previous result for its key and emits the new result
    /// (a rolling reduce; the first record of a key is emitted as is).
    @inlinable
    public func reduce(_ combine: @escaping @Sendable (T, T) throws -> T) -> DataStream<T> {
        let key = self.key
        return addKeyedOperator(name: "Keyed Reduce") { setup, output in
            BuiltOperator(oneInput: try KeyedReduceOperator(key: key, reduce: combine, setup: setup,
                                                            output: unsafeDowncast(output!, to: Output<T>.self)))
        }
    }
}
