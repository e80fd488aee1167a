import Foundation

/// Runs a job across attempts: restores state, restarts failed attempts as the restart
/// strategy allows (each from the latest completed checkpoint), triggers periodic
/// checkpoints and savepoints.
final class JobMaster: @unchecked Sendable {
    // Mutable state is guarded by `lock`.
    let jobName: String
    let plan: ExecutionPlan
    let configuration: StreamEnvironment.Configuration
    let storage: CheckpointStorage?
    let checkpoints: CheckpointCoordinator?
    private let lock = ConditionLock()
    private var attempt: JobExecution
    private var attemptNumber = 0
    private var failureTimes: [Int64] = []
    private var cancelled = false
    private var outcome: Result<JobExecutionResult, RillError>?
    private var waiters: [CheckedContinuation<JobExecutionResult, any Error>] = []
    private var restoredFrom: CheckpointMetadata?
    private var restoredBase = ""
    private var restoreAllowsNonRestored = false
    private var stopping = false

    init(jobName: String, plan: ExecutionPlan, configuration: StreamEnvironment.Configuration) throws {
        self.jobName = jobName
        self.plan = plan
        self.configuration = configuration
        try configuration.checkpoints.validate()
        if configuration.checkpoints.unalignedCheckpoints {
            for (index, edge) in plan.graph.edges.enumerated() where !plan.isChained[index] && !edge.typeOps.inFlight.isSupported() {
                let from = plan.graph.nodes[edge.source.node].name, to = plan.graph.nodes[edge.target].name
                throw RillError(.invalidConfiguration, "unaligned checkpoints store the records in flight between tasks, but the records from '\(from)' to '\(to)' conform to neither BinaryCodable nor Codable; add a conformance to their type, chain the two operators, or turn unalignedCheckpoints off")
            }
        }
        let needsStorage = configuration.checkpoints.directory != nil
        storage = needsStorage ? try CheckpointStorage(directory: configuration.checkpoints.directory!) : nil

        switch configuration.restore {
        case .none:
            break
        case .latestCheckpoint:
            guard let storage else {
                throw RillError(.invalidConfiguration, "restore from the latest checkpoint needs configuration.checkpoints.directory")
            }
            let latest = try storage.latestCompleted(verification: .checksums)
            for skipped in latest.skipped {
                FileOutput.standardError("rill: skipped checkpoint \(skipped.path): \(skipped.problem ?? "invalid")")
            }
            restoredFrom = latest.metadata
            restoredBase = storage.directory
        case .path(let path, let allowNonRestoredState):
            let metadata = try CheckpointStorage.load(path: path)
            restoredFrom = metadata
            restoredBase = CheckpointStorage.baseDirectory(forSnapshotAt: path, kind: metadata.kind)
            restoreAllowsNonRestored = allowNonRestoredState
        }
        if let storage {
            checkpoints = CheckpointCoordinator(config: configuration.checkpoints, storage: storage, jobName: jobName,
                                               plan: plan, restoredFrom: Self.sameDirectory(restoredBase, storage.directory) ? restoredFrom : nil)
        } else {
            checkpoints = nil
        }
        let initialRestore = restoredFrom.map { [restoredBase] in ($0, restoredBase) }
        attempt = try Self.makeAttempt(jobName: jobName, plan: plan, configuration: configuration, checkpoints: checkpoints,
                                       restore: initialRestore, allowNonRestored: restoreAllowsNonRestored)
    }

    /// Whether two directory paths name the same directory. A checkpoint restored from another
    /// directory is not one of this job's checkpoints: a restart finds it where it is, and an
    /// incremental checkpoint never builds on its files.
    private static func sameDirectory(_ a: String, _ b: String) -> Bool {
        URL(fileURLWithPath: a).standardizedFileURL.resolvingSymlinksInPath().path
            == URL(fileURLWithPath: b).standardizedFileURL.resolvingSymlinksInPath().path
    }

