extension KeyedStream {
    /// Groups each key's elements into windows (Flink's `KeyedStream.window`). Configure the
    /// windowing on the result, then end it with a window function:
    ///
    /// ```swift
    /// events.keyBy(\.user)
    ///     .window(TumblingEventTimeWindows.of(.seconds(60)))
    ///     .allowedLateness(.seconds(10))
    ///     .sideOutputLateData(late)
    ///     .aggregate(CountClicks())
    /// ```
    @inlinable
    public func window<A: WindowAssigner>(_ assigner: A) -> WindowedStream<T, K, A, A.DefaultTrigger> where A.Element == T {
        WindowedStream(input: self, assigner: assigner, trigger: assigner.defaultTrigger, hasCustomTrigger: false,
                       evictor: nil, allowedLateness: 0, latenessError: nil, lateDataTag: nil, isNonParallel: false)
    }
}

extension DataStream {
    /// Groups all elements into windows, without keys (Flink's `windowAll`). The window operator
    /// runs with parallelism 1.
    @inlinable
    public func windowAll<A: WindowAssigner>(_ assigner: A) -> AllWindowedStream<T, A, A.DefaultTrigger> where A.Element == T {
        let keyed = KeyedStream<T, Int8>(stream: self, key: { _ in 0 })
        return AllWindowedStream(WindowedStream(input: keyed, assigner: assigner, trigger: assigner.defaultTrigger,
                                                hasCustomTrigger: false, evictor: nil, allowedLateness: 0,
                                                latenessError: nil, lateDataTag: nil, isNonParallel: true))
    }
}

