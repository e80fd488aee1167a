/// A control element or a batch travelling through a channel, in order.
@usableFromInline
enum ChannelElement {
    /// A `RecordBatch<T>` of the channel's type, and how many records it holds.
    case records(AnyObject, count: Int)
    case watermark(Int64)
    case watermarkStatus(idle: Bool)
    case barrier(CheckpointBarrier)
    /// An unaligned barrier that jumped the queue, with the record batches it overtook (they
    /// are still queued behind it: the task persists them as channel state, then processes
    /// them as usual).
    case priorityBarrier(CheckpointBarrier, overtaken: [AnyObject])
    case endOfPartition
}

/// Everything a task waits on: its input channels and its mailbox.
///
/// One lock guards all of them, so a task blocks in one place until data, a mail, a clock
/// change or its next deadline arrives. Each channel holds at most `capacity` record batches;
/// a producer pushing into a full channel blocks: that is backpressure, and it bounds memory
/// by channel capacity, not by input size.
@usableFromInline final class InputGate: @unchecked Sendable {
    // Mutable state below is only touched with `lock` held.
    private struct Channel {
        var elements: [ChannelElement] = []
        var head = 0
        var queuedBatches = 0
        var highWaterMark = 0
        var blocked = false
        var ended = false
        /// Priority barriers at the front of the queue, not yet taken.
        var priorityElements = 0
        /// Record batches restored from an unaligned checkpoint, at the front of the queue.
        var restoredBatches = 0
        /// The gate of the task that pushes into this channel: woken when the channel stops
        /// being full, so a producer that waits for output capacity resumes.
        var producer: InputGate?
        var isEmpty: Bool { head == elements.count }
        /// Whether `poll()` may take from this channel. Alignment blocks records and aligned
        /// barriers, never a barrier that overtook them. While restored in-flight records wait
        /// in some channel (`restoring`), only channels holding some are taken from: they go
        /// first, so a record never overtakes one that preceded it before the restore,
        /// whichever channel it now comes through.
        func isPollable(restoring: Bool) -> Bool {
            !isEmpty && (!blocked || priorityElements > 0) && (!restoring || restoredBatches > 0)
        }

        /// The record batches queued in `range` (of `elements`).
        func recordBatches(_ range: Range<Int>) -> [AnyObject] {
            elements[range].compactMap { element in
                if case .records(let batch, _) = element { return batch }
                return nil
            }
        }
    }

    @usableFromInline let lock = ConditionLock()
    @usableFromInline let capacity: Int
    private var channels: [Channel]
    private var mails: [() throws -> Void] = []
    private var cancelled = false
    private var wakeRequested = false
    private var nextChannel = 0
    private var cancelHooks: [@Sendable () -> Void] = []
    /// While restoring in-flight records before the task runs, pushes never wait (nothing
    /// consumes yet, and the records fit in memory: they were checkpointed from it), and the
    /// batches pushed are marked as restored.
    private var restoringInFlightRecords = false
    /// Restored in-flight record batches not yet taken, over all channels.
    private var restoredBatches = 0

    @usableFromInline init(channelCount: Int, capacity: Int) {
        precondition(capacity > 0)
        self.capacity = capacity
        channels = Array(repeating: Channel(), count: channelCount)
    }

    @usableFromInline var channelCount: Int { channels.count }

    // MARK: producer side (any thread)