    private static func makeAttempt(jobName: String, plan: ExecutionPlan, configuration: StreamEnvironment.Configuration,
                                    checkpoints: CheckpointCoordinator?, restore: (CheckpointMetadata, String)?,
                                    allowNonRestored: Bool) throws -> JobExecution {
        var planner: RestorePlanner?
        if let (metadata, base) = restore {
            planner = RestorePlanner(metadata: metadata, baseDirectory: base, plan: plan, allowNonRestoredState: allowNonRestored)
            try planner!.validate()
        }
        let execution = JobExecution(jobName: jobName, plan: plan, configuration: configuration,
                                     checkpoints: checkpoints, restore: planner)
        try execution.restoreInFlightRecords()
        if let checkpoints {
            checkpoints.injectBarriers = { [weak execution] in
                guard let execution else { throw RillError(.jobFailed, "the job attempt ended") }
                return try execution.injectBarriers($0)
            }
            checkpoints.notifyComplete = { [weak execution] in execution?.notifyCheckpoint($0, completed: true) }
            checkpoints.notifyAborted = { [weak execution] in execution?.notifyCheckpoint($0, completed: false) }
            checkpoints.failJob = { [weak execution] in execution?.fail($0) }
            checkpoints.alignmentTimedOut = { [weak execution] in execution?.alignmentTimedOut($0) }
        }
        return execution
    }

    // MARK: lifecycle

    func start() {
        attempt.start()
        startThread(name: "rill-supervise") { [self] in supervise() }
        if let interval = configuration.checkpoints.interval, let checkpoints {
            startThread(name: "rill-checkpoint") { [self] in triggerPeriodically(every: interval.milliseconds, checkpoints) }
        }
    }

    private func supervise() {
        while true {
            let current = lock.withLock { attempt }
            let result = Result { try current.waitForResult() }
            switch result {
            case .success(let value):
                finish(commitAtEnd(of: current).map { value })
                return
            case .failure(let error):
                current.shared.finalCommits.abortAll()
                let rill = error as? RillError ?? RillError(.jobFailed, "\(error)", underlying: error)
                checkpoints?.failover()
                let from = checkpoints?.latestCompleted.map { "checkpoint \($0.checkpointId)" } ?? "the start"
                guard waitToRestart(after: rill, from: from) else {
                    finish(.failure(rill))
                    return
                }
                do {
                    let next = try lock.withLock { () -> JobExecution? in
                        guard !cancelled else { return nil }
                        let restore = checkpoints?.latestCompleted.map { ($0, checkpoints!.storage.directory) }
                            ?? restoredFrom.map { ($0, restoredBase) }
                        attempt = try Self.makeAttempt(jobName: jobName, plan: plan, configuration: configuration,
                                                       checkpoints: checkpoints, restore: restore,
                                                       allowNonRestored: restoreAllowsNonRestored)
                        attemptNumber += 1
                        return attempt
                    }
                    guard let next else {
                        finish(.failure(RillError(.jobCancelled, "job '\(jobName)' was cancelled")))
                        return
                    }
                    checkpoints?.resume()
                    next.start()
                } catch {
                    finish(.failure(error as? RillError ?? RillError(.jobFailed, "restart failed: \(error)", underlying: error)))
                    return
                }
            }
        }
    }

    /// Waits as the restart strategy says before restarting after `failure`; `false` when the
    /// job must not restart.
    private func waitToRestart(after failure: RillError, from: String) -> Bool {
        guard failure.code != .jobCancelled, let delay = restartDelay() else { return false }
        FileOutput.standardError("rill: job '\(jobName)' failed (\(failure.message)); restarting in \(delay) ms from \(from)")
        if delay > 0 { lock.withLock { lock.waitProducer(timeoutNanos: delay * 1_000_000) } }
        return true
    }

    /// Commits what transactional sinks pre-committed when their input ended. A failed commit
    /// is retried as the restart strategy allows, from the end of the finished attempt (as Flink
    /// restores the final checkpoint, whose sinks commit again) and never from an earlier
    /// checkpoint, which would replay records already committed.
    private func commitAtEnd(of finished: JobExecution) -> Result<Void, RillError> {
        while true {
            do {
                try finished.shared.finalCommits.commitAll()
                return .success(())
            } catch {
                let rill = error as? RillError ?? RillError(.sinkFailed, "\(error)", underlying: error)
                guard waitToRestart(after: rill, from: "the end of the job, committing again") else { return .failure(rill) }
                let wasCancelled = lock.withLock { () -> Bool in
                    if !cancelled { attemptNumber += 1 }
                    return cancelled
                }
                if wasCancelled { return .failure(RillError(.jobCancelled, "job '\(jobName)' was cancelled")) }
            }
        }
    }

