import Foundation
import Rill
import Synchronization

// rill: run a demo job, and inspect what a job will do.

func printUsage() {
    print("""
    usage: rill <command> [options]

    commands:
      demo [--records N] [--parallelism P]
          Runs a parallel keyed job over a generated stream of page views and prints progress
          and the busiest pages.
      key-group KEY... [--max-parallelism M] [--parallelism P]
          Prints the key group of each (string) key and the subtask that owns it, computed as
          Flink does; the same in every process.
      checkpoints list DIR [--verify sizes|checksums]
          Lists the checkpoints (and savepoints) in a job's checkpoint directory: id, kind, time,
          size, incremental or full, and whether each can be restored or why not.
      checkpoints show PATH [--verify sizes|checksums]
          Shows what a checkpoint or savepoint directory holds: operators, states, key groups per
          subtask, sizes, key groups shared with earlier checkpoints, and the files it references.
      help
          Shows this text.
    """)
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("rill: \(message)\n".utf8))
    exit(2)
}

struct Arguments {
    var positional: [String] = []
    var options: [String: String] = [:]

    init(_ raw: ArraySlice<String>) {
        var rest = raw
        while let argument = rest.popFirst() {
            if argument.hasPrefix("--") {
                guard let value = rest.popFirst() else { fail("\(argument) needs a value") }
                options[String(argument.dropFirst(2))] = value
            } else {
                positional.append(argument)
            }
        }
    }

    func integer(_ name: String, default value: Int) -> Int {
        guard let text = options[name] else { return value }
        guard let number = Int(text), number > 0 else { fail("--\(name) takes a positive whole number, not '\(text)'") }
        return number
    }
}

/// A page view of the demo stream.
struct PageView: Sendable {
    let user: Int64
    let page: String
    let timestamp: Int64
}

/// Counts views per page and reports every 10,000th view of a page.
final class ViewCounter: KeyedProcessFunction {
    typealias Key = String
    var views: ValueState<Int64>!

    func open(_ context: RuntimeContext) throws {
        views = try context.getState(ValueStateDescriptor<Int64>(name: "views"))
    }

    func processElement(_ view: PageView, _ context: KeyedProcessContext<String, (String, Int64)>,
                        _ out: Collector<(String, Int64)>) throws {
        let count = (views.value() ?? 0) + 1
        views.update(count)
        if count % 10_000 == 0 { try out.collect((view.page, count)) }
    }
}

func runDemo(_ arguments: Arguments) throws {
    let records = Int64(arguments.integer("records", default: 1_000_000))
    let parallelism = arguments.integer("parallelism", default: min(4, ProcessInfo.processInfo.activeProcessorCount))
    let pages = ["/", "/pricing", "/docs", "/blog", "/signup", "/login", "/about", "/careers"]

    let env = StreamEnvironment()
    env.setParallelism(parallelism)
    let milestones = env
        .fromGenerator(count: records) { i in
            PageView(user: i % 997, page: pages[Int((i * 7 + i / 3) % Int64(pages.count))], timestamp: i)
        }
        .filter { $0.user % 10 != 0 }
        .name("Drop test users")
        .keyBy { $0.page }
        .process(ViewCounter())
        .name("Count views per page")
    let results = milestones.collectAsync()

    print("Job graph:\n\(try env.explain())\n")
    let client = try env.executeAsync("rill demo")
    let started = Date()
    var latest: [String: Int64] = [:]
    let reporter = Task {
        for try await (page, count) in results {
            latest[page] = count
        }
        return latest
    }
    let progress = Task {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(250))
            if let source = client.operatorCounts.first {
                print("progress: \(source.recordsOut) of \(records) page views generated")
            }
        }
    }
    let result = try client.waitForResult()
    progress.cancel()
    let final = try awaitBlocking { try await reporter.value }
    let seconds = Date().timeIntervalSince(started)
    print("\nBusiest pages (views, in steps of 10,000):")
    for (page, count) in final.sorted(by: { $0.value > $1.value }) {
        print("  \(page.padding(toLength: 10, withPad: " ", startingAt: 0)) \(count)")
    }
    print("\nper operator:")
    for counts in result.operators {
        print("  \(counts.operatorName): in \(counts.recordsIn), out \(counts.recordsOut)")
    }
    print(String(format: "\n%lld page views at parallelism %d in %.2f s (%.1f M records/s)",
                 records, parallelism, seconds, Double(records) / seconds / 1e6))
}

/// Waits for an async result from synchronous code (the CLI's main thread).
func awaitBlocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        box.withLock { $0 = result }
        done.signal()
    }
    done.wait()
    return try box.withLock { $0! }.get()
}

func runKeyGroup(_ arguments: Arguments) throws {
    let maxParallelism = arguments.integer("max-parallelism", default: 128)
    let parallelism = arguments.integer("parallelism", default: 1)
    guard !arguments.positional.isEmpty else { fail("key-group needs at least one key") }
    for key in arguments.positional {
        let group = KeyGroupRangeAssignment.assignToKeyGroup(key, maxParallelism: maxParallelism)
        let subtask = KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup(
            maxParallelism: maxParallelism, parallelism: parallelism, keyGroup: group)
        print("key=\(key) key_group=\(group) subtask=\(subtask)")
    }
}

let arguments = Arguments(CommandLine.arguments.dropFirst(2))
do {
    switch CommandLine.arguments.dropFirst().first {
    case "demo": try runDemo(arguments)
    case "key-group": try runKeyGroup(arguments)
    case "checkpoints": try runCheckpoints(arguments)
    case "help", "-h", "--help", nil: printUsage()
    case let other?: fail("unknown command '\(other)'; run 'rill help'")
    }
} catch {
    fail("\(error)")
}
