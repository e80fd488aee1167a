/// A stream of records of type `T` (Flink's `DataStream` / `SingleOutputStreamOperator`).
///
/// Every method adds an operator to the job and returns the new stream; nothing runs until
/// ``StreamEnvironment/execute(_:)``. Methods that configure the operator that produced this
/// stream (``name(_:)``, ``uid(_:)``, ``setParallelism(_:)``) apply to that operator.
public struct DataStream<T> {
    public let environment: StreamEnvironment
    @usableFromInline let inputs: [StreamOutputRef]
    @usableFromInline let partitioner: PartitionerKind?
    @usableFromInline let customPartition: (@Sendable (T, Int) -> Int)?

    @inlinable
    init(environment: StreamEnvironment, node: Int) {
        self.init(environment: environment, inputs: [StreamOutputRef(node: node)], partitioner: nil, customPartition: nil)
    }

    @inlinable
    init(environment: StreamEnvironment, inputs: [StreamOutputRef], partitioner: PartitionerKind?,
         customPartition: (@Sendable (T, Int) -> Int)?) {
        self.environment = environment
        self.inputs = inputs
        self.partitioner = partitioner
        self.customPartition = customPartition
    }

    @usableFromInline var graph: StreamGraph { environment.graph }

    /// The operator this stream comes out of; stream-level settings apply to it.
    @usableFromInline
    var producer: StreamNode {
        precondition(inputs.count == 1 && inputs[0].sideOutput == nil,
                     "this setting applies to the operator that produced the stream; a union or side output has none")
        return graph.nodes[inputs[0].node]
    }

    // MARK: operator settings

    /// Names the operator (shown in errors, metrics and plans).
    @discardableResult
    public func name(_ name: String) -> DataStream<T> {
        producer.name = name
        return self
    }

    /// A stable identity for the operator's state in savepoints. Set it on every stateful
    /// operator of a job you intend to upgrade.
    @discardableResult
    public func uid(_ uid: String) -> DataStream<T> {
        producer.uid = uid
        return self
    }

    /// The operator's parallelism, overriding the environment's.
    @discardableResult
    public func setParallelism(_ parallelism: Int) -> DataStream<T> {
        producer.parallelism = parallelism
        return self
    }

    /// The operator's number of key groups, overriding the environment's.
    @discardableResult
    public func setMaxParallelism(_ maxParallelism: Int) -> DataStream<T> {
        producer.maxParallelism = maxParallelism
        return self
    }

    /// Keeps the operator out of any chain.
    @discardableResult
    public func disableChaining() -> DataStream<T> {
        producer.chainingAllowed = false
        return self
    }

    // MARK: wiring

    /// Adds a one-input operator fed by this stream.
    @inlinable
    func addOperator<Out>(name: String, isKeyed: Bool = false,
                          keyGroup: (@Sendable (T, Int) -> Int)? = nil,
                          partitioner overridePartitioner: PartitionerKind? = nil,
                          build: @escaping OperatorBuilder) -> DataStream<Out> {
        let node = graph.addNode(name: name, kind: .oneInput, isKeyed: isKeyed, outputOps: .of(Out.self), build: build)
        connect(to: node, inputIndex: 0, keyGroup: keyGroup, partitioner: overridePartitioner)
        return DataStream<Out>(environment: environment, node: node.id)
    }

    @inlinable
    func connect(to node: StreamNode, inputIndex: Int, keyGroup: (@Sendable (T, Int) -> Int)? = nil,
                 partitioner overridePartitioner: PartitionerKind? = nil) {
        let writers = ChannelWriterFactory.of(T.self, keyGroup: keyGroup, customPartition: customPartition)
        for input in inputs {
            graph.addEdge(StreamEdge(source: input, target: node.id, inputIndex: inputIndex,
                                     partitioner: overridePartitioner ?? partitioner,
                                     typeOps: .of(T.self), writers: writers))
        }
    }

    @inlinable
    func repartitioned(_ kind: PartitionerKind, custom: (@Sendable (T, Int) -> Int)? = nil) -> DataStream<T> {
        DataStream(environment: environment, inputs: inputs, partitioner: kind, customPartition: custom)
    }

    // MARK: transformations
    //
    // The stateless transformations are inlined into the caller (`@inline(__always)`): there a
    // closure literal that captures nothing is a constant, which the optimizer propagates into
    // the kernel closure built below and then inlines into its batch loop, so the user's function
    // costs no call per record. A closure that captures variables is still called once per
    // record, from a loop specialized for the user's types.

    /// Applies `transform` to every record.
    @inlinable @inline(__always)
    public func map<U>(_ transform: @escaping @Sendable (T) throws -> U) -> DataStream<U> {
        addOperator(name: "Map") { _, output in
            BuiltOperator(oneInput: KernelOperator<T, U>(output: unsafeDowncast(output!, to: Output<U>.self)) { batch, out in
                try out.emit(_BatchBuilder.build(capacity: batch.count) { mapped in
                    for record in batch {
                        mapped.uncheckedAppend(StreamRecord(try transform(record.value), timestamp: record.timestamp))
                    }
                })
            })
        }
    }

