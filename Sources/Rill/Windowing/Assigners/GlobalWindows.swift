/// Puts every element of a key into one ``GlobalWindow`` (Flink's `GlobalWindows`).
///
/// The default trigger never fires: give a trigger with `.trigger(...)` (``CountTrigger`` is
/// the usual one), or use ``createWithEndOfStreamTrigger()`` to fire once at the end of a
/// bounded input. Global windows are not in event time: they are never late and never cleaned
/// up.
public struct GlobalWindows<Element>: WindowAssigner, CustomStringConvertible {
    public typealias W = GlobalWindow
    @usableFromInline let firesAtEndOfStream: Bool

    @inlinable
    init(firesAtEndOfStream: Bool) { self.firesAtEndOfStream = firesAtEndOfStream }

    /// Global windows with ``NeverTrigger``.
    @inlinable
    public static func create() -> GlobalWindows { GlobalWindows(firesAtEndOfStream: false) }

    /// Global windows that fire once when the input ends (``EndOfStreamTrigger``), as Flink 2's
    /// `GlobalWindows.createWithEndOfStreamTrigger()`.
    @inlinable
    public static func createWithEndOfStreamTrigger() -> GlobalWindows { GlobalWindows(firesAtEndOfStream: true) }

    @inlinable
    public func assignWindows(_ element: Element, timestamp: Int64, context: WindowAssignerContext) throws -> [GlobalWindow] {
        [GlobalWindow()]
    }

    @inlinable public var defaultTrigger: DefaultTrigger { DefaultTrigger(firesAtEndOfStream: firesAtEndOfStream) }
    @inlinable public var isEventTime: Bool { false }
    public var description: String { firesAtEndOfStream ? "GlobalWindows(endOfStream)" : "GlobalWindows()" }

    /// ``NeverTrigger`` or ``EndOfStreamTrigger``, whichever the assigner was created with.
    public struct DefaultTrigger: Trigger {
        public typealias W = GlobalWindow
        @usableFromInline let firesAtEndOfStream: Bool

        @inlinable
        init(firesAtEndOfStream: Bool) { self.firesAtEndOfStream = firesAtEndOfStream }

        public func onElement(_ element: Element, timestamp: Int64, window: GlobalWindow, context: TriggerContext<GlobalWindow>) throws -> TriggerResult {
            firesAtEndOfStream
                ? try EndOfStreamTrigger<Element>().onElement(element, timestamp: timestamp, window: window, context: context)
                : .continue
        }

        public func onEventTime(_ time: Int64, window: GlobalWindow, context: TriggerContext<GlobalWindow>) throws -> TriggerResult {
            firesAtEndOfStream
                ? try EndOfStreamTrigger<Element>().onEventTime(time, window: window, context: context)
                : .continue
        }

        public func onProcessingTime(_ time: Int64, window: GlobalWindow, context: TriggerContext<GlobalWindow>) throws -> TriggerResult { .continue }
        public func clear(window: GlobalWindow, context: TriggerContext<GlobalWindow>) throws {}
        public func onMerge(window: GlobalWindow, context: OnMergeContext<GlobalWindow>) throws {}
    }
}
