/// Runs the operators of a small job synchronously on the calling thread, with no tasks, no
/// channels and a manual clock: the engine behind the operator test harnesses of
/// `RillTesting` (Flink's `OneInputStreamOperatorTestHarness` and friends).
///
/// Every edge is a direct call, whatever its partitioner, and every operator runs as subtask
/// 0 of 1 owning all key groups.
@_spi(Testing)
public final class LocalOperatorDriver {
    public let clock: ManualClock
    let environment: StreamEnvironment
    let timeService: ProcessingTimeService
    private var inputNodes: [Int] = []
    private var outputNode = -1
    private var built: [Int: BuiltOperator] = [:]
    private var outputs: [Int: AnyObject] = [:]
    private var order: [Int] = []
    private let job = JobShared()
    private var finished = false

    /// - Parameters:
    ///   - clock: processing time for timers; advance it with ``advanceProcessingTime(to:)``.
    ///   - maxParallelism: the number of key groups.
    public init(clock: ManualClock, maxParallelism: Int = 128) {
        self.clock = clock
        var configuration = StreamEnvironment.Configuration()
        configuration.parallelism = 1
        configuration.maxParallelism = maxParallelism
        configuration.clock = clock
        configuration.autoWatermarkInterval = .zero
        environment = StreamEnvironment(configuration: configuration)
        timeService = ProcessingTimeService(clock: clock)
    }

    /// A placeholder stream the test pushes records into.
    public func makeInput<T>(_: T.Type = T.self) -> DataStream<T> {
        let node = environment.graph.addNode(name: "Test Input \(inputNodes.count + 1)", kind: .source,
                                             outputOps: .of(T.self)) { _, _ in
            preconditionFailure("test inputs are never built")
        }
        inputNodes.append(node.id)
        return DataStream(environment: environment, node: node.id)
    }

    /// Builds and opens every operator added after the inputs; `stream` is the output under test.
    public func start<Out>(output stream: DataStream<Out>) throws {
        precondition(stream.inputs.count == 1, "the stream under test must come out of one operator")
        let graph = environment.graph
        outputNode = stream.inputs[0].node
        let configuration = environment.configuration
        for node in graph.nodes where !inputNodes.contains(node.id) {
            try node.checkArguments()
            let maxParallelism = node.maxParallelism ?? configuration.maxParallelism
            let setup = OperatorSetup(operatorName: node.name, nodeId: node.id, uid: node.uid, subtaskIndex: 0, parallelism: 1,
                                      maxParallelism: maxParallelism,
                                      keyGroupRange: KeyGroupRange(start: 0, end: maxParallelism - 1),
                                      configuration: configuration, timeService: timeService,
                                      gate: InputGate(channelCount: 0, capacity: 1), job: job, metrics: OperatorMetrics())
            let output = node.outputOps?.makeOutput(configuration.batchSize)
            outputs[node.id] = output
            built[node.id] = try node.build(setup, output)
            order.append(node.id)
        }
        var sideOutputs: [String: AnyObject] = [:]
        for edge in graph.edges where !inputNodes.contains(edge.source.node) {
            var source: AnyObject = outputs[edge.source.node]!
            if let tag = edge.source.sideOutput {
                let key = "\(edge.source.node)/\(ObjectIdentifier(tag).hashValue)"
                if let existing = sideOutputs[key] {
                    source = existing
                } else {
                    let side = edge.typeOps.makeOutput(configuration.batchSize)
                    edge.typeOps.attachSideOutput(source, tag, side)
                    sideOutputs[key] = side
                    source = side
                }
            }
            let target = built[edge.target]!
            edge.typeOps.connect(source, target.inputs[edge.inputIndex], target.control.watermarkTarget)
        }
        for input in inputNodes.indices { inputWatermarks[input] = Int64.min }
        for id in order.reversed() { try built[id]!.control.open() }
    }

    /// Collects the main output of the operator under test.
    public func collectOutput<Out>(_: Out.Type, into sink: @escaping ([StreamRecord<Out>]) -> Void,
                                   watermarks: @escaping (Int64) -> Void) {
        let output = unsafeDowncast(outputs[outputNode]!, to: Output<Out>.self)
        output.addConsumer({ sink($0) }, watermarks: WatermarkTarget(processWatermark: watermarks, processWatermarkStatus: { _ in }))
    }

    /// Collects every side output of the operator under test, as `StreamRecord<S>` values.
    public func collectSideOutputs<Out>(of _: Out.Type, into sink: @escaping (OutputTagID, Any) -> Void) {
        unsafeDowncast(outputs[outputNode]!, to: Output<Out>.self).unclaimedSideOutput = sink
    }

    private func consumers(ofInput input: Int) -> [(BuiltOperator, Int)] {
        environment.graph.edges.filter { $0.source.node == inputNodes[input] }.map { (built[$0.target]!, $0.inputIndex) }
    }

    /// Pushes records into input `input` (0 or 1) and runs everything they cause.
    public func process<T>(_ records: [StreamRecord<T>], input: Int = 0) throws {
        for (target, index) in consumers(ofInput: input) {
            try unsafeDowncast(target.inputs[index], to: BatchConsumer<T>.self).consume(records)
        }
        try flushAll()
    }

    /// Delivers a watermark to every operator fed by the inputs (a two-input operator takes the
    /// minimum of its inputs' watermarks, as in a job).
    public func processWatermark(_ watermark: Int64, input: Int = 0) throws {
        inputWatermarks[input] = watermark
        let combined = inputWatermarks.values.min() ?? watermark
        for (target, _) in consumers(ofInput: input) where combined > lastWatermark {
            try target.control.processWatermark(combined)
        }
        lastWatermark = max(lastWatermark, combined)
        try flushAll()
    }
    private var inputWatermarks: [Int: Int64] = [:]
    private var lastWatermark = Int64.min

    /// Marks the inputs idle or active.
    public func processWatermarkStatus(idle: Bool, input: Int = 0) throws {
        for (target, _) in consumers(ofInput: input) { try target.control.processWatermarkStatus(idle) }
        try flushAll()
    }

    /// Moves processing time to `millis` and fires every timer that became due.
    public func advanceProcessingTime(to millis: Int64) throws {
        clock.set(to: millis)
        try timeService.fireDue()
        try flushAll()
    }

    /// Ends the input: operators see end of input and finish, as at the end of a bounded job.
    /// Does not emit the final watermark; call `processWatermark(Int64.max)` first for that.
    public func endInput() throws {
        guard !finished else { return }
        finished = true
        for id in order {
            try built[id]!.control.endInput()
            try built[id]!.control.finish()
        }
        try flushAll()
        try job.finalCommits.commitAll()
    }

    /// Closes every operator.
    public func close() throws {
        for id in order { try built[id]!.control.close() }
    }

    private func flushAll() throws {
        for id in order { try (outputs[id] as? any OutputFlushing)?.flushAny() }
    }
}

/// Flushes an ``Output`` of unknown type.
protocol OutputFlushing: AnyObject {
    func flushAny() throws
}

extension Output: OutputFlushing {
    func flushAny() throws { try flush() }
}
