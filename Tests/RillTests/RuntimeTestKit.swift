import Foundation
import Synchronization
import XCTest
@testable import Rill
import RillTesting

/// Helpers shared by the runtime test files (one namespace, to stay clear of other files' names).
enum RuntimeTestKit {
    /// Entries of `/proc/self/task`: the live threads of this process.
    /// Rill's own threads in this process (named `rill-…`); the pools of Swift concurrency and
    /// Dispatch grow and shrink on their own and would make the count flaky.
    static func threadCount() -> Int {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return -1 }
        return tasks.filter { task in
            let name = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            return name.hasPrefix("rill-")
        }.count
    }

    /// Readiness check: polls `condition` every few milliseconds and fails the test if it is
    /// still false after `timeout` (generous; never a timing assertion).
    @discardableResult
    static func waitUntil(_ what: String, timeout: Duration = .seconds(30),
                          file: StaticString = #filePath, line: UInt = #line,
                          _ condition: () -> Bool) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !condition() {
            if clock.now >= deadline {
                XCTFail("timed out waiting until \(what)", file: file, line: line)
                return false
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// Starts the job and waits for it to end; a job that is still running after `timeout` (far
    /// longer than it needs) is cancelled and the test fails instead of hanging.
    @discardableResult
    static func executeGuarded(_ env: StreamEnvironment, timeout: Duration = .seconds(10),
                               file: StaticString = #filePath, line: UInt = #line) async throws -> JobExecutionResult? {
        let client = try env.executeAsync()
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !client.status.isTerminal {
            if clock.now >= deadline {
                XCTFail("the job did not finish; cancelling it", file: file, line: line)
                client.cancel()
                _ = try? await client.result()
                return nil
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return try await client.result()
    }

    /// Runs `body`, expecting a `RillError` with `code`; returns it for further checks.
    static func expectRillError<R>(code: RillError.Code, file: StaticString = #filePath, line: UInt = #line,
                                   _ body: () async throws -> R) async -> RillError? {
        do {
            _ = try await body()
            XCTFail("expected a RillError with code \(code), but nothing was thrown", file: file, line: line)
            return nil
        } catch let error as RillError {
            XCTAssertEqual(error.code, code, "unexpected error: \(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("expected a RillError with code \(code), got \(error)", file: file, line: line)
            return nil
        }
    }

    /// Synchronous variant of ``expectRillError(code:file:line:_:)``.
    static func expectRillErrorSync<R>(code: RillError.Code, file: StaticString = #filePath, line: UInt = #line,
                                       _ body: () throws -> R) -> RillError? {
        do {
            _ = try body()
            XCTFail("expected a RillError with code \(code), but nothing was thrown", file: file, line: line)
            return nil
        } catch let error as RillError {
            XCTAssertEqual(error.code, code, "unexpected error: \(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("expected a RillError with code \(code), got \(error)", file: file, line: line)
            return nil
        }
    }

    /// The task (chain) index `explain()` gives the chain containing `operatorName`.
    static func taskIndex(of operatorName: String, in plan: String) -> Int? {
        for line in plan.split(separator: "\n") where line.hasPrefix("task ") {
            guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]") else { continue }
            let members = line[line.index(after: open)..<close].components(separatedBy: " -> ")
            if members.contains(operatorName) {
                return Int(line.dropFirst("task ".count).prefix { $0.isNumber })
            }
        }
        return nil
    }
}

/// A thread-safe list that task threads append to and the test reads.
final class SharedLog<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    init() {}
    func append(_ item: T) { items.withLock { $0.append(item) } }
    var values: [T] { items.withLock { $0 } }
    var count: Int { items.withLock { $0.count } }
}

/// Hands out permits to a sink that may write one record per permit: the test decides how
/// fast the sink goes, and so how much backpressure builds up. Opened, it lets everyone
/// through for good.
final class PermitGate: @unchecked Sendable {
    // Guarded by `condition`.
    private let condition = NSCondition()
    private var permits = 0
    private var isOpen = false
    private var waiting = 0
    private var taken = 0

    /// Blocks until a permit is available (or the gate is open), then takes it.
    func acquire() {
        condition.lock()
        waiting += 1
        while !isOpen && permits == 0 { condition.wait() }
        waiting -= 1
        if !isOpen { permits -= 1 }
        taken += 1
        condition.unlock()
    }

    func release(_ count: Int = 1) {
        condition.lock()
        permits += count
        condition.broadcast()
        condition.unlock()
    }

    func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }

    /// Threads blocked in ``acquire()`` right now, and permits taken so far.
    var state: (waiting: Int, taken: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (waiting, taken)
    }

    /// As a latch: blocks until ``open()``.
    func wait() { acquire() }
    var waitingThreads: Int { state.waiting }
}

/// A latch: threads block in `wait()` until `open()` (a ``PermitGate`` without permits).
typealias ThreadLatch = PermitGate

/// What a sink saw, in arrival order: records and watermarks interleaved.
enum SinkEvent<T: Sendable>: Sendable {
    case record(T, timestamp: Int64)
    case watermark(Int64)
}

/// A sink that logs records and watermarks in one ordered list (run it at parallelism 1 for a
/// total order).
struct OrderedEventSink<T: Sendable>: Sink {
    let log: SharedLog<SinkEvent<T>>

    func createWriter(_ context: SinkContext) throws -> Writer { Writer(log: log) }

    final class Writer: SinkWriter {
        let log: SharedLog<SinkEvent<T>>
        init(log: SharedLog<SinkEvent<T>>) { self.log = log }
        func write(_ element: T, _ context: SinkWriteContext) throws {
            log.append(.record(element, timestamp: context.timestamp ?? StreamRecord<T>.noTimestamp))
        }
        func writeWatermark(_ watermark: Int64) throws { log.append(.watermark(watermark)) }
    }
}

/// Emits each value together with the subtask index of the operator instance that saw it.
final class TagWithSubtask<T: Sendable>: ProcessFunction {
    var subtask = -1
    init() {}
    func open(_ context: RuntimeContext) throws { subtask = context.subtaskIndex }
    func processElement(_ value: T, _ context: ProcessContext<Tagged<T>>, _ out: Collector<Tagged<T>>) throws {
        try out.collect(Tagged(value: value, subtask: subtask))
    }
}

struct Tagged<T: Sendable>: Sendable {
    let value: T
    let subtask: Int
}

/// A user error thrown on purpose.
struct InjectedFailure: Error, Equatable, CustomStringConvertible {
    let detail: String
    var description: String { "injected failure: \(detail)" }
}
