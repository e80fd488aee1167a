/// Where a stream comes from: an operator's main output, or one of its side outputs.
@usableFromInline
struct StreamOutputRef: Sendable {
    @usableFromInline let node: Int
    @usableFromInline let sideOutput: OutputTagID?

    @inlinable init(node: Int, sideOutput: OutputTagID? = nil) {
        self.node = node
        self.sideOutput = sideOutput
    }
}

/// Build-time operations on a record type, made where the type is concrete.
@usableFromInline
struct StreamTypeOps: @unchecked Sendable {
    // Holds only closures without captured state.
    @usableFromInline let makeOutput: (_ batchSize: Int) -> AnyObject
    @usableFromInline let connect: (_ output: AnyObject, _ consumer: AnyObject, _ watermarks: WatermarkTarget) -> Void
    @usableFromInline let attachSideOutput: (_ parent: AnyObject, _ tag: OutputTagID, _ side: AnyObject) -> Void
    /// Turns a `BatchConsumer<T>` into a consumer of type-erased `RecordBatch<T>`s from a channel.
    @usableFromInline let channelInput: (_ consumer: AnyObject) -> (AnyObject) throws -> Void
    /// Wraps a `BatchConsumer<T>` to count records and name the operator in errors.
    @usableFromInline let instrument: (_ consumer: AnyObject, _ metrics: OperatorMetrics, _ operatorName: String) -> AnyObject
    /// Unaligned checkpoints: whether records of this type can be stored as channel state,
    /// and how (see ``InFlightRecordCoding``).
    @usableFromInline let inFlight: InFlightOps

    @usableFromInline
    struct InFlightOps: @unchecked Sendable {
        // Holds only closures without captured state.
        @usableFromInline let isSupported: () -> Bool
        /// Appends `RecordBatch<T>`s' records to a blob.
        @usableFromInline let encode: (_ batches: [AnyObject], _ writer: inout BinaryWriter) throws -> Void
        /// Reads a blob back as one `RecordBatch<T>`.
        @usableFromInline let decode: (_ reader: inout BinaryReader) throws -> AnyObject
        /// Hands a `RecordBatch<T>` to a `BatchConsumer<T>`.
        @usableFromInline let replay: (_ batch: AnyObject, _ consumer: AnyObject) throws -> Void

        @inlinable
        init(isSupported: @escaping () -> Bool,
             encode: @escaping (_ batches: [AnyObject], _ writer: inout BinaryWriter) throws -> Void,
             decode: @escaping (_ reader: inout BinaryReader) throws -> AnyObject,
             replay: @escaping (_ batch: AnyObject, _ consumer: AnyObject) throws -> Void) {
            self.isSupported = isSupported
            self.encode = encode
            self.decode = decode
            self.replay = replay
        }
    }

    @inlinable
    init(makeOutput: @escaping (_ batchSize: Int) -> AnyObject,
         connect: @escaping (_ output: AnyObject, _ consumer: AnyObject, _ watermarks: WatermarkTarget) -> Void,
         attachSideOutput: @escaping (_ parent: AnyObject, _ tag: OutputTagID, _ side: AnyObject) -> Void,
         channelInput: @escaping (_ consumer: AnyObject) -> (AnyObject) throws -> Void,
         instrument: @escaping (_ consumer: AnyObject, _ metrics: OperatorMetrics, _ operatorName: String) -> AnyObject,
         inFlight: InFlightOps) {
        self.makeOutput = makeOutput
        self.inFlight = inFlight
        self.connect = connect
        self.attachSideOutput = attachSideOutput
        self.channelInput = channelInput
        self.instrument = instrument
    }

    @inlinable
    static func of<T>(_: T.Type) -> StreamTypeOps {
        StreamTypeOps(
            makeOutput: { Output<T>(batchSize: $0) },
            connect: { output, consumer, watermarks in
                let consume = unsafeDowncast(consumer, to: BatchConsumer<T>.self).consume
                unsafeDowncast(output, to: Output<T>.self).addConsumer(consume, watermarks: watermarks)
            },
            attachSideOutput: { parent, tag, side in
                let sideOutput = unsafeDowncast(side, to: Output<T>.self)
                (parent as! any SideOutputAttaching).attach(tag, sideOutput, flush: { try sideOutput.flush() },
                                                            watermarks: WatermarkTarget(
                                                                processWatermark: { try sideOutput.emitWatermark($0) },
                                                                processWatermarkStatus: { try sideOutput.emitWatermarkStatus(idle: $0) }))
            },
            channelInput: { consumer in
                let consume = unsafeDowncast(consumer, to: BatchConsumer<T>.self).consume
                return { batch in try consume(unsafeDowncast(batch, to: RecordBatch<T>.self).records) }
            },
            instrument: { consumer, metrics, operatorName in
                let consume = unsafeDowncast(consumer, to: BatchConsumer<T>.self).consume
                return BatchConsumer<T> { batch in
                    metrics.countIn(batch.count)
                    try attributing(operatorName) { try consume(batch) }
                }
            },
            inFlight: InFlightOps(
                isSupported: { InFlightRecordCoding.isSupported(T.self) },
                encode: { batches, writer in try InFlightRecordCoding.encode(batches, T.self, into: &writer) },
                decode: { reader in try InFlightRecordCoding.decode(T.self, from: &reader) },
                replay: { batch, consumer in
                    try unsafeDowncast(consumer, to: BatchConsumer<T>.self).consume(unsafeDowncast(batch, to: RecordBatch<T>.self).records)
                }))
    }
}