/// A keyed stream grouped into windows (Flink's `WindowedStream`): set the trigger, evictor,
/// allowed lateness and late-data side output, then apply a window function.
///
/// Windowing follows Flink's `WindowOperator` exactly; see `docs/windows.md`. Tumbling and
/// sliding event-time windows with `reduce` or `aggregate`, the default trigger, no evictor
/// and no allowed lateness are computed by slicing, with the same results.
public struct WindowedStream<T, K: StableHashable, A: WindowAssigner, Tr: Trigger>
where A.Element == T, Tr.Element == T, Tr.W == A.W {
    public typealias W = A.W

    @usableFromInline let input: KeyedStream<T, K>
    @usableFromInline let assigner: A
    @usableFromInline let windowTrigger: Tr
    @usableFromInline let hasCustomTrigger: Bool
    @usableFromInline let windowEvictor: _AnyEvictor<T, A.W>?
    @usableFromInline let allowedLatenessMillis: Int64
    /// Why the allowed lateness is invalid (negative, or beyond 64-bit milliseconds), for job
    /// building to report.
    @usableFromInline let latenessError: RillError?
    @usableFromInline let lateDataTag: OutputTag<T>?
    @usableFromInline let isNonParallel: Bool

    @inlinable
    init(input: KeyedStream<T, K>, assigner: A, trigger: Tr, hasCustomTrigger: Bool, evictor: _AnyEvictor<T, A.W>?,
         allowedLateness: Int64, latenessError: RillError?, lateDataTag: OutputTag<T>?, isNonParallel: Bool) {
        self.input = input
        self.assigner = assigner
        windowTrigger = trigger
        self.hasCustomTrigger = hasCustomTrigger
        windowEvictor = evictor
        allowedLatenessMillis = allowedLateness
        self.latenessError = latenessError
        self.lateDataTag = lateDataTag
        self.isNonParallel = isNonParallel
    }

    // MARK: configuration

    /// Replaces the assigner's default trigger (Flink's `trigger`). With a merging (session)
    /// assigner the trigger must support merging; otherwise the job fails when it starts.
    @inlinable
    public func trigger<NewTrigger: Trigger>(_ trigger: NewTrigger) -> WindowedStream<T, K, A, NewTrigger>
    where NewTrigger.Element == T, NewTrigger.W == A.W {
        WindowedStream<T, K, A, NewTrigger>(input: input, assigner: assigner, trigger: trigger, hasCustomTrigger: true,
                                            evictor: windowEvictor, allowedLateness: allowedLatenessMillis,
                                            latenessError: latenessError, lateDataTag: lateDataTag, isNonParallel: isNonParallel)
    }

    /// Removes elements from fired windows before and/or after the window function (Flink's
    /// `evictor`). Windows then keep every element, and `reduce`/`aggregate` fold them when
    /// the window fires.
    @inlinable
    public func evictor<E: Evictor>(_ evictor: E) -> WindowedStream where E.Element == T, E.W == A.W {
        WindowedStream(input: input, assigner: assigner, trigger: windowTrigger, hasCustomTrigger: hasCustomTrigger,
                       evictor: _AnyEvictor(evictor), allowedLateness: allowedLatenessMillis,
                       latenessError: latenessError, lateDataTag: lateDataTag, isNonParallel: isNonParallel)
    }

    /// How long after the end of an event-time window (by the watermark) elements are still
    /// added to it (Flink's `allowedLateness`, default zero). Each such element fires the window
    /// again at once with the updated result; the window's state is cleaned up at
    /// `maxTimestamp + lateness`. Has no effect on processing-time windows.
    ///
    /// `lateness` must not be negative (Flink: "The allowed lateness cannot be negative");
    /// otherwise building the job fails with a `RillError(.invalidConfiguration)` that says what
    /// to change.
    @inlinable
    public func allowedLateness(_ lateness: Duration) -> WindowedStream {
        let (millis, error) = _WindowArguments.checking("allowedLateness") { $0.millis(lateness, "allowed lateness", atLeast: 0) }
        return WindowedStream(input: input, assigner: assigner, trigger: windowTrigger, hasCustomTrigger: hasCustomTrigger,
                              evictor: windowEvictor, allowedLateness: millis, latenessError: error,
                              lateDataTag: lateDataTag, isNonParallel: isNonParallel)
    }

    /// Sends elements that arrive too late for every window they belong to (timestamp +
    /// allowed lateness at or before the watermark) to the side output `tag` instead of
    /// dropping them (Flink's `sideOutputLateData`). Read them with
    /// ``DataStream/sideOutput(_:)`` on the window function's result.
    @inlinable
    public func sideOutputLateData(_ tag: OutputTag<T>) -> WindowedStream {
        WindowedStream(input: input, assigner: assigner, trigger: windowTrigger, hasCustomTrigger: hasCustomTrigger,
                       evictor: windowEvictor, allowedLateness: allowedLatenessMillis, latenessError: latenessError,
                       lateDataTag: tag, isNonParallel: isNonParallel)
    }

    // MARK: window functions

    /// Reduces each window's elements incrementally and emits the result when the window
    /// fires, with the window's `maxTimestamp` as its timestamp.
    @inlinable
    public func reduce(_ function: @escaping @Sendable (T, T) throws -> T) -> DataStream<T> {
        if let sliced = slicedWindows {
            return addSlicingOperator(sliced) { _ReduceSlices(function) }
        }
        if windowEvictor != nil {
            return addEvictingOperator {
                _ElementsFunction<K, A.W, T, T>(apply: { _, values, _, out in
                    if let result = try reduceAll(values, function) { try out.collect(result) }
                })
            }
        }
        return addWindowOperator(makeContents: { try _ReducingContents<T, A.W>(backend: $0, reduce: function) },
                                 makeFunction: { _ in _EmitReduced<K, A.W, T>() })
    }

    /// Reduces each window incrementally and hands the result to `process` (with the window's
    /// context) when the window fires.
    @inlinable
    public func reduce<P: ProcessWindowFunction>(_ function: @escaping @Sendable (T, T) throws -> T,
                                                 process: @autoclosure @escaping @Sendable () -> P) -> DataStream<P.Out>
    where P.In == T, P.Key == K, P.W == A.W {
        if windowEvictor != nil {
            return addEvictingOperator {
                let processFunction = process()
                return _ElementsFunction<K, A.W, T, P.Out>(
                    open: { try processFunction.open($0) },
                    apply: { key, values, context, out in
                        if let result = try reduceAll(values, function) {
                            try processFunction.process(key, context, WindowElements(one: result), out)
                        }
                    },
                    clear: { try processFunction.clear($0) },
                    close: { try processFunction.close() })
            }
        }
        return addWindowOperator(makeContents: { try _ReducingContents<T, A.W>(backend: $0, reduce: function) },
                                 makeFunction: { _ in _ReduceThenProcess(process()) })
    }

    /// Aggregates each window incrementally with `function` (evaluated once per subtask) and
    /// emits its result when the window fires.
    @inlinable
    public func aggregate<F: AggregateFunction>(_ function: @autoclosure @escaping @Sendable () -> F) -> DataStream<F.Out>
    where F.In == T {
        if let sliced = slicedWindows {
            return addSlicingOperator(sliced) { _AggregateSlices(function()) }
        }
        if windowEvictor != nil {
            return addEvictingOperator {
                let aggregate = function()
                return _ElementsFunction<K, A.W, T, F.Out>(apply: { _, values, _, out in
                    try out.collect(aggregateAll(values, aggregate))
                })
            }
        }
        return addWindowOperator(makeContents: { try _AggregatingContents<F, A.W>(backend: $0, function: function()) },
                                 makeFunction: { contents in _EmitAggregated<K, A.W, F>(contents.state.function) })
    }

    /// Aggregates each window incrementally and hands the result to `process` when the window
    /// fires.
    @inlinable
    public func aggregate<F: AggregateFunction, P: ProcessWindowFunction>(
        _ function: @autoclosure @escaping @Sendable () -> F, process: @autoclosure @escaping @Sendable () -> P
    ) -> DataStream<P.Out> where F.In == T, P.In == F.Out, P.Key == K, P.W == A.W {
        if windowEvictor != nil {
            return addEvictingOperator {
                let aggregate = function()
                let processFunction = process()
                return _ElementsFunction<K, A.W, T, P.Out>(
                    open: { try processFunction.open($0) },
                    apply: { key, values, context, out in
                        let result = aggregateAll(values, aggregate)
                        try processFunction.process(key, context, WindowElements(one: result), out)
                    },
                    clear: { try processFunction.clear($0) },
                    close: { try processFunction.close() })
            }
        }
        return addWindowOperator(makeContents: { try _AggregatingContents<F, A.W>(backend: $0, function: function()) },
                                 makeFunction: { contents in _AggregateThenProcess(contents.state.function, process()) })
    }

    /// Keeps every element of each window and hands them to `function` (evaluated once per
    /// subtask) when the window fires (Flink's `process`).
    @inlinable
    public func process<P: ProcessWindowFunction>(_ function: @autoclosure @escaping @Sendable () -> P) -> DataStream<P.Out>
    where P.In == T, P.Key == K, P.W == A.W {
        if windowEvictor != nil {
            return addEvictingOperator {
                let processFunction = function()
                return _ElementsFunction<K, A.W, T, P.Out>(
                    open: { try processFunction.open($0) },
                    apply: { key, values, context, out in
                        try processFunction.process(key, context, WindowElements(values), out)
                    },
                    clear: { try processFunction.clear($0) },
                    close: { try processFunction.close() })
            }
        }
        return addWindowOperator(makeContents: { try _ListContents<T, A.W>(backend: $0) },
                                 makeFunction: { _ in _ProcessElements(function()) })
    }

    // MARK: building

    @inlinable
    var operatorName: String { isNonParallel ? "AllWindow" : "Window" }

    /// The window geometry when the slicing operator computes this windowing.
    @inlinable
    var slicedWindows: (size: Int64, slide: Int64, offset: Int64)? {
        guard !hasCustomTrigger, windowEvictor == nil, allowedLatenessMillis == 0 else { return nil }
        if let tumbling = assigner as? TumblingEventTimeWindows<T> { return (tumbling.size, tumbling.size, tumbling.offset) }
        // With slide > size, elements between windows belong to none: the general operator.
        if let sliding = assigner as? SlidingEventTimeWindows<T>, sliding.slide <= sliding.size {
            return (sliding.size, sliding.slide, sliding.offset)
        }
        return nil
    }

    @inlinable
    func addOperator<Out>(build: @escaping OperatorBuilder) -> DataStream<Out> {
        let windowed: DataStream<Out>
        if isNonParallel {
            let stream = input.stream
            let node = stream.graph.addNode(name: operatorName, kind: .oneInput, isKeyed: true, isNonParallel: true,
                                            outputOps: .of(Out.self), build: build)
            stream.connect(to: node, inputIndex: 0, keyGroup: input.keyGroup, partitioner: .hash)
            windowed = DataStream<Out>(environment: stream.environment, node: node.id)
        } else {
            windowed = input.addKeyedOperator(name: operatorName, build: build)
        }
        windowed.producer.argumentError = argumentError
        return windowed
    }

    /// The first invalid argument of the assigner, the trigger (or a trigger it wraps), the
    /// evictor or the allowed lateness: building the job fails with it.
    @inlinable
    var argumentError: RillError? {
        _WindowArguments.problem(of: assigner) ?? _WindowArguments.problem(of: windowTrigger)
            ?? windowEvictor?.argumentError ?? latenessError
    }

    @inlinable
    func addWindowOperator<C: _WindowContents, F: _InternalWindowFunction>(
        makeContents: @escaping @Sendable (KeyedStateBackend<K>) throws -> C, makeFunction: @escaping @Sendable (C) throws -> F
    ) -> DataStream<F.Out> where C.In == T, C.W == A.W, F.Key == K, F.W == A.W, F.Acc == C.Acc {
        let key = input.key
        let assigner = self.assigner
        let trigger = windowTrigger
        let lateness = allowedLatenessMillis
        let tag = lateDataTag
        return addOperator { setup, output in
            BuiltOperator(oneInput: try WindowOperator(
                setup: setup, output: unsafeDowncast(output!, to: Output<F.Out>.self), key: key, assigner: assigner,
                trigger: trigger, allowedLateness: lateness, lateDataTag: tag,
                makeContents: makeContents, makeFunction: makeFunction))
        }
    }

    @inlinable
    func addEvictingOperator<Out>(_ makeFunction: @escaping @Sendable () -> _ElementsFunction<K, A.W, T, Out>) -> DataStream<Out> {
        let evictor = windowEvictor!
        return addWindowOperator(makeContents: { try _TimestampedListContents<T, A.W>(backend: $0) },
                                 makeFunction: { contents in
                                     _EvictingWindowFunction(evictor: evictor, contents: contents, function: makeFunction())
                                 })
    }

    @inlinable
    func addSlicingOperator<G: _SliceAggregation>(_ windows: (size: Int64, slide: Int64, offset: Int64),
                                                  _ makeAggregation: @escaping @Sendable () -> G) -> DataStream<G.Out>
    where G.In == T {
        let key = input.key
        let tag = lateDataTag
        return addOperator { setup, output in
            BuiltOperator(oneInput: try SlicingWindowOperator<K, G>(
                setup: setup, output: unsafeDowncast(output!, to: Output<G.Out>.self), key: key,
                aggregation: makeAggregation(), size: windows.size, slide: windows.slide, offset: windows.offset,
                lateDataTag: tag))
        }
    }
}

