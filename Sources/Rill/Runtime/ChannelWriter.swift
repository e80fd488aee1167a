/// One channel of a downstream task: its gate and the channel's index there.
@usableFromInline
struct ChannelTarget {
    @usableFromInline let gate: InputGate
    @usableFromInline let channel: Int
}

/// The type-erased side of a writer that the task drives: flushing and control elements.
@usableFromInline
protocol NetworkOutput: AnyObject {
    /// Whether every channel can take a batch without waiting: a task takes input only then,
    /// so that while it is backpressured it still runs mails (checkpoints) and timers.
    var isAvailable: Bool { get }
    /// Pushes every partially filled batch downstream.
    func flush() throws
    /// Flushes, then sends `element` to every channel.
    func broadcastControl(_ element: ChannelElement) throws
    /// Flushes without waiting for capacity, then puts an unaligned barrier in front of every
    /// channel's queue: the barrier overtakes the output, which the receivers store as
    /// channel state.
    func broadcastPriorityBarrier(_ barrier: CheckpointBarrier) throws
}

/// How records are distributed over the channels of an edge.
public enum PartitionerKind: Sendable, Equatable, CustomStringConvertible {
    /// Subtask i sends to subtask i; requires equal parallelism. Chains when possible.
    case forward
    /// Round-robin over all downstream subtasks.
    case rebalance
    /// Round-robin over a local subset of downstream subtasks (Flink's pointwise rescale).
    case rescale
    /// Every record to every downstream subtask.
    case broadcast
    /// Records go to the subtask that owns the key group of their key.
    case hash
    /// Records go where a user function says.
    case custom
    /// Every record to downstream subtask 0.
    case global
    /// Uniformly random.
    case shuffle

    public var description: String {
        switch self {
        case .forward: "FORWARD"
        case .rebalance: "REBALANCE"
        case .rescale: "RESCALE"
        case .broadcast: "BROADCAST"
        case .hash: "HASH"
        case .custom: "CUSTOM"
        case .global: "GLOBAL"
        case .shuffle: "SHUFFLE"
        }
    }

    /// Whether each upstream subtask talks to a subset of downstream subtasks only.
    @usableFromInline var isPointwise: Bool { self == .forward || self == .rescale }
}

/// Buffers records per channel and pushes full batches into the downstream gates.
@usableFromInline
final class ChannelWriter<T>: NetworkOutput {
    @usableFromInline let targets: [ChannelTarget]
    @exclusivity(unchecked) @usableFromInline var pending: [[StreamRecord<T>]]
    @usableFromInline let batchSize: Int
    @exclusivity(unchecked) @usableFromInline var nextChannel: Int
    @usableFromInline var random = SystemRandomNumberGenerator()

    @usableFromInline init(targets: [ChannelTarget], batchSize: Int, firstChannel: Int) {
        precondition(!targets.isEmpty)
        self.targets = targets
        self.batchSize = batchSize
        nextChannel = firstChannel % targets.count
        pending = Array(repeating: [], count: targets.count)
    }

    @inlinable
    func append(_ record: StreamRecord<T>, channel: Int) throws {
        if pending[channel].isEmpty { pending[channel].reserveCapacity(batchSize) }
        pending[channel].append(record)
        if pending[channel].count >= batchSize { try push(channel) }
    }

    @usableFromInline
    func push(_ channel: Int, ignoringCapacity: Bool = false) throws {
        let batch = pending[channel]
        pending[channel] = []
        let target = targets[channel]
        try target.gate.push(.records(RecordBatch(batch), count: batch.count), channel: target.channel,
                             ignoringCapacity: ignoringCapacity)
    }

    /// All records to one channel; a full batch travels without copying.
    @inlinable
    func writeAll(_ batch: [StreamRecord<T>], channel: Int) throws {
        if pending[channel].isEmpty && batch.count >= batchSize {
            let target = targets[channel]
            try target.gate.push(.records(RecordBatch(batch), count: batch.count), channel: target.channel)
            return
        }
        for record in batch { try append(record, channel: channel) }
    }

