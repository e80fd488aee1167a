/// Turns every firing of another trigger into fire-and-purge (Flink's `PurgingTrigger`).
///
/// Whatever the nested trigger returns is passed on, except that `fire` becomes
/// `fireAndPurge`. Merging is supported when the nested trigger supports it.
public struct PurgingTrigger<Nested: Trigger>: Trigger, _ArgumentChecked {
    public typealias Element = Nested.Element
    public typealias W = Nested.W

    public let nestedTrigger: Nested

    @inlinable
    public init(_ nestedTrigger: Nested) { self.nestedTrigger = nestedTrigger }

    /// The nested trigger's invalid argument: building the job fails with it.
    @usableFromInline var argumentError: RillError? { _WindowArguments.problem(of: nestedTrigger) }

    /// Purges whenever `nestedTrigger` fires.
    @inlinable
    public static func of(_ nestedTrigger: Nested) -> PurgingTrigger { PurgingTrigger(nestedTrigger) }

    @inlinable
    static func purging(_ result: TriggerResult) -> TriggerResult { result.isFire ? .fireAndPurge : result }

    public func onElement(_ element: Element, timestamp: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        Self.purging(try nestedTrigger.onElement(element, timestamp: timestamp, window: window, context: context))
    }

    public func onEventTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        Self.purging(try nestedTrigger.onEventTime(time, window: window, context: context))
    }

    public func onProcessingTime(_ time: Int64, window: W, context: TriggerContext<W>) throws -> TriggerResult {
        Self.purging(try nestedTrigger.onProcessingTime(time, window: window, context: context))
    }

    public func clear(window: W, context: TriggerContext<W>) throws {
        try nestedTrigger.clear(window: window, context: context)
    }

    public var canMerge: Bool { nestedTrigger.canMerge }

    public func onMerge(window: W, context: OnMergeContext<W>) throws {
        try nestedTrigger.onMerge(window: window, context: context)
    }
}
