import Synchronization

/// What the runtime gives an operator instance when it is built for one subtask.
@usableFromInline
final class OperatorSetup {
    @usableFromInline let operatorName: String
    /// The operator's node in the job graph, unique within the job.
    @usableFromInline let nodeId: Int
    @usableFromInline let uid: String?
    @usableFromInline let subtaskIndex: Int
    @usableFromInline let parallelism: Int
    @usableFromInline let maxParallelism: Int
    /// The key groups this subtask owns (all of them for non-keyed operators).
    @usableFromInline let keyGroupRange: KeyGroupRange
    @usableFromInline let configuration: StreamEnvironment.Configuration
    /// Processing-time callbacks on the task thread.
    @usableFromInline let timeService: ProcessingTimeService
    @usableFromInline let gate: InputGate
    @usableFromInline let job: JobShared
    @usableFromInline let metrics: OperatorMetrics

    @usableFromInline init(operatorName: String, nodeId: Int, uid: String?, subtaskIndex: Int, parallelism: Int, maxParallelism: Int,
         keyGroupRange: KeyGroupRange, configuration: StreamEnvironment.Configuration,
         timeService: ProcessingTimeService, gate: InputGate, job: JobShared, metrics: OperatorMetrics) {
        self.operatorName = operatorName
        self.nodeId = nodeId
        self.uid = uid
        self.subtaskIndex = subtaskIndex
        self.parallelism = parallelism
        self.maxParallelism = maxParallelism
        self.keyGroupRange = keyGroupRange
        self.configuration = configuration
        self.timeService = timeService
        self.gate = gate
        self.job = job
        self.metrics = metrics
    }

    @usableFromInline var clock: any ProcessingTimeClock { timeService.clock }

    /// Runs `mail` on this subtask's thread between records. Safe from any thread.
    @usableFromInline func enqueueMail(_ mail: @escaping @Sendable () throws -> Void) { gate.enqueueMail(mail) }

    /// Wakes this subtask's thread (for example when a source has new data). Safe from any thread.
    @usableFromInline func wakeUp() { gate.wakeUp() }

    /// The context handed to user functions.
    @usableFromInline func makeRuntimeContext(keyedState: (any KeyedStateAccess)? = nil) -> RuntimeContext {
        RuntimeContext(setup: self, keyedState: keyedState)
    }
}

/// Objects shared by all subtasks of one job attempt (source coordinators, sink registries).
@usableFromInline final class JobShared: @unchecked Sendable {
    // `shared` is only touched under `lock`.
    private let lock = ConditionLock()
    private var shared: [String: AnyObject] = [:]

    /// The object registered under `key`, if any.
    func existingObject(_ key: String) -> AnyObject? { lock.withLock { shared[key] } }

    /// The object registered under `key`, created by `make` on first use.
    @usableFromInline func object<T: AnyObject>(_ key: String, make: () throws -> T) rethrows -> T {
        try lock.withLock {
            if let existing = shared[key] { return existing as! T }
            let created = try make()
            shared[key] = created
            return created
        }
    }
}

/// Record counts of one operator subtask. Updated per batch on the task thread, read by
/// anyone (job status, metrics).
@usableFromInline
final class OperatorMetrics: Sendable {
    @usableFromInline let recordsInCounter = Atomic<Int>(0)
    @usableFromInline let recordsOutCounter = Atomic<Int>(0)

    @usableFromInline init() {}

    @usableFromInline var recordsIn: Int { recordsInCounter.load(ordering: .relaxed) }
    @usableFromInline var recordsOut: Int { recordsOutCounter.load(ordering: .relaxed) }

    @usableFromInline func countIn(_ count: Int) { recordsInCounter.add(count, ordering: .relaxed) }
    @usableFromInline func countOut(_ count: Int) { recordsOutCounter.add(count, ordering: .relaxed) }

    /// Elements a window operator dropped as late (Flink's `numLateRecordsDropped`).
    @usableFromInline let lateRecordsDroppedCounter = Atomic<Int>(0)
    @usableFromInline var lateRecordsDropped: Int { lateRecordsDroppedCounter.load(ordering: .relaxed) }
    @usableFromInline func countLateRecordDropped() { lateRecordsDroppedCounter.add(1, ordering: .relaxed) }
}