    /// Milliseconds to wait before the next attempt, or `nil` to give up.
    private func restartDelay() -> Int64? {
        lock.withLock {
            guard !cancelled else { return nil }
            let now = SystemClock.shared.currentTimeMillis()
            failureTimes.append(now)
            switch configuration.restartStrategy {
            case .none:
                return nil
            case .fixedDelay(let attempts, let delay):
                return attemptNumber < attempts ? delay.milliseconds : nil
            case .exponentialDelay(let initial, let maxDelay, let multiplier, let maxAttempts):
                guard attemptNumber < maxAttempts else { return nil }
                let grown = Double(initial.milliseconds) * pow(multiplier, Double(attemptNumber))
                return min(maxDelay.milliseconds, Int64(grown))
            case .failureRate(let maxFailures, let interval, let delay):
                let recent = failureTimes.filter { now - $0 <= interval.milliseconds }
                return recent.count > maxFailures ? nil : delay.milliseconds
            }
        }
    }

    private func triggerPeriodically(every interval: Int64, _ checkpoints: CheckpointCoordinator) {
        let clock = configuration.clock
        var token: Int?
        if !clock.advancesByItself { token = clock.addWakeUp { [lock] in lock.withLock { lock.signalProducers() } } }
        defer { if let token { clock.removeWakeUp(token) } }
        var next = clock.currentTimeMillis() + interval
        while true {
            let done = lock.withLock { () -> Bool in
                while outcome == nil && clock.currentTimeMillis() < next {
                    let wait = clock.advancesByItself ? (next - clock.currentTimeMillis()) * 1_000_000 : nil
                    lock.waitProducer(timeoutNanos: wait)
                }
                return outcome != nil
            }
            if done { return }
            checkpoints.trigger(type: .checkpoint, periodic: true)
            next = max(next + interval, clock.currentTimeMillis())
        }
    }

    private func finish(_ result: Result<JobExecutionResult, RillError>) {
        checkpoints?.stop()
        let waiting = lock.withLock { () -> [CheckedContinuation<JobExecutionResult, any Error>] in
            guard outcome == nil else { return [] }
            outcome = result
            lock.signalProducers()
            let taken = waiters
            waiters = []
            return taken
        }
        if case .failure(let error) = result, error.code == .jobCancelled, !configuration.checkpoints.retainOnCancellation {
            if let storage { try? storage.retain(latest: 0) }
        }
        for waiter in waiting { waiter.resume(with: result.mapError { $0 as any Error }) }
    }

    // MARK: client operations

    var status: JobStatus {
        lock.withLock {
            if let outcome {
                switch outcome {
                case .success: return .finished
                case .failure(let error): return error.code == .jobCancelled ? .cancelled : .failed
                }
            }
            return cancelled ? .cancelling : .running
        }
    }

    var currentAttempt: JobExecution { lock.withLock { attempt } }
    var restarts: Int { lock.withLock { attemptNumber } }

    func cancel() {
        let current = lock.withLock { () -> JobExecution in
            cancelled = true
            lock.signalProducers()
            return attempt
        }
        current.cancel()
    }

    func result() async throws -> JobExecutionResult {
        try await withCheckedThrowingContinuation { continuation in
            let ready = lock.withLock { () -> Result<JobExecutionResult, RillError>? in
                if let outcome { return outcome }
                waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(with: ready.mapError { $0 as any Error }) }
        }
    }

    func waitForResult() throws -> JobExecutionResult {
        try lock.withLock { () -> Result<JobExecutionResult, RillError> in
            while outcome == nil { lock.waitProducer(timeoutNanos: nil) }
            return outcome!
        }.get()
    }

    /// Takes a savepoint into `directory` and returns its path.
    func triggerSavepoint(to directory: String) async throws -> String {
        guard let checkpoints else {
            throw RillError(.invalidConfiguration, "savepoints need configuration.checkpoints.directory (where state files are staged)")
        }
        return try await withCheckedThrowingContinuation { continuation in
            checkpoints.trigger(type: .savepoint, savepointDirectory: directory) { continuation.resume(with: $0) }
        }
    }

    /// Triggers a checkpoint now and returns its path.
    func triggerCheckpoint() async throws -> String {
        guard let checkpoints else {
            throw RillError(.invalidConfiguration, "checkpoints need configuration.checkpoints.directory")
        }
        return try await withCheckedThrowingContinuation { continuation in
            checkpoints.trigger(type: .checkpoint) { continuation.resume(with: $0) }
        }
    }
}
