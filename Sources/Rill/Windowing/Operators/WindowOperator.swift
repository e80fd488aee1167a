/// The timers of a window operator for the backend's current key (a ``TriggerContext`` reaches
/// them without knowing the key type).
@usableFromInline
final class _KeyedWindowTimers<K: StableHashable, W: Window>: _WindowTimers {
    @usableFromInline let service: InternalTimerService<K, W>
    @usableFromInline let backend: KeyedStateBackend<K>

    @usableFromInline
    init(service: InternalTimerService<K, W>, backend: KeyedStateBackend<K>) {
        self.service = service
        self.backend = backend
    }

    @usableFromInline var key: K {
        guard let key = backend.currentKey else { preconditionFailure("a window timer was used before any key was set") }
        return key
    }

    @usableFromInline var currentWatermark: Int64 { service.watermark }
    @usableFromInline var currentProcessingTime: Int64 { service.currentProcessingTime }
    @usableFromInline func registerEventTimeTimer(_ time: Int64, window: W) { service.registerEventTimeTimer(time, key: key, namespace: window) }
    @usableFromInline func deleteEventTimeTimer(_ time: Int64, window: W) { service.deleteEventTimeTimer(time, key: key, namespace: window) }
    @usableFromInline func registerProcessingTimeTimer(_ time: Int64, window: W) { service.registerProcessingTimeTimer(time, key: key, namespace: window) }
    @usableFromInline func deleteProcessingTimeTimer(_ time: Int64, window: W) { service.deleteProcessingTimeTimer(time, key: key, namespace: window) }
}

/// The name of the state that holds each key's in-flight merging windows.
@usableFromInline let mergingWindowSetStateName = "merging-window-set"

