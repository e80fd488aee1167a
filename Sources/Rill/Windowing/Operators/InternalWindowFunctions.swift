// What a window operator runs when a window fires, for each way of writing the window
// function (Flink's `InternalWindowFunction` family). Each is built where the user's types are
// concrete, so the operator calls specialized code.

/// Turns a fired window's contents into output.
@usableFromInline
protocol _InternalWindowFunction {
    associatedtype Key: StableHashable
    associatedtype W: Window
    associatedtype Acc
    associatedtype Out

    func open(_ context: RuntimeContext) throws
    func process(_ key: Key, _ window: W, _ contents: Acc, _ context: ProcessWindowContext<W, Out>,
                 _ out: Collector<Out>) throws
    /// The window is cleaned up.
    func clear(_ window: W, _ context: ProcessWindowContext<W, Out>) throws
    func close() throws
}

extension _InternalWindowFunction {
    @inlinable func open(_ context: RuntimeContext) throws {}
    @inlinable func clear(_ window: W, _ context: ProcessWindowContext<W, Out>) throws {}
    @inlinable func close() throws {}
}

/// `reduce(f)`: emits the reduced value.
@usableFromInline
struct _EmitReduced<Key: StableHashable, W: Window, T>: _InternalWindowFunction {
    @inlinable init() {}

    @inlinable
    func process(_ key: Key, _ window: W, _ contents: T, _ context: ProcessWindowContext<W, T>, _ out: Collector<T>) throws {
        try out.collect(contents)
    }
}

/// `aggregate(f)`: emits the accumulator's result.
@usableFromInline
struct _EmitAggregated<Key: StableHashable, W: Window, F: AggregateFunction>: _InternalWindowFunction {
    @usableFromInline let function: F

    @inlinable init(_ function: F) { self.function = function }

    @inlinable
    func process(_ key: Key, _ window: W, _ contents: F.Accumulator, _ context: ProcessWindowContext<W, F.Out>,
                 _ out: Collector<F.Out>) throws {
        try out.collect(function.getResult(contents))
    }
}

/// `reduce(f, process: p)`: the process function gets the reduced value.
@usableFromInline
struct _ReduceThenProcess<P: ProcessWindowFunction>: _InternalWindowFunction {
    @usableFromInline let function: P

    @inlinable init(_ function: P) { self.function = function }

    @inlinable func open(_ context: RuntimeContext) throws { try function.open(context) }
    @inlinable func close() throws { try function.close() }

    @inlinable
    func process(_ key: P.Key, _ window: P.W, _ contents: P.In, _ context: ProcessWindowContext<P.W, P.Out>,
                 _ out: Collector<P.Out>) throws {
        try function.process(key, context, WindowElements(one: contents), out)
    }

    @inlinable
    func clear(_ window: P.W, _ context: ProcessWindowContext<P.W, P.Out>) throws { try function.clear(context) }
}

/// `aggregate(f, process: p)`: the process function gets the aggregate's result.
@usableFromInline
struct _AggregateThenProcess<F: AggregateFunction, P: ProcessWindowFunction>: _InternalWindowFunction where P.In == F.Out {
    @usableFromInline let aggregate: F
    @usableFromInline let function: P

    @inlinable
    init(_ aggregate: F, _ function: P) {
        self.aggregate = aggregate
        self.function = function
    }

    @inlinable func open(_ context: RuntimeContext) throws { try function.open(context) }
    @inlinable func close() throws { try function.close() }

    @inlinable
    func process(_ key: P.Key, _ window: P.W, _ contents: F.Accumulator, _ context: ProcessWindowContext<P.W, P.Out>,
                 _ out: Collector<P.Out>) throws {
        try function.process(key, context, WindowElements(one: aggregate.getResult(contents)), out)
    }

    @inlinable
    func clear(_ window: P.W, _ context: ProcessWindowContext<P.W, P.Out>) throws { try function.clear(context) }
}

/// `process(p)`: the process function gets every element.
@usableFromInline
struct _ProcessElements<P: ProcessWindowFunction>: _InternalWindowFunction {
    @usableFromInline let function: P

    @inlinable init(_ function: P) { self.function = function }

    @inlinable func open(_ context: RuntimeContext) throws { try function.open(context) }
    @inlinable func close() throws { try function.close() }

    @inlinable
    func process(_ key: P.Key, _ window: P.W, _ contents: [P.In], _ context: ProcessWindowContext<P.W, P.Out>,
                 _ out: Collector<P.Out>) throws {
        try function.process(key, context, WindowElements(contents), out)
    }

    @inlinable
    func clear(_ window: P.W, _ context: ProcessWindowContext<P.W, P.Out>) throws { try function.clear(context) }
}

/// The parts of a window function applied to a window's elements after eviction: the fold of
/// `reduce`/`aggregate` (if any) and the process function (if any), built in the API.
@usableFromInline
struct _ElementsFunction<Key: StableHashable, W: Window, T, Out> {
    @usableFromInline let open: (RuntimeContext) throws -> Void
    @usableFromInline let apply: (Key, [T], ProcessWindowContext<W, Out>, Collector<Out>) throws -> Void
    @usableFromInline let clear: (ProcessWindowContext<W, Out>) throws -> Void
    @usableFromInline let close: () throws -> Void

    @inlinable
    init(open: @escaping (RuntimeContext) throws -> Void = { _ in },
         apply: @escaping (Key, [T], ProcessWindowContext<W, Out>, Collector<Out>) throws -> Void,
         clear: @escaping (ProcessWindowContext<W, Out>) throws -> Void = { _ in },
         close: @escaping () throws -> Void = {}) {
        self.open = open
        self.apply = apply
        self.clear = clear
        self.close = close
    }
}

/// A window with an evictor (Flink's `EvictingWindowOperator.emitWindowContents`): evict before,
/// apply the function to what is left, evict after, and keep what remains as the window's
/// contents.
@usableFromInline
struct _EvictingWindowFunction<Key: StableHashable, E: Evictor, Out>: _InternalWindowFunction {
    @usableFromInline typealias W = E.W
    @usableFromInline let evictor: E
    @usableFromInline let contents: _TimestampedListContents<E.Element, E.W>
    @usableFromInline let function: _ElementsFunction<Key, E.W, E.Element, Out>

    @inlinable
    init(evictor: E, contents: _TimestampedListContents<E.Element, E.W>, function: _ElementsFunction<Key, E.W, E.Element, Out>) {
        self.evictor = evictor
        self.contents = contents
        self.function = function
    }

    @inlinable func open(_ context: RuntimeContext) throws { try function.open(context) }
    @inlinable func close() throws { try function.close() }

    @inlinable
    func process(_ key: Key, _ window: E.W, _ contents: [StreamRecord<E.Element>], _ context: ProcessWindowContext<E.W, Out>,
                 _ out: Collector<Out>) throws {
        var elements = contents
        let evictorContext = EvictorContext(watermark: { context.currentWatermark },
                                            processingTime: { context.currentProcessingTime })
        evictor.evictBefore(&elements, size: elements.count, window: window, context: evictorContext)
        try function.apply(key, elements.map(\.value), context, out)
        evictor.evictAfter(&elements, size: elements.count, window: window, context: evictorContext)
        // The contents state's namespace is still the fired window's.
        self.contents.update(elements)
    }

    @inlinable
    func clear(_ window: E.W, _ context: ProcessWindowContext<E.W, Out>) throws { try function.clear(context) }
}
