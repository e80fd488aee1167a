/// Processing-time callbacks of one task, fired on the task thread between records.
///
/// Operators register their earliest processing-time timer here (not one entry per key), and
/// periodic work such as watermark emission and output flushing runs from here too.
@usableFromInline
final class ProcessingTimeService {
    private struct Entry {
        var time: Int64
        var sequence: Int
        var callback: (Int64) throws -> Void
    }

    @usableFromInline let clock: any ProcessingTimeClock
    private var heap: [Entry] = []
    private var sequence = 0

    @usableFromInline init(clock: any ProcessingTimeClock) { self.clock = clock }

    /// The current processing time in milliseconds.
    @usableFromInline var currentTime: Int64 { clock.currentTimeMillis() }

    /// Runs `callback(time)` on the task thread once processing time reaches `time`.
    @usableFromInline func registerTimer(at time: Int64, _ callback: @escaping (Int64) throws -> Void) {
        sequence += 1
        heap.append(Entry(time: time, sequence: sequence, callback: callback))
        siftUp(heap.count - 1)
    }

    /// Runs `callback` every `period` milliseconds of processing time, starting one period from now.
    @usableFromInline func scheduleAtFixedRate(period: Int64, _ callback: @escaping (Int64) throws -> Void) {
        precondition(period > 0, "period must be positive")
        func schedule(at time: Int64) {
            registerTimer(at: time) { [unowned self] now in
                try callback(now)
                // Skip missed periods instead of firing a burst after a long stall.
                var next = time + period
                if next <= now { next = now + period - (now - time) % period }
                schedule(at: next)
            }
        }
        schedule(at: currentTime + period)
    }

    /// The time of the earliest registered callback.
    @usableFromInline var nextDeadline: Int64? { heap.first?.time }

    /// Fires every callback due at the current time. Returns whether any fired.
    @discardableResult
    @usableFromInline func fireDue() throws -> Bool {
        guard let first = heap.first else { return false }
        let now = currentTime
        guard first.time <= now else { return false }
        while let top = heap.first, top.time <= now {
            let entry = popMin()
            try entry.callback(now)
        }
        return true
    }

    private func popMin() -> Entry {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return top
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        heap[a].time < heap[b].time || (heap[a].time == heap[b].time && heap[a].sequence < heap[b].sequence)
    }

    private func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var smallest = left
            if left + 1 < heap.count, less(left + 1, left) { smallest = left + 1 }
            guard less(smallest, parent) else { return }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