    /// Keeps the records for which `isIncluded` is true.
    @inlinable @inline(__always)
    public func filter(_ isIncluded: @escaping @Sendable (T) throws -> Bool) -> DataStream<T> {
        addOperator(name: "Filter") { _, output in
            BuiltOperator(oneInput: KernelOperator<T, T>(output: unsafeDowncast(output!, to: Output<T>.self)) { batch, out in
                try out.emit(_BatchBuilder.build(capacity: batch.count) { kept in
                    for record in batch { kept.uncheckedAppend(record, if: try isIncluded(record.value)) }
                })
            })
        }
    }

    /// Replaces every record by the elements of the sequence `transform` returns.
    @inlinable @inline(__always)
    public func flatMap<S: Sequence>(_ transform: @escaping @Sendable (T) throws -> S) -> DataStream<S.Element> {
        addOperator(name: "FlatMap") { _, output in
            BuiltOperator(oneInput: KernelOperator<T, S.Element>(output: unsafeDowncast(output!, to: Output<S.Element>.self)) { batch, out in
                for record in batch {
                    for element in try transform(record.value) { try out.collect(element, timestamp: record.timestamp) }
                }
            })
        }
    }

    /// Replaces every record by whatever `transform` emits to the collector (Flink's `FlatMapFunction`).
    @inlinable @inline(__always)
    public func flatMap<U>(_ transform: @escaping @Sendable (T, Collector<U>) throws -> Void) -> DataStream<U> {
        addOperator(name: "FlatMap") { _, output in
            let out = unsafeDowncast(output!, to: Output<U>.self)
            let collector = Collector(out)
            return BuiltOperator(oneInput: KernelOperator<T, U>(output: out) { batch, _ in
                for record in batch {
                    collector.timestamp = record.timestamp
                    try transform(record.value, collector)
                }
            })
        }
    }

    /// Runs a ``ProcessFunction`` on every record. `function` is evaluated once per subtask,
    /// so each subtask gets its own instance.
    @inlinable
    public func process<F: ProcessFunction>(_ function: @autoclosure @escaping @Sendable () -> F) -> DataStream<F.Out>
    where F.In == T {
        addOperator(name: "Process") { setup, output in
            BuiltOperator(oneInput: ProcessOperator(function: function(), setup: setup,
                                                    output: unsafeDowncast(output!, to: Output<F.Out>.self)))
        }
    }

    /// The records of this stream and of `others`, merged (all of the same type).
    @inlinable
    public func union(_ others: DataStream<T>...) -> DataStream<T> {
        var all = inputs
        for other in others {
            precondition(other.environment === environment, "union of streams from different environments")
            all += other.inputs
        }
        return DataStream(environment: environment, inputs: all, partitioner: partitioner, customPartition: customPartition)
    }

    /// The records the producing operator sent to the side output `tag`.
    @inlinable
    public func sideOutput<S>(_ tag: OutputTag<S>) -> DataStream<S> {
        DataStream<S>(environment: environment, inputs: [StreamOutputRef(node: producer.id, sideOutput: tag.id)],
                      partitioner: nil, customPartition: nil)
    }

    // MARK: partitioning

    /// Round-robin over all downstream subtasks.
    @inlinable public func rebalance() -> DataStream<T> { repartitioned(.rebalance) }
    /// Round-robin over a local subset of downstream subtasks.
    @inlinable public func rescale() -> DataStream<T> { repartitioned(.rescale) }
    /// Every record to every downstream subtask.
    @inlinable public func broadcast() -> DataStream<T> { repartitioned(.broadcast) }
    /// Uniformly random.
    @inlinable public func shuffle() -> DataStream<T> { repartitioned(.shuffle) }
    /// Every record to downstream subtask 0.
    @inlinable public func global() -> DataStream<T> { repartitioned(.global) }
    /// Subtask i to subtask i; the parallelisms must match.
    @inlinable public func forward() -> DataStream<T> { repartitioned(.forward) }

    /// Sends each record to the subtask `partition(record, numberOfSubtasks)` returns.
    @inlinable
    public func partitionCustom(_ partition: @escaping @Sendable (T, Int) -> Int) -> DataStream<T> {
        repartitioned(.custom, custom: partition)
    }

    /// Partitions by key: records with equal keys go to the same subtask, which owns their
    /// key group and their keyed state.
    @inlinable
    public func keyBy<K: StableHashable>(_ key: @escaping @Sendable (T) -> K) -> KeyedStream<T, K> {
        KeyedStream(stream: self, key: key)
    }

    // MARK: time

    /// Assigns event timestamps and generates watermarks in the middle of a stream (prefer
    /// giving the strategy to the source). Watermarks from upstream are dropped, except the
    /// final one at end of input.
    @inlinable
    public func assignTimestampsAndWatermarks(_ strategy: WatermarkStrategy<T>) -> DataStream<T> {
        addOperator(name: "Timestamps/Watermarks") { setup, output in
            BuiltOperator(oneInput: TimestampsAndWatermarksOperator(strategy: strategy, setup: setup,
                                                                    output: unsafeDowncast(output!, to: Output<T>.self)))
        }
    }
}
