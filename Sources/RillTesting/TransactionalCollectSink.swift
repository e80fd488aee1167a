import Foundation
import Synchronization

/// An in-memory store with transactions: a stand-in for a transactional database when a test
/// proves exactly-once delivery. It outlives job attempts, as a database outlives a crash.
public final class TransactionalResults<T: Sendable>: Sendable {
    enum Phase: Sendable { case open, preCommitted, committed, aborted }

    struct Transaction: Sendable {
        var sink: String
        var subtask: Int
        var values: [T] = []
        var phase = Phase.open
    }

    struct State: Sendable {
        var transactions: [String: Transaction] = [:]
        var committed: [T] = []
        var commits = 0
        var aborts = 0
        var maxPreCommitted = 0
    }

    let state = Mutex(State())

    public init() {}

    /// Values of committed transactions, in commit order.
    public var committed: [T] { state.withLock { $0.committed } }
    /// Transactions neither committed nor aborted.
    public var unfinishedTransactions: Int {
        state.withLock { $0.transactions.values.filter { $0.phase == .open || $0.phase == .preCommitted }.count }
    }
    public var commitCount: Int { state.withLock { $0.commits } }
    /// The most transactions of one sink subtask that were pre-committed and neither committed
    /// nor aborted at once: how far commits lagged behind checkpoints.
    public var maxPreCommittedAtOnce: Int { state.withLock { $0.maxPreCommitted } }
    public var abortCount: Int { state.withLock { $0.aborts } }
}

/// A ``TwoPhaseCommitSink`` into ``TransactionalResults``: what it commits is visible in
/// `results.committed`; what it aborts is gone.
public struct TransactionalCollectSink<T: Sendable>: TwoPhaseCommitSink {
    public struct Transaction: Codable, Sendable, Equatable {
        public let id: String
        public let subtask: Int
    }

    public let results: TransactionalResults<T>
    public let name: String
    /// Calls made to fail, to test recovery; `nil` fails none.
    public let faults: TransactionalFaults?

    /// - Parameter faults: which pre-commits and commits throw (see ``TransactionalFaults``).
    public init(_ results: TransactionalResults<T>, name: String = "collect", faults: TransactionalFaults? = nil) {
        self.results = results
        self.name = name
        self.faults = faults
    }

    public func beginTransaction(_ context: SinkContext) throws -> Transaction {
        let transaction = Transaction(id: "\(name)-\(context.subtaskIndex)-\(UUID().uuidString)", subtask: context.subtaskIndex)
        results.state.withLock {
            $0.transactions[transaction.id] = .init(sink: name, subtask: context.subtaskIndex)
        }
        return transaction
    }

    public func write(_ element: T, to transaction: inout Transaction, _ context: SinkWriteContext) throws {
        try results.state.withLock { state in
            guard state.transactions[transaction.id]?.phase == .open else {
                throw RillError(.sinkFailed, "transaction \(transaction.id) is not open")
            }
            state.transactions[transaction.id]!.values.append(element)
        }
    }

    public func preCommit(_ transaction: inout Transaction) throws {
        try withFaults(.preCommit) { try preCommitTransaction(transaction) }
    }

    private func preCommitTransaction(_ transaction: Transaction) throws {
        try results.state.withLock { state in
            guard state.transactions[transaction.id]?.phase == .open else {
                throw RillError(.sinkFailed, "transaction \(transaction.id) cannot be pre-committed: it is not open")
            }
            state.transactions[transaction.id]!.phase = .preCommitted
            let waiting = state.transactions.values.count { $0.subtask == transaction.subtask && $0.phase == .preCommitted }
            state.maxPreCommitted = max(state.maxPreCommitted, waiting)
        }
    }

    public func commit(_ transaction: Transaction) throws {
        try withFaults(.commit) { try commitTransaction(transaction) }
    }

