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

    public init(_ results: TransactionalResults<T>, name: String = "collect") {
        self.results = results
        self.name = name
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
        try results.state.withLock { state in
            guard state.transactions[transaction.id]?.phase == .open else {
                throw RillError(.sinkFailed, "transaction \(transaction.id) cannot be pre-committed: it is not open")
            }
            state.transactions[transaction.id]!.phase = .preCommitted
        }
    }

    public func commit(_ transaction: Transaction) throws {
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