/// Non-keyed windows (Flink's `AllWindowedStream`, from ``DataStream/windowAll(_:)``): the same
/// configuration and functions as ``WindowedStream``, run by one subtask.
public struct AllWindowedStream<T, A: WindowAssigner, Tr: Trigger> where A.Element == T, Tr.Element == T, Tr.W == A.W {
    @usableFromInline let windowed: WindowedStream<T, Int8, A, Tr>

    @inlinable init(_ windowed: WindowedStream<T, Int8, A, Tr>) { self.windowed = windowed }

    @inlinable
    public func trigger<NewTrigger: Trigger>(_ trigger: NewTrigger) -> AllWindowedStream<T, A, NewTrigger>
    where NewTrigger.Element == T, NewTrigger.W == A.W {
        AllWindowedStream<T, A, NewTrigger>(windowed.trigger(trigger))
    }

    @inlinable
    public func evictor<E: Evictor>(_ evictor: E) -> AllWindowedStream where E.Element == T, E.W == A.W {
        AllWindowedStream(windowed.evictor(evictor))
    }

    @inlinable
    public func allowedLateness(_ lateness: Duration) -> AllWindowedStream { AllWindowedStream(windowed.allowedLateness(lateness)) }

    @inlinable
    public func sideOutputLateData(_ tag: OutputTag<T>) -> AllWindowedStream { AllWindowedStream(windowed.sideOutputLateData(tag)) }

