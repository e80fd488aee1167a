/// The arguments of a built-in assigner, trigger or evictor, or of `allowedLateness`, checked
/// where Flink's constructors and `WindowedStream` check them (`IllegalArgumentException`), and
/// also where Flink would fail later or loop (a zero trigger interval, a zero count).
///
/// An initializer here cannot throw without breaking every call site, so the component keeps
/// the first violation (``_ArgumentChecked``), the window operator's `StreamNode` carries it,
/// and building the job (``StreamEnvironment/execute(_:)``, `executeAsync`, `explain`, an
/// operator test harness) fails with it, naming the operator.
@usableFromInline
struct _WindowArguments {
    /// The assigner, trigger, evictor or method whose arguments these are, as the user wrote it.
    @usableFromInline let component: String
    /// The first violation, as a `RillError(.invalidConfiguration)` that says what to change.
    @usableFromInline var error: RillError?

    @inlinable
    init(_ component: String) { self.component = component }

    /// Checks arguments with `check` and returns its result with the first violation.
    @inlinable
    static func checking<Value>(_ component: String, _ check: (inout _WindowArguments) -> Value) -> (Value, RillError?) {
        var arguments = _WindowArguments(component)
        let value = check(&arguments)
        return (value, arguments.error)
    }

    /// The violation `component` (an assigner, trigger or evictor) keeps, if it checks its
    /// arguments and one is invalid.
    @inlinable
    static func problem(of component: Any) -> RillError? {
        (component as? any _ArgumentChecked)?.argumentError
    }

    /// Reports the violation of a nested component (the trigger a `PurgingTrigger` wraps)
    /// as this one's, before any of its own.
    @inlinable
    mutating func include(_ nested: Any) {
        if error == nil { error = Self.problem(of: nested) }
    }

    /// `duration` in whole milliseconds (Flink's `toMillis()`), required to fit in an `Int64`
    /// and to be at least `minimum` ms; 0 when it is not.
    @inlinable
    mutating func millis(_ duration: Duration, _ what: String, atLeast minimum: Int64 = .min) -> Int64 {
        guard let millis = duration.checkedMilliseconds else {
            fail("the \(what) (\(duration)) does not fit in 64-bit milliseconds; use \(Self.article(what)) \(what) below \(Int64.max) ms")
            return 0
        }
        guard millis >= minimum else {
            fail(Self.tooSmall(what, "\(duration)", minimum: minimum == 0 ? nil : "\(minimum) ms"))
            return 0
        }
        return millis
    }

    /// `count`, required to be at least `minimum`.
    @inlinable
    mutating func count<Count: BinaryInteger>(_ count: Count, _ what: String, atLeast minimum: Count) -> Count {
        if count < minimum { fail(Self.tooSmall(what, "\(count)", minimum: minimum == 0 ? nil : "\(minimum)")) }
        return count
    }

    /// What to say of a `value` under its `minimum`; a `nil` minimum is zero.
    @inlinable
    static func tooSmall(_ what: String, _ value: String, minimum: String?) -> String {
        guard let minimum else {
            return "the \(what) cannot be negative, but it is \(value); use \(article(what)) \(what) of zero or more"
        }
        return "the \(what) must be at least \(minimum), but it is \(value); use \(article(what)) \(what) of \(minimum) or more"
    }

    /// `offset` in whole milliseconds, required to be shorter than `period` (the window size or
    /// slide) in either direction, since windows start at `offset + k * period`.
    @inlinable
    mutating func offsetMillis(_ offset: Duration, shorterThan period: Int64, _ periodName: String) -> Int64 {
        guard let millis = offset.checkedMilliseconds else {
            fail("the offset (\(offset)) does not fit in 64-bit milliseconds; use an offset between -\(period) and \(period) ms, exclusive")
            return 0
        }
        // An invalid period was reported already; an offset cannot be checked against it.
        guard period > 0, millis.magnitude >= period.magnitude else { return millis }
        fail("the offset (\(millis) ms) must be shorter than the \(periodName) (\(period) ms), as windows start at offset + k * \(periodName) (Flink: abs(offset) < \(periodName)); use an offset between -\(period - 1) and \(period - 1) ms")
        return millis
    }

    @inlinable
    mutating func fail(_ problem: String) {
        guard error == nil else { return }
        error = RillError(.invalidConfiguration, "\(component): \(problem)")
    }

    @inlinable
    static func article(_ word: String) -> String {
        word.first.map { "aeiou".contains($0) } == true ? "an" : "a"
    }
}

extension _WindowArguments {
    /// Tumbling windows: `size` at least 1 ms, `abs(offset) < size`.
    @inlinable
    static func tumbling(_ assigner: String, size: Duration, offset: Duration) -> (size: Int64, offset: Int64, error: RillError?) {
        var arguments = _WindowArguments(assigner)
        let sizeMillis = arguments.millis(size, "window size", atLeast: 1)
        let offsetMillis = arguments.offsetMillis(offset, shorterThan: sizeMillis, "size")
        return (sizeMillis, offsetMillis, arguments.error)
    }

    /// Sliding windows: `size` and `slide` at least 1 ms, `abs(offset) < slide`.
    @inlinable
    static func sliding(_ assigner: String, size: Duration, slide: Duration, offset: Duration)
    -> (size: Int64, slide: Int64, offset: Int64, error: RillError?) {
        var arguments = _WindowArguments(assigner)
        let sizeMillis = arguments.millis(size, "window size", atLeast: 1)
        let slideMillis = arguments.millis(slide, "slide", atLeast: 1)
        let offsetMillis = arguments.offsetMillis(offset, shorterThan: slideMillis, "slide")
        return (sizeMillis, slideMillis, offsetMillis, arguments.error)
    }

    /// Session windows: `gap` at least 1 ms.
    @inlinable
    static func session(_ assigner: String, gap: Duration) -> (gap: Int64, error: RillError?) {
        checking(assigner) { $0.millis(gap, "session gap", atLeast: 1) }
    }
}

/// A built-in assigner, trigger or evictor that keeps an argument violation for job building
/// to report.
@usableFromInline
protocol _ArgumentChecked {
    /// Why the component cannot be used, or `nil` when its arguments are valid.
    var argumentError: RillError? { get }
}

extension Duration {
    /// Whole milliseconds, truncated toward zero as ``milliseconds``, or `nil` when they do not
    /// fit in an `Int64`.
    @inlinable
    var checkedMilliseconds: Int64? {
        let (seconds, attoseconds) = components
        let (wholeSeconds, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return nil }
        let (millis, carry) = wholeSeconds.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        return carry ? nil : millis
    }
}