/// Lets build-time code attach a side output to an ``Output`` of an unknown type.
@usableFromInline protocol SideOutputAttaching: AnyObject {
    func attach(_ tag: OutputTagID, _ side: AnyObject, flush: @escaping () throws -> Void, watermarks: WatermarkTarget)
    func attachMetrics(_ metrics: OperatorMetrics)
}

extension Output: SideOutputAttaching {
    @usableFromInline func attach(_ tag: OutputTagID, _ side: AnyObject, flush: @escaping () throws -> Void,
                                  watermarks: WatermarkTarget) {
        sideOutputs[ObjectIdentifier(tag)] = side
        sideOutputFlushes.append(flush)
        sideOutputWatermarks.append(watermarks)
    }
}

/// The kinds of node in a stream graph.
@usableFromInline
enum NodeKind: Sendable {
    case source
    case oneInput
    case twoInput
    case sink
}

/// Makes one operator instance for one subtask; the output is the node's `Output<Out>`
/// (or `nil` for sinks).
@usableFromInline
typealias OperatorBuilder = @Sendable (_ setup: OperatorSetup, _ output: AnyObject?) throws -> BuiltOperator

/// One operator of the logical graph (Flink's StreamNode / Transformation).
@usableFromInline
final class StreamNode: @unchecked Sendable {
    // Mutated only while the job is being built on one thread; read-only afterwards.
    @usableFromInline let id: Int
    @usableFromInline var name: String
    @usableFromInline var uid: String?
    @usableFromInline var parallelism: Int?
    @usableFromInline var maxParallelism: Int?
    @usableFromInline let kind: NodeKind
    /// Non-parallel operators (collection sources, async-sequence sources) always run once.
    @usableFromInline let isNonParallel: Bool
    @usableFromInline var chainingAllowed = true
    /// An invalid argument found while the job was described (a window size of zero, ...),
    /// where Flink's constructor would have thrown: building the job fails with it.
    @usableFromInline var argumentError: RillError?
    /// Whether the operator uses keyed state and timers (and so needs a key-group range).
    @usableFromInline let isKeyed: Bool
    @usableFromInline let outputOps: StreamTypeOps?
    @usableFromInline let build: OperatorBuilder

    /// Throws ``argumentError``, naming this operator.
    func checkArguments() throws {
        guard var error = argumentError else { return }
        error.operatorName = error.operatorName ?? name
        throw error
    }

    @usableFromInline
    init(id: Int, name: String, kind: NodeKind, isKeyed: Bool, isNonParallel: Bool,
         outputOps: StreamTypeOps?, build: @escaping OperatorBuilder) {
        self.id = id
        self.name = name
        self.kind = kind
        self.isKeyed = isKeyed
        self.isNonParallel = isNonParallel
        self.outputOps = outputOps
        self.build = build
    }
}

/// A connection between two nodes of the logical graph.
@usableFromInline
struct StreamEdge: Sendable {
    @usableFromInline let source: StreamOutputRef
    @usableFromInline let target: Int
    /// 0 for one-input operators; 0 or 1 for two-input operators.
    @usableFromInline let inputIndex: Int
    /// `nil`: forward when parallelisms match, otherwise rebalance (Flink's default).
    @usableFromInline let partitioner: PartitionerKind?
    /// The type of the records on this edge.
    @usableFromInline let typeOps: StreamTypeOps
    @usableFromInline let writers: ChannelWriterFactory

    @inlinable
    init(source: StreamOutputRef, target: Int, inputIndex: Int, partitioner: PartitionerKind?,
         typeOps: StreamTypeOps, writers: ChannelWriterFactory) {
        self.source = source
        self.target = target
        self.inputIndex = inputIndex
        self.partitioner = partitioner
        self.typeOps = typeOps
        self.writers = writers
    }
}

/// The logical graph a ``StreamEnvironment`` accumulates as the job is described.
@usableFromInline
final class StreamGraph: @unchecked Sendable {
    // Built on one thread, then only read.
    @usableFromInline var nodes: [StreamNode] = []
    @usableFromInline var edges: [StreamEdge] = []

    @usableFromInline init() {}

    @usableFromInline
    func addNode(name: String, kind: NodeKind, isKeyed: Bool = false, isNonParallel: Bool = false,
                 outputOps: StreamTypeOps?, build: @escaping OperatorBuilder) -> StreamNode {
        let node = StreamNode(id: nodes.count, name: name, kind: kind, isKeyed: isKeyed,
                              isNonParallel: isNonParallel, outputOps: outputOps, build: build)
        if isNonParallel { node.parallelism = 1 }
        nodes.append(node)
        return node
    }

    @usableFromInline
    func addEdge(_ edge: StreamEdge) { edges.append(edge) }
}