    @inlinable
    public func reduce(_ function: @escaping @Sendable (T, T) throws -> T) -> DataStream<T> { windowed.reduce(function) }

    @inlinable
    public func reduce<P: ProcessAllWindowFunction>(_ function: @escaping @Sendable (T, T) throws -> T,
                                                    process: @autoclosure @escaping @Sendable () -> P) -> DataStream<P.Out>
    where P.In == T, P.W == A.W {
        windowed.reduce(function, process: _AllWindowFunctionAdapter(process()))
    }

    @inlinable
    public func aggregate<F: AggregateFunction>(_ function: @autoclosure @escaping @Sendable () -> F) -> DataStream<F.Out>
    where F.In == T {
        windowed.aggregate(function())
    }

    @inlinable
    public func aggregate<F: AggregateFunction, P: ProcessAllWindowFunction>(
        _ function: @autoclosure @escaping @Sendable () -> F, process: @autoclosure @escaping @Sendable () -> P
    ) -> DataStream<P.Out> where F.In == T, P.In == F.Out, P.W == A.W {
        windowed.aggregate(function(), process: _AllWindowFunctionAdapter(process()))
    }

    @inlinable
    public func process<P: ProcessAllWindowFunction>(_ function: @autoclosure @escaping @Sendable () -> P) -> DataStream<P.Out>
    where P.In == T, P.W == A.W {
        windowed.process(_AllWindowFunctionAdapter(function()))
    }
}