    /// Appends an element; blocks while the channel already holds `capacity` batches (unless
    /// `ignoringCapacity`: the few partial batches flushed ahead of an unaligned barrier, which
    /// must not wait for the backpressure it is meant to overtake).
    /// Throws ``TaskCancelled`` if the job is cancelled while waiting.
    @usableFromInline func push(_ element: ChannelElement, channel index: Int, ignoringCapacity: Bool = false) throws {
        if case .barrier(let barrier) = element, barrier.alignedTimeoutMillis != nil,
           barrier.alignmentTimedOut(nowMillis: SystemClock.shared.currentTimeMillis()) {
            // Its alignment timed out on the way (the sender was backpressured): it arrives
            // unaligned, so it does not wait behind the data it was meant to follow.
            return try pushPriority(barrier.asUnaligned(), channel: index)
        }
        lock.lock()
        defer { lock.unlock() }
        if case .records = element {
            while !ignoringCapacity && !restoringInFlightRecords && channels[index].queuedBatches >= capacity && !cancelled {
                lock.waitProducer(timeoutNanos: nil)
            }
            channels[index].queuedBatches += 1
            channels[index].highWaterMark = max(channels[index].highWaterMark, channels[index].queuedBatches)
            if restoringInFlightRecords {
                channels[index].restoredBatches += 1
                restoredBatches += 1
            }
        }
        if cancelled { throw TaskCancelled() }
        channels[index].elements.append(element)
        lock.signalConsumer()
    }

    /// Puts an unaligned barrier in front of everything queued in the channel (behind earlier
    /// priority barriers only), never blocking: this is how a checkpoint overtakes
    /// backpressure.
    func pushPriority(_ barrier: CheckpointBarrier, channel index: Int) throws {
        try lock.withLock {
            if cancelled { throw TaskCancelled() }
            let position = channels[index].head + channels[index].priorityElements
            let overtaken = channels[index].recordBatches(position..<channels[index].elements.count)
            channels[index].elements.insert(.priorityBarrier(barrier, overtaken: overtaken), at: position)
            channels[index].priorityElements += 1
            lock.signalConsumer()
        }
    }

    /// Takes the aligned barrier of `checkpointId` out of the channel's queue, if it is there,
    /// and returns it with the record batches queued in front of it (they stay queued). Used
    /// when alignment times out and the checkpoint continues unaligned.
    func extractBarrier(_ checkpointId: Int64, channel index: Int) -> (CheckpointBarrier, overtaken: [AnyObject])? {
        lock.withLock {
            let head = channels[index].head
            for position in head..<channels[index].elements.count {
                guard case .barrier(let barrier) = channels[index].elements[position], barrier.checkpointId == checkpointId else { continue }
                let overtaken = channels[index].recordBatches(head..<position)
                // Removed in place: a copy of the channel held here would make this copy the queue.
                channels[index].elements.remove(at: position)
                return (barrier, overtaken)
            }
            return nil
        }
    }

    /// While on (before the task starts), pushes never wait for capacity, and their record
    /// batches are taken before any other input: they are an unaligned checkpoint's in-flight
    /// records.
    func setRestoringInFlightRecords(_ on: Bool) {
        lock.withLock { restoringInFlightRecords = on }
    }

    /// Queues control work to run on the task thread between records.
    @usableFromInline func enqueueMail(_ mail: @escaping () throws -> Void) {
        lock.withLock {
            mails.append(mail)
            lock.signalConsumer()
        }
    }

    /// Wakes the task so it re-checks clocks and sources.
    @usableFromInline func wakeUp() {
        lock.withLock {
            wakeRequested = true
            lock.signalConsumer()
        }
    }

    /// Unblocks everyone waiting on this gate; later pushes throw.
    @usableFromInline func cancel() {
        let hooks = lock.withLock { () -> [@Sendable () -> Void] in
            cancelled = true
            lock.signalConsumer()
            lock.signalProducers()
            let hooks = cancelHooks
            cancelHooks = []
            return hooks
        }
        for hook in hooks { hook() }
    }

    /// Runs `hook` when the gate is cancelled (at once if it already is).
    @usableFromInline func addCancelHook(_ hook: @escaping @Sendable () -> Void) {
        let runNow = lock.withLock { () -> Bool in
            if cancelled { return true }
            cancelHooks.append(hook)
            return false
        }
        if runNow { hook() }
    }

    @usableFromInline var isCancelled: Bool { lock.withLock { cancelled } }

    // MARK: consumer side (the task thread)

