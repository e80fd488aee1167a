#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex with two condition variables. `Synchronization.Mutex` has no condition
/// variable, and channels need to block producers (backpressure) and consumers (no input).
@usableFromInline final class ConditionLock: @unchecked Sendable {
    // All access to the pthread objects goes through the methods below, under the mutex.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let consumerCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let producerCondition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    @usableFromInline init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if !canImport(Darwin)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(consumerCondition, &attributes)
        pthread_cond_init(producerCondition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(consumerCondition)
        pthread_cond_destroy(producerCondition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        consumerCondition.deallocate()
        producerCondition.deallocate()
    }

    @inline(__always) func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) func unlock() { pthread_mutex_unlock(mutex) }

    @inline(__always) func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits for `signalConsumer`, at most `timeoutNanos` when given. Call with the lock held.
    @usableFromInline func waitConsumer(timeoutNanos: Int64?) { wait(consumerCondition, timeoutNanos) }
    /// Waits for `signalProducers`. Call with the lock held.
    @usableFromInline func waitProducer(timeoutNanos: Int64?) { wait(producerCondition, timeoutNanos) }

    @usableFromInline func signalConsumer() { pthread_cond_broadcast(consumerCondition) }
    @usableFromInline func signalProducers() { pthread_cond_broadcast(producerCondition) }

    private func wait(_ condition: UnsafeMutablePointer<pthread_cond_t>, _ timeoutNanos: Int64?) {
        guard let timeoutNanos else {
            pthread_cond_wait(condition, mutex)
            return
        }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let total = Int64(now.tv_nsec) + max(0, timeoutNanos)
        var deadline = timespec()
        deadline.tv_sec = now.tv_sec + Int(total / 1_000_000_000)
        deadline.tv_nsec = Int(total % 1_000_000_000)
        pthread_cond_timedwait(condition, mutex, &deadline)
    }
}
