/// Event-time and processing-time timers per key and namespace, on one keyed operator
/// subtask (Flink's `InternalTimerService`).
///
/// Timers are deduplicated per (timestamp, key, namespace). Event-time timers fire when the
/// watermark reaches them, before the watermark is forwarded; processing-time timers fire
/// when the job's clock reaches them. Only the earliest processing-time timer is registered
/// with the task, not one entry per key.
@usableFromInline
final class InternalTimerService<Key: StableHashable, Namespace: Hashable> {
    @usableFromInline let eventTimers = TimerQueue<Key, Namespace>()
    @usableFromInline let processingTimers = TimerQueue<Key, Namespace>()
    @usableFromInline var watermark = Int64.min
    let timeService: ProcessingTimeService
    /// The time the task will next call us for processing-time timers.
    var scheduledWakeUp = Int64.max
    /// Fires one processing-time timer (set by the operator).
    var fireProcessingTimer: ((Int64, Key, Namespace) throws -> Void)?

    init(timeService: ProcessingTimeService) { self.timeService = timeService }

    var currentProcessingTime: Int64 { timeService.currentTime }

    @inlinable
    func registerEventTimeTimer(_ time: Int64, key: Key, namespace: Namespace) {
        _ = eventTimers.register(timestamp: time, key: key, namespace: namespace)
    }

    @inlinable
    func deleteEventTimeTimer(_ time: Int64, key: Key, namespace: Namespace) {
        _ = eventTimers.delete(timestamp: time, key: key, namespace: namespace)
    }

    func registerProcessingTimeTimer(_ time: Int64, key: Key, namespace: Namespace) {
        guard processingTimers.register(timestamp: time, key: key, namespace: namespace) else { return }
        if time < scheduledWakeUp {
            scheduledWakeUp = time
            timeService.registerTimer(at: time) { [unowned self] now in try onProcessingTime(now, registeredFor: time) }
        }
    }

    func deleteProcessingTimeTimer(_ time: Int64, key: Key, namespace: Namespace) {
        _ = processingTimers.delete(timestamp: time, key: key, namespace: namespace)
    }

    private func onProcessingTime(_ now: Int64, registeredFor time: Int64) throws {
        // A stale wake-up (superseded by an earlier one) must not fire or reschedule twice.
        guard time == scheduledWakeUp else { return }
        scheduledWakeUp = Int64.max
        while let timer = processingTimers.popIfDue(upTo: now) {
            try fireProcessingTimer?(timer.timestamp, timer.key, timer.namespace)
        }
        if let next = processingTimers.peekTimestamp {
            scheduledWakeUp = next
            timeService.registerTimer(at: next) { [unowned self] now in try onProcessingTime(now, registeredFor: next) }
        }
    }

    /// Fires every event-time timer at or before `watermark`, in timestamp order.
    @inlinable
    func advanceWatermark(_ watermark: Int64, fire: (Int64, Key, Namespace) throws -> Void) throws {
        self.watermark = watermark
        while let timer = eventTimers.popIfDue(upTo: watermark) {
            try fire(timer.timestamp, timer.key, timer.namespace)
        }
    }
}

/// A namespace for state and timers that belong to the key alone (not to a window).
public struct VoidNamespace: Hashable, Sendable {
    @inlinable public init() {}
}

/// Timers for the current key of a keyed process function (Flink's `TimerService`).
public final class TimerService<Key: StableHashable> {
    @usableFromInline let timers: InternalTimerService<Key, VoidNamespace>
    @exclusivity(unchecked) @usableFromInline var currentKey: Key?

    @usableFromInline init(timers: InternalTimerService<Key, VoidNamespace>) { self.timers = timers }

    /// The operator's current event-time watermark.
    public var currentWatermark: Int64 { timers.watermark }
    /// The current processing time in milliseconds.
    public var currentProcessingTime: Int64 { timers.currentProcessingTime }

    /// Calls `onTimer` for the current key once the watermark reaches `time`. Registering the
    /// same time twice for a key yields one firing.
    @inlinable
    public func registerEventTimeTimer(_ time: Int64) {
        timers.registerEventTimeTimer(time, key: currentKey!, namespace: VoidNamespace())
    }

    /// Calls `onTimer` for the current key once processing time reaches `time`.
    public func registerProcessingTimeTimer(_ time: Int64) {
        timers.registerProcessingTimeTimer(time, key: currentKey!, namespace: VoidNamespace())
    }

    @inlinable
    public func deleteEventTimeTimer(_ time: Int64) {
        timers.deleteEventTimeTimer(time, key: currentKey!, namespace: VoidNamespace())
    }

    public func deleteProcessingTimeTimer(_ time: Int64) {
        timers.deleteProcessingTimeTimer(time, key: currentKey!, namespace: VoidNamespace())
    }
}