    private func commitTransaction(_ transaction: Transaction) throws {
        try results.state.withLock { state in
            guard let entry = state.transactions[transaction.id] else {
                throw RillError(.sinkFailed, "transaction \(transaction.id) is unknown; its data is lost")
            }
            switch entry.phase {
            case .committed: return
            case .preCommitted:
                state.transactions[transaction.id]!.phase = .committed
                state.committed.append(contentsOf: entry.values)
                state.commits += 1
            case .open, .aborted:
                throw RillError(.sinkFailed, "transaction \(transaction.id) cannot commit from phase \(entry.phase)")
            }
        }
    }

    private func withFaults(_ operation: TransactionalFaults.Operation, _ body: () throws -> Void) throws {
        guard let faults else { return try body() }
        try faults.inject(operation, sink: name, around: body)
    }

    public func abort(_ transaction: Transaction) {
        results.state.withLock { state in
            guard let entry = state.transactions[transaction.id], entry.phase != .committed, entry.phase != .aborted else { return }
            state.transactions[transaction.id]!.phase = .aborted
            state.transactions[transaction.id]!.values = []
            state.aborts += 1
        }
    }

    /// Transactions of former subtask `i` belong to subtask `i % parallelism` now, so each is
    /// cleaned up by exactly one subtask, before that subtask begins new ones.
    public func abortLingering(_ context: SinkContext, keeping: [Transaction]) throws {
        let keep = Set(keeping.map(\.id))
        results.state.withLock { state in
            for (id, entry) in state.transactions where entry.sink == name
                && entry.subtask % context.parallelism == context.subtaskIndex
                && (entry.phase == .open || entry.phase == .preCommitted) && !keep.contains(id) {
                state.transactions[id]!.phase = .aborted
                state.transactions[id]!.values = []
                state.aborts += 1
            }
        }
    }
}

/// Makes chosen calls of a ``TransactionalCollectSink`` fail, as a flaky database would, so a
/// test can show that recovery still delivers exactly once.
///
/// Calls are numbered from 1 per operation, over all subtasks and job attempts of the sinks
/// that share this object: `TransactionalFaults(failing: [.commit: [3]])` makes the third
/// commit throw an ``InjectedFault``. A failing pre-commit declines the checkpoint it belongs
/// to; a failing commit fails the task, and the restored sink commits again what the
/// checkpoint lists as pre-committed (a failing last commit at the end of a job is retried).
public final class TransactionalFaults: Sendable {
    public enum Operation: String, Sendable, Hashable {
        case preCommit = "pre-commit"
        case commit
    }

    /// When a failing call throws.
    public enum Timing: Sendable {
        /// Before the call has any effect: the database refused it.
        case beforeEffect
        /// After the call took effect: the database did it, but the answer was lost. (A
        /// pre-commit failing this way leaves the sink's current transaction pre-committed, so
        /// its next write fails the task.)
        case afterEffect
    }

    let failing: [Operation: Set<Int>]
    let timing: Timing
    let calls = Mutex([Operation: Int]())
    let fired = Atomic<Int>(0)

    /// - Parameters:
    ///   - failing: per operation, the numbers (from 1) of the calls that throw.
    ///   - timing: whether they throw before or after taking effect.
    public init(failing: [Operation: Set<Int>], timing: Timing = .beforeEffect) {
        self.failing = failing
        self.timing = timing
    }

    /// How many calls have thrown so far.
    public var injectedCount: Int { fired.load(ordering: .relaxed) }

    /// Calls of `operation` so far, the failed ones included.
    public func callCount(_ operation: Operation) -> Int { calls.withLock { $0[operation, default: 0] } }

    func inject(_ operation: Operation, sink: String, around body: () throws -> Void) throws {
        let number = calls.withLock { counts -> Int in
            counts[operation, default: 0] += 1
            return counts[operation]!
        }
        guard failing[operation]?.contains(number) == true else { return try body() }
        fired.add(1, ordering: .relaxed)
        if timing == .afterEffect { try body() }
        throw InjectedFault(description: "injected failure of \(operation.rawValue) #\(number) in sink '\(sink)'")
    }
}

/// The error the test kit throws where a test asked for a failure.
public struct InjectedFault: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(description: String) { self.description = description }
}