/// A ``ProcessAllWindowFunction`` run as a keyed one over the single key of `windowAll`.
@usableFromInline
final class _AllWindowFunctionAdapter<P: ProcessAllWindowFunction>: ProcessWindowFunction {
    @usableFromInline typealias In = P.In
    @usableFromInline typealias Out = P.Out
    @usableFromInline typealias Key = Int8
    @usableFromInline typealias W = P.W

    @usableFromInline let function: P

    @inlinable init(_ function: P) { self.function = function }

    @usableFromInline func open(_ context: RuntimeContext) throws { try function.open(context) }
    @usableFromInline func close() throws { try function.close() }

    @inlinable
    func process(_ key: Int8, _ context: ProcessWindowContext<P.W, P.Out>, _ elements: WindowElements<P.In>,
                 _ out: Collector<P.Out>) throws {
        try function.process(context, elements, out)
    }

    @inlinable
    func clear(_ context: ProcessWindowContext<P.W, P.Out>) throws { try function.clear(context) }
}

/// An evictor behind closures (evictors run only when a window fires).
@usableFromInline
struct _AnyEvictor<T, W: Window>: Evictor {
    @usableFromInline let before: @Sendable (inout [TimestampedValue<T>], Int, W, EvictorContext) -> Void
    @usableFromInline let after: @Sendable (inout [TimestampedValue<T>], Int, W, EvictorContext) -> Void
    @usableFromInline let argumentError: RillError?

    @inlinable
    init<E: Evictor>(_ evictor: E) where E.Element == T, E.W == W {
        argumentError = _WindowArguments.problem(of: evictor)
        before = { evictor.evictBefore(&$0, size: $1, window: $2, context: $3) }
        after = { evictor.evictAfter(&$0, size: $1, window: $2, context: $3) }
    }

    @inlinable
    func evictBefore(_ elements: inout [TimestampedValue<T>], size: Int, window: W, context: EvictorContext) {
        before(&elements, size, window, context)
    }

    @inlinable
    func evictAfter(_ elements: inout [TimestampedValue<T>], size: Int, window: W, context: EvictorContext) {
        after(&elements, size, window, context)
    }
}

/// `reduce` over a window's elements (windows with an evictor); `nil` when eviction left none.
@inlinable
func reduceAll<T>(_ values: [T], _ reduce: (T, T) throws -> T) throws -> T? {
    guard var result = values.first else { return nil }
    for value in values.dropFirst() { result = try reduce(result, value) }
    return result
}

/// `aggregate` over a window's elements (windows with an evictor).
@inlinable
func aggregateAll<F: AggregateFunction>(_ values: [F.In], _ function: F) -> F.Out {
    var accumulator = function.createAccumulator()
    for value in values { accumulator = function.add(value, to: accumulator) }
    return function.getResult(accumulator)
}
