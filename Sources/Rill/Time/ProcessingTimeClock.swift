import Foundation
import Synchronization

/// The source of processing time for a job: wall-clock time in production, a ``ManualClock``
/// in tests. Every processing-time decision (timers, periodic watermarks, idleness, TTL,
/// flush timeouts) reads this clock, never the system clock directly.
public protocol ProcessingTimeClock: AnyObject, Sendable {
    /// Milliseconds since the Unix epoch.
    func currentTimeMillis() -> Int64
    /// `true` when time passes by itself; task threads then wait with a timeout for their
    /// next deadline. A manual clock answers `false` and wakes waiters when it advances.
    var advancesByItself: Bool { get }
    /// Registers a callback run (on the advancing thread) whenever the clock is moved.
    /// Returns a token for ``removeWakeUp(_:)``.
    func addWakeUp(_ wakeUp: @escaping @Sendable () -> Void) -> Int
    func removeWakeUp(_ token: Int)
}

/// Wall-clock processing time.
public final class SystemClock: ProcessingTimeClock {
    public static let shared = SystemClock()
    public init() {}
    public func currentTimeMillis() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
    public var advancesByItself: Bool { true }
    public func addWakeUp(_ wakeUp: @escaping @Sendable () -> Void) -> Int { 0 }
    public func removeWakeUp(_ token: Int) {}
}

/// Processing time that moves only when a test moves it, so tests never sleep.
public final class ManualClock: ProcessingTimeClock {
    private struct State {
        var now: Int64
        var nextToken = 1
        var wakeUps: [Int: @Sendable () -> Void] = [:]
    }
    private let state: Mutex<State>

    /// - Parameter startMillis: the initial processing time, in milliseconds since the epoch.
    public init(startMillis: Int64 = 0) { state = Mutex(State(now: startMillis)) }

    public func currentTimeMillis() -> Int64 { state.withLock { $0.now } }
    public var advancesByItself: Bool { false }

    /// Moves time forward and wakes every task waiting on this clock.
    public func advance(by duration: Duration) {
        let millis = duration.milliseconds
        set(to: currentTimeMillis() + millis)
    }

    /// Sets the time; it never moves backwards (a smaller value is ignored).
    public func set(to millis: Int64) {
        let wakeUps = state.withLock { state -> [@Sendable () -> Void] in
            state.now = max(state.now, millis)
            return Array(state.wakeUps.values)
        }
        for wakeUp in wakeUps { wakeUp() }
    }

    public func addWakeUp(_ wakeUp: @escaping @Sendable () -> Void) -> Int {
        state.withLock { state in
            let token = state.nextToken
            state.nextToken += 1
            state.wakeUps[token] = wakeUp
            return token
        }
    }

    public func removeWakeUp(_ token: Int) { _ = state.withLock { $0.wakeUps.removeValue(forKey: token) } }
}

extension Duration {
    /// Whole milliseconds, truncated.
    @inlinable public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