    @inlinable
    func writeRoundRobin(_ batch: [StreamRecord<T>]) throws {
        let count = targets.count
        var channel = nextChannel
        for record in batch {
            channel += 1
            if channel == count { channel = 0 }
            try append(record, channel: channel)
        }
        nextChannel = channel
    }

    @inlinable
    func writeBroadcast(_ batch: [StreamRecord<T>]) throws {
        for channel in 0..<targets.count { try writeAll(batch, channel: channel) }
    }

    @inlinable
    func writeShuffled(_ batch: [StreamRecord<T>]) throws {
        let count = targets.count
        for record in batch { try append(record, channel: Int.random(in: 0..<count, using: &random)) }
    }

    @usableFromInline var isAvailable: Bool {
        targets.allSatisfy { $0.gate.hasCapacity(channel: $0.channel) }
    }

    @usableFromInline func flush() throws {
        for channel in 0..<targets.count where !pending[channel].isEmpty { try push(channel) }
    }

    @usableFromInline func broadcastControl(_ element: ChannelElement) throws {
        try flush()
        for target in targets { try target.gate.push(element, channel: target.channel) }
    }

    @usableFromInline func broadcastPriorityBarrier(_ barrier: CheckpointBarrier) throws {
        for channel in 0..<targets.count where !pending[channel].isEmpty { try push(channel, ignoringCapacity: true) }
        for target in targets { try target.gate.pushPriority(barrier, channel: target.channel) }
    }
}

/// Builds the writer for one edge and one upstream subtask. Made where the record type is
/// concrete so the per-record partitioning loop is specialized.
@usableFromInline
struct ChannelWriterFactory: @unchecked Sendable {
    // Holds only closures that capture Sendable values.
    @usableFromInline let make: (_ kind: PartitionerKind, _ targets: [ChannelTarget], _ batchSize: Int,
                                 _ subtaskIndex: Int, _ maxParallelism: Int) -> (consumer: AnyObject, output: NetworkOutput)

    @inlinable
    init(make: @escaping (_ kind: PartitionerKind, _ targets: [ChannelTarget], _ batchSize: Int,
                          _ subtaskIndex: Int, _ maxParallelism: Int) -> (consumer: AnyObject, output: NetworkOutput)) {
        self.make = make
    }

    /// - Parameters:
    ///   - keyGroup: for `.hash`, the key group of a record (given max parallelism).
    ///   - customPartition: for `.custom`, the channel of a record (given the channel count).
    @inlinable
    static func of<T>(_: T.Type,
                      keyGroup: (@Sendable (T, Int) -> Int)? = nil,
                      customPartition: (@Sendable (T, Int) -> Int)? = nil) -> ChannelWriterFactory {
        ChannelWriterFactory { kind, targets, batchSize, subtaskIndex, maxParallelism in
            let writer = ChannelWriter<T>(targets: targets, batchSize: batchSize, firstChannel: subtaskIndex)
            let consumer: BatchConsumer<T>
            switch kind {
            case .forward, .global:
                consumer = BatchConsumer { try writer.writeAll($0, channel: 0) }
            case .rebalance, .rescale:
                consumer = BatchConsumer { try writer.writeRoundRobin($0) }
            case .broadcast:
                consumer = BatchConsumer { try writer.writeBroadcast($0) }
            case .shuffle:
                consumer = BatchConsumer { try writer.writeShuffled($0) }
            case .hash:
                let keyGroup = keyGroup!
                let channels = targets.count
                if channels == 1 {
                    consumer = BatchConsumer { try writer.writeAll($0, channel: 0) }
                } else {
                    consumer = BatchConsumer { batch in
                        for record in batch {
                            let group = keyGroup(record.value, maxParallelism)
                            try writer.append(record, channel: group * channels / maxParallelism)
                        }
                    }
                }
            case .custom:
                let partition = customPartition!
                let channels = targets.count
                consumer = BatchConsumer { batch in
                    for record in batch {
                        let channel = partition(record.value, channels)
                        guard channel >= 0 && channel < channels else {
                            throw RillError(.invalidPartition,
                                            "custom partitioner returned channel \(channel) for \(channels) channels; return a value in 0..<\(channels)")
                        }
                        try writer.append(record, channel: channel)
                    }
                }
            }
            return (consumer, writer)
        }
    }
}