    @usableFromInline func takeMails() -> [() throws -> Void] {
        lock.withLock {
            guard !mails.isEmpty else { return [] }
            let taken = mails
            mails.removeAll()
            return taken
        }
    }

    /// The next element from a channel that is not blocked, round-robin across channels; with
    /// `priorityOnly`, only a barrier that overtook the queues (what a backpressured task still
    /// takes).
    @usableFromInline func poll(priorityOnly: Bool = false) -> (channel: Int, element: ChannelElement)? {
        var producerToWake: InputGate?
        defer { producerToWake?.wakeUp() }
        return lock.withLock {
            let count = channels.count
            guard count > 0 else { return nil }
            for offset in 0..<count {
                let index = (nextChannel + offset) % count
                if !channels[index].isPollable(restoring: restoredBatches > 0)
                    || (priorityOnly && channels[index].priorityElements == 0) { continue }
                let element = channels[index].elements[channels[index].head]
                channels[index].head += 1
                if channels[index].head == channels[index].elements.count {
                    channels[index].elements.removeAll(keepingCapacity: true)
                    channels[index].head = 0
                } else if channels[index].head >= 64 && channels[index].head * 2 >= channels[index].elements.count {
                    channels[index].elements.removeFirst(channels[index].head)
                    channels[index].head = 0
                }
                switch element {
                case .records:
                    if channels[index].restoredBatches > 0 {
                        channels[index].restoredBatches -= 1
                        restoredBatches -= 1
                    }
                    channels[index].queuedBatches -= 1
                    lock.signalProducers()
                    if channels[index].queuedBatches == capacity - 1 { producerToWake = channels[index].producer }
                case .priorityBarrier:
                    channels[index].priorityElements -= 1
                case .endOfPartition:
                    channels[index].ended = true
                default: break
                }
                nextChannel = (index + 1) % count
                return (index, element)
            }
            return nil
        }
    }

    /// Blocks until a channel has data (if `forInput`), a mail arrives, someone calls
    /// ``wakeUp()``, the job is cancelled, or `timeoutNanos` passes. A task whose output is
    /// full waits without `forInput`: it cannot take input, only mails and the wake-up of a
    /// consumer that made room.
    @usableFromInline func waitForWork(timeoutNanos: Int64?, forInput: Bool = true) {
        lock.withLock {
            while !cancelled && mails.isEmpty && !wakeRequested
                    && !(forInput ? hasPollableElement() : channels.contains { $0.priorityElements > 0 }) {
                if let timeoutNanos {
                    lock.waitConsumer(timeoutNanos: timeoutNanos)
                    break
                }
                lock.waitConsumer(timeoutNanos: nil)
            }
            wakeRequested = false
        }
    }

    private func hasPollableElement() -> Bool {
        channels.contains { $0.isPollable(restoring: restoredBatches > 0) }
    }

    /// Whether a push of a record batch into the channel would not wait.
    func hasCapacity(channel index: Int) -> Bool {
        lock.withLock { restoringInFlightRecords || channels[index].queuedBatches < capacity }
    }

    /// Names the gate of the task that pushes into the channel (see `Channel.producer`).
    func setProducer(_ producer: InputGate, channel index: Int) {
        lock.withLock { channels[index].producer = producer }
    }

    /// Stops (or resumes) taking elements from a channel; used by barrier alignment.
    @usableFromInline func setBlocked(_ blocked: Bool, channel index: Int) {
        lock.withLock { channels[index].blocked = blocked }
    }

    /// The most record batches that were ever queued at once in each channel.
    @usableFromInline var highWaterMarks: [Int] { lock.withLock { channels.map(\.highWaterMark) } }

    /// Record batches queued right now, per channel.
    @usableFromInline var queuedBatches: [Int] { lock.withLock { channels.map(\.queuedBatches) } }
}

/// Thrown inside a task when its job is cancelled.
@usableFromInline
struct TaskCancelled: Error {
    @usableFromInline init() {}
}