/// The general window operator (Flink's `WindowOperator` and, with an evicting window function,
/// `EvictingWindowOperator`): any assigner, trigger and window function.
///
/// Per element: assign windows (merging them for session assigners), drop or side-output the
/// element if every window is late, otherwise add it to each window's contents and ask the
/// trigger. A window is late when `cleanupTime <= watermark`, where the cleanup time is
/// `maxTimestamp + allowedLateness` in event time and `maxTimestamp` in processing time; at the
/// cleanup time a timer clears the window's contents, trigger state and function state.
///
/// Window contents, trigger state, per-window state and merging window sets live in the keyed
/// state backend; timers in an ``InternalTimerService`` namespaced by window.
@usableFromInline
final class WindowOperator<K: StableHashable, A: WindowAssigner, Tr: Trigger, C: _WindowContents, F: _InternalWindowFunction>: OneInputStreamOperator
where Tr.Element == A.Element, Tr.W == A.W, C.In == A.Element, C.W == A.W, F.Key == K, F.W == A.W, F.Acc == C.Acc {
    @usableFromInline typealias In = A.Element
    @usableFromInline typealias W = A.W

    @usableFromInline let key: (In) -> K
    @usableFromInline let assigner: A
    @usableFromInline let trigger: Tr
    @usableFromInline let contents: C
    @usableFromInline let function: F
    @usableFromInline let isEventTime: Bool
    @usableFromInline let allowedLateness: Int64
    @usableFromInline let lateDataTag: OutputTag<In>?
    /// The assigner's merge, for merging assigners.
    @usableFromInline let mergeWindows: (([W], ([W], W) throws -> Void) throws -> Void)?
    @usableFromInline let mergingSets: ValueState<[W: W]>?
    @usableFromInline let backend: KeyedStateBackend<K>
    @usableFromInline let timerService: InternalTimerService<K, W>
    @usableFromInline let triggerContext: OnMergeContext<W>
    @usableFromInline let processContext: ProcessWindowContext<W, F.Out>
    @usableFromInline let assignerContext: WindowAssignerContext
    @usableFromInline let output: Output<F.Out>
    @usableFromInline let collector: Collector<F.Out>
    @usableFromInline let setup: OperatorSetup
    @usableFromInline let lateRecordsDropped: LateRecordsCounter

    @usableFromInline
    init(setup: OperatorSetup, output: Output<F.Out>, key: @escaping (In) -> K, assigner: A, trigger: Tr,
         allowedLateness: Int64, lateDataTag: OutputTag<In>?,
         makeContents: (KeyedStateBackend<K>) throws -> C, makeFunction: (C) throws -> F) throws {
        self.setup = setup
        self.output = output
        self.key = key
        self.assigner = assigner
        self.trigger = trigger
        self.allowedLateness = allowedLateness
        self.lateDataTag = lateDataTag
        isEventTime = assigner.isEventTime
        backend = try KeyedStateBackend(maxParallelism: setup.maxParallelism, keyGroupRange: setup.keyGroupRange,
                                        clock: setup.clock)
        timerService = InternalTimerService(timeService: setup.timeService)
        let timers = _KeyedWindowTimers(service: timerService, backend: backend)
        triggerContext = OnMergeContext(timers: timers, states: backend)
        assignerContext = WindowAssignerContext(timeService: setup.timeService)
        collector = Collector(output)
        lateRecordsDropped = LateRecordsCounter.registered(in: setup)
        if let merging = assigner as? any MergingWindowAssigner<A.Element, A.W> {
            guard trigger.canMerge else {
                throw RillError(.invalidJobGraph,
                                "the trigger \(Tr.self) does not support merging windows, so it cannot be used with \(A.self); use a trigger whose canMerge is true")
            }
            mergeWindows = { windows, merge in try merging.mergeWindows(windows, merge) }
            mergingSets = try backend.getState(ValueStateDescriptor<[W: W]>(name: mergingWindowSetStateName))
        } else {
            mergeWindows = nil
            mergingSets = nil
        }
        processContext = ProcessWindowContext(output: output, timers: timers, states: backend, isMerging: mergeWindows != nil)
        contents = try makeContents(backend)
        function = try makeFunction(contents)
    }

    @usableFromInline
    func open() throws {
        timerService.fireProcessingTimer = { [unowned self] time, key, window in
            try onTimer(time, key: key, window: window, isEventTimer: false)
            try output.flush()
        }
        try function.open(setup.makeRuntimeContext(keyedState: backend))
    }

    // MARK: elements

    @inlinable
    func processBatch(_ batch: [StreamRecord<In>]) throws {
        for record in batch {
            let key = self.key(record.value)
            backend.setCurrentKey(key)
            try processElement(record, key: key)
        }
        try output.flush()
    }

    @inlinable
    func processElement(_ record: StreamRecord<In>, key: K) throws {
        let windows = try assigner.assignWindows(record.value, timestamp: record.timestamp, context: assignerContext)
        var isSkipped = true
        if let mergeWindows {
            isSkipped = try processMerging(record, key: key, windows: windows, mergeWindows: mergeWindows)
        } else {
            for window in windows {
                if isWindowLate(window) { continue }
                isSkipped = false
                contents.setCurrentNamespace(window)
                try contents.add(record.value, timestamp: record.timestamp)
                triggerContext.window = window
                let result = try trigger.onElement(record.value, timestamp: record.timestamp, window: window, context: triggerContext)
                if result.isFire {
                    guard let acc = contents.get() else { continue }
                    try emitWindowContents(key: key, window: window, acc)
                }
                if result.isPurge { contents.clear() }
                registerCleanupTimer(window)
            }
        }
        // An element that no window took is late only if its own timestamp is.
        if isSkipped && isElementLate(record) {
            if let lateDataTag {
                try output.collect(lateDataTag, record.value, timestamp: record.timestamp)
            } else {
                lateRecordsDropped.increment()
            }
        }
    }

    @inlinable
    func processMerging(_ record: StreamRecord<In>, key: K, windows: [W],
                        mergeWindows: ([W], ([W], W) throws -> Void) throws -> Void) throws -> Bool {
        var set = _MergingWindowSet(mapping: mergingSets!.value() ?? [:])
        var isSkipped = true
        for window in windows {
            let actual = try set.addWindow(window, mergeWindows: mergeWindows) { mergeResult, mergedWindows, stateWindowResult, mergedStateWindows in
                if isEventTime && cleanupTime(mergeResult) <= timerService.watermark {
                    throw RillError(.internalError, "the end timestamp of an event-time window cannot become earlier than the current watermark by merging (watermark \(timerService.watermark), window \(mergeResult))")
                } else if !isEventTime && mergeResult.maxTimestamp <= triggerContext.currentProcessingTime {
                    throw RillError(.internalError, "the end timestamp of a processing-time window cannot become earlier than the current processing time by merging (processing time \(triggerContext.currentProcessingTime), window \(mergeResult))")
                }
                triggerContext.window = mergeResult
                triggerContext.mergedWindows = mergedWindows
                defer { triggerContext.mergedWindows = [] }
                try trigger.onMerge(window: mergeResult, context: triggerContext)
                for merged in mergedWindows {
                    triggerContext.window = merged
                    try trigger.clear(window: merged, context: triggerContext)
                    deleteCleanupTimer(merged)
                }
                try contents.mergeNamespaces(target: stateWindowResult, sources: mergedStateWindows)
            }
            // Lateness is judged on the window the element ended up in.
            if isWindowLate(actual) {
                try set.retireWindow(actual)
                continue
            }
            isSkipped = false
            guard let stateWindow = set.stateWindow(actual) else {
                throw RillError(.internalError, "window \(window) is not in the in-flight window set")
            }
            contents.setCurrentNamespace(stateWindow)
            try contents.add(record.value, timestamp: record.timestamp)
            triggerContext.window = actual
            let result = try trigger.onElement(record.value, timestamp: record.timestamp, window: actual, context: triggerContext)
            if result.isFire {
                guard let acc = contents.get() else { continue }
                try emitWindowContents(key: key, window: actual, acc)
            }
            if result.isPurge { contents.clear() }
            registerCleanupTimer(actual)
        }
        persist(set)
        return isSkipped
    }

    // MARK: timers

    @inlinable
    func processWatermark(_ watermark: Int64) throws {
        try timerService.advanceWatermark(watermark) { time, key, window in
            try onTimer(time, key: key, window: window, isEventTimer: true)
        }
        try output.emitWatermark(watermark)
    }

    @inlinable
    func onTimer(_ time: Int64, key: K, window: W, isEventTimer: Bool) throws {
        backend.setCurrentKey(key)
        triggerContext.window = window
        var set: _MergingWindowSet<W>?
        if let mergingSets {
            let loaded = _MergingWindowSet(mapping: mergingSets.value() ?? [:])
            // A timer of a window that was merged away and whose trigger kept its timer.
            guard let stateWindow = loaded.stateWindow(window) else { return }
            contents.setCurrentNamespace(stateWindow)
            set = loaded
        } else {
            contents.setCurrentNamespace(window)
        }
        let result = isEventTimer
            ? try trigger.onEventTime(time, window: window, context: triggerContext)
            : try trigger.onProcessingTime(time, window: window, context: triggerContext)
        if result.isFire, let acc = contents.get() {
            try emitWindowContents(key: key, window: window, acc)
        }
        if result.isPurge { contents.clear() }
        if isEventTimer == isEventTime && time == cleanupTime(window) {
            try clearAllState(window, set: &set)
        }
        if let set { persist(set) }
    }

    @inlinable
    func emitWindowContents(key: K, window: W, _ acc: C.Acc) throws {
        collector.timestamp = window.maxTimestamp
        processContext.setWindow(window)
        try function.process(key, window, acc, processContext, collector)
    }

    /// Everything the window holds: contents (the namespace is already the state window),
    /// trigger state and timers, function state, and its place in the merging window set.
    @inlinable
    func clearAllState(_ window: W, set: inout _MergingWindowSet<W>?) throws {
        contents.clear()
        triggerContext.window = window
        try trigger.clear(window: window, context: triggerContext)
        processContext.setWindow(window)
        try function.clear(window, processContext)
        if set != nil { try set!.retireWindow(window) }
    }

    @inlinable
    func persist(_ set: _MergingWindowSet<W>) {
        guard set.changed, let mergingSets else { return }
        if set.mapping.isEmpty { mergingSets.clear() } else { mergingSets.update(set.mapping) }
    }

    // MARK: lateness and cleanup

    /// When the window's state is cleared: `maxTimestamp + allowedLateness` in event time
    /// (`Int64.max` on overflow), `maxTimestamp` in processing time.
    @inlinable
    func cleanupTime(_ window: W) -> Int64 {
        guard isEventTime else { return window.maxTimestamp }
        let time = window.maxTimestamp &+ allowedLateness
        return time >= window.maxTimestamp ? time : Int64.max
    }

    @inlinable
    func isWindowLate(_ window: W) -> Bool {
        isEventTime && cleanupTime(window) <= timerService.watermark
    }

    @inlinable
    func isElementLate(_ record: StreamRecord<In>) -> Bool {
        isEventTime && record.timestamp &+ allowedLateness <= timerService.watermark
    }

    @inlinable
    func registerCleanupTimer(_ window: W) {
        let time = cleanupTime(window)
        if time == Int64.max { return }
        let key = backend.currentKey!
        if isEventTime {
            timerService.registerEventTimeTimer(time, key: key, namespace: window)
        } else {
            triggerContext.timers.registerProcessingTimeTimer(time, window: window)
        }
    }

    @inlinable
    func deleteCleanupTimer(_ window: W) {
        let time = cleanupTime(window)
        if time == Int64.max { return }
        let key = backend.currentKey!
        if isEventTime {
            timerService.deleteEventTimeTimer(time, key: key, namespace: window)
        } else {
            triggerContext.timers.deleteProcessingTimeTimer(time, window: window)
        }
    }

    // MARK: lifecycle

    @usableFromInline func processWatermarkStatus(idle: Bool) throws { try output.emitWatermarkStatus(idle: idle) }
    @usableFromInline func finish() throws { try output.flush() }
    @usableFromInline func close() throws { try function.close() }
}
