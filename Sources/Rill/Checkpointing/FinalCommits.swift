/// The last transactions of transactional sinks whose input ended, committed only when every
/// task of the job attempt has finished (Flink commits them with the final checkpoint,
/// FLIP-147).
///
/// A sink subtask that committed when its own input ended would commit too early: another
/// subtask could still fail, and the restarted attempt would replay from the last checkpoint
/// records that are already committed. Held per job attempt in ``JobShared``.
final class FinalCommits: @unchecked Sendable {
    // `entries` is only touched under `lock`.
    struct Entry {
        let commit: @Sendable () throws -> Void
        let abort: @Sendable () -> Void
    }

    private let lock = ConditionLock()
    private var entries: [Entry] = []

    /// Registers one subtask's transactions: `commit` commits them (idempotently), `abort`
    /// aborts the ones no checkpoint lists.
    func add(commit: @escaping @Sendable () throws -> Void, abort: @escaping @Sendable () -> Void) {
        lock.withLock { entries.append(Entry(commit: commit, abort: abort)) }
    }

    /// Commits every registered transaction. After a failure it may run again: commits are
    /// idempotent, so what already committed stays committed once.
    func commitAll() throws {
        for entry in lock.withLock({ entries }) { try entry.commit() }
    }

    /// The attempt failed: what no checkpoint lists is aborted (the others are committed or
    /// aborted by the restored sinks).
    func abortAll() {
        for entry in lock.withLock({ entries }) { entry.abort() }
    }
}

extension JobShared {
    var finalCommits: FinalCommits { object("final-commits") { FinalCommits() } }
}
