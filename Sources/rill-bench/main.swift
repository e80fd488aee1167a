import Foundation
import Rill
import Synchronization

// rill-bench: the workloads of shared/BENCHMARKS.md. One key=value line per run.

struct Options {
    var workload = ""
    var baseline = false
    var records: Int64 = 20_000_000
    var parallelism = 1
    var runs = 1
    var checkpointInterval: Int64 = 0
    var unaligned = false
    var incremental = false
    /// W4 only: after a first pass over all keys, records go to this percentage of the keys.
    var hotKeysPercent: Int64 = 100

    static func parse(_ arguments: [String]) -> Options {
        var options = Options()
        var rest = arguments.dropFirst()
        func value(_ name: String) -> String {
            guard let next = rest.popFirst() else { fail("\(name) needs a value") }
            return next
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "baseline": options.baseline = true
            case "--records": options.records = number(value(argument), argument)
            case "--parallelism": options.parallelism = Int(number(value(argument), argument))
            case "--runs": options.runs = Int(number(value(argument), argument))
            case "--checkpoint-interval": options.checkpointInterval = number(value(argument), argument)
            case "--unaligned": options.unaligned = true
            case "--incremental": options.incremental = true
            case "--hot-keys-percent": options.hotKeysPercent = number(value(argument), argument)
            case "-h", "--help": usage()
            default:
                guard options.workload.isEmpty, !argument.hasPrefix("-") else { fail("unknown argument \(argument)") }
                options.workload = argument.uppercased()
            }
        }
        if options.workload.isEmpty { usage() }
        guard (1...100).contains(options.hotKeysPercent), w4Keys * options.hotKeysPercent % 100 == 0 else {
            fail("--hot-keys-percent takes a whole percentage of the \(w4Keys) keys, 1 to 100")
        }
        guard options.parallelism >= 1, options.records >= 1, options.records % Int64(options.parallelism) == 0 else {
            fail("--records must be a positive multiple of --parallelism")
        }
        return options
    }
}

func usage() -> Never {
    print("""
    usage: rill-bench [baseline] <workload> [--records N] [--parallelism P] [--runs R]
                      [--checkpoint-interval MS] [--incremental] [--hot-keys-percent H]
    workloads: W1 (stateless), W2 / W2K100 (keyed tumbling windows), W3 (keyed sliding windows), W4 (keyed ValueState),
               W4C (W4 with aligned checkpoints every second; --incremental for incremental ones)
    --hot-keys-percent H (W4, W4C): after a first pass over all 100,000 keys, every record goes to the first H% of them
    """)
    exit(0)
}

func number(_ text: String, _ option: String) -> Int64 {
    guard let value = Int64(text) else { fail("\(option) takes a whole number, not '\(text)'") }
    return value
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("rill-bench: \(message)\n".utf8))
    exit(2)
}

/// Totals of all counting-sink subtasks.
final class Totals: Sendable {
    let state = Mutex<(count: Int64, checksum: Int64)>((0, 0))
    func add(count: Int64, checksum: Int64) {
        state.withLock { $0 = ($0.count + count, $0.checksum &+ checksum) }
    }
    var value: (count: Int64, checksum: Int64) { state.withLock { $0 } }
}

/// Counts records and adds one field to a checksum, per subtask.
struct CountingSink: Sink {
    let totals: Totals
    func createWriter(_ context: SinkContext) throws -> Writer { Writer(totals: totals) }

    final class Writer: SinkWriter {
        let totals: Totals
        var count: Int64 = 0
        var checksum: Int64 = 0
        init(totals: Totals) { self.totals = totals }
        func write(_ element: Int64, _ context: SinkWriteContext) throws {
            count += 1
            checksum &+= element
        }
        func flush(endOfInput: Bool) throws {
            if endOfInput { totals.add(count: count, checksum: checksum) }
        }
    }
}

/// Subtask k emits k, k+P, k+2P, ... below N: event time advances at the same rate everywhere,
/// and each key of `i % K` (K divisible by P) stays in one subtask, in order.
struct StrideSource: Source {
    typealias Output = Int64
    let count: Int64

    struct Split: SourceSplit {
        var splitId: String
        var next: Int64
        let step: Int64
        let end: Int64
    }

    var boundedness: Boundedness { .bounded }

    func createEnumerator(_ context: SplitEnumeratorContext<Split>) throws -> StaticSplitEnumerator<Split> {
        let parallelism = Int64(context.currentParallelism)
        return StaticSplitEnumerator(context: context, splits: (0..<parallelism).map {
            Split(splitId: String($0), next: $0, step: parallelism, end: count)
        })
    }

    func createReader(_ context: SourceReaderContext) throws -> IteratingSplitReader<Split, Int64> {
        IteratingSplitReader(context: context, isFinished: { $0.next >= $0.end }) { split, output, budget in
            var next = split.next
            var emitted = 0
            while next < split.end && emitted < budget {
                try output.collect(next)
                next += split.step
                emitted += 1
            }
            split.next = next
        }
    }
}

/// W4's keys: `i % 100_000`; with `--hot-keys-percent H`, records after the first 100,000 go
/// to the first H% of the keys only (`i % hotKeys`).
let w4Keys: Int64 = 100_000

@inline(__always)
func w4Key(_ i: Int64, hotKeys: Int64) -> Int64 {
    // A literal divisor for plain W4: the compiler turns it into a multiplication.
    if hotKeys == w4Keys { return i % 100_000 }
    return i < w4Keys ? i : i % hotKeys
}

final class SumPerKey: KeyedProcessFunction {
    typealias Key = Int64
    var sum: ValueState<Int64>!

    func open(_ context: RuntimeContext) throws {
        sum = try context.getState(ValueStateDescriptor<Int64>(name: "sum"))
    }

    func processElement(_ value: Int64, _ context: KeyedProcessContext<Int64, Int64>, _ out: Collector<Int64>) throws {
        let next = (sum.value() ?? 0) &+ value
        sum.update(next)
        try out.collect(next)
    }
}

/// Counts the elements of a window (W3).
struct CountAggregate: AggregateFunction {
    func createAccumulator() -> Int64 { 0 }
    func add(_ value: Int64, to accumulator: Int64) -> Int64 { accumulator &+ 1 }
    func getResult(_ accumulator: Int64) -> Int64 { accumulator }
    func merge(_ a: Int64, _ b: Int64) -> Int64 { a &+ b }
}

/// Event time `i / 10` ms with monotonous watermarks (W2, W2K100, W3).
let eventTime = WatermarkStrategy<Int64>.forMonotonousTimestamps().withTimestampAssigner { i, _ in i / 10 }

/// Checkpoint figures of the last engine run, printed as extra key=value fields.
nonisolated(unsafe) var checkpointFields = ""

func runEngine(_ options: Options) throws -> (results: Int64, checksum: Int64) {
    var configuration = StreamEnvironment.Configuration()
    configuration.parallelism = options.parallelism
    var checkpointDirectory: String?
    if options.checkpointInterval > 0 {
        let directory = NSTemporaryDirectory() + "rill-bench-\(UUID().uuidString)"
        checkpointDirectory = directory
        configuration.checkpoints.directory = directory
        configuration.checkpoints.interval = .milliseconds(options.checkpointInterval)
        configuration.checkpoints.incremental = options.incremental
        configuration.checkpoints.unalignedCheckpoints = options.unaligned
        configuration.checkpoints.tolerableFailedCheckpoints = Int.max
    }
    defer { if let checkpointDirectory { try? FileManager.default.removeItem(atPath: checkpointDirectory) } }
    let env = StreamEnvironment(configuration: configuration)
    let totals = Totals()
    let n = options.records
    switch options.workload {
    case "W1":
        env.fromSequence(0...(n - 1))
            .map { $0 &* 2 }
            .filter { $0 % 3 != 0 }
            .sinkTo(CountingSink(totals: totals))
    case "W2", "W2K100":
        let keys: Int64 = options.workload == "W2" ? 10_000 : 100
        env.fromSource(StrideSource(count: n), watermarkStrategy: eventTime, name: "Stride Source")
            .keyBy { $0 % keys }
            .window(TumblingEventTimeWindows.of(.seconds(1)))
            .reduce { $0 &+ $1 }
            .sinkTo(CountingSink(totals: totals))
    case "W3":
        env.fromSource(StrideSource(count: n), watermarkStrategy: eventTime, name: "Stride Source")
            .keyBy { $0 % 1_000 }
            .window(SlidingEventTimeWindows.of(.seconds(10), .seconds(1)))
            .aggregate(CountAggregate())
            .sinkTo(CountingSink(totals: totals))
    case "W4", "W4C", "W4U":
        let hotKeys = w4Keys * options.hotKeysPercent / 100
        env.fromSource(StrideSource(count: n), name: "Stride Source")
            .keyBy { w4Key($0, hotKeys: hotKeys) }
            .process(SumPerKey())
            .sinkTo(CountingSink(totals: totals))
    default:
        fail("unknown workload \(options.workload)")
    }
    let client = try env.executeAsync(options.workload)
    _ = try client.waitForResult()
    if options.checkpointInterval > 0 {
        // The first checkpoint is always full; what the later ones write shows what incremental
        // checkpoints cost.
        let stats = client.checkpointStatistics
        let later = stats.recent.count > 1 ? Array(stats.recent.dropFirst()) : stats.recent
        let meanWritten = later.isEmpty ? 0 : later.reduce(0) { $0 + $1.writtenBytes } / Int64(later.count)
        let meanMillis = stats.recent.isEmpty ? 0 : stats.recent.reduce(0) { $0 + $1.durationMillis } / Int64(stats.recent.count)
        checkpointFields = " checkpoints=\(stats.completed) checkpoint_kind=\(options.incremental ? "incremental" : "full")"
            + " checkpoint_bytes=\(stats.lastSizeBytes) checkpoint_written_mean=\(meanWritten)"
            + " checkpoint_written_max=\(later.map(\.writtenBytes).max() ?? 0)"
            + " checkpoint_ms_mean=\(meanMillis) checkpoint_ms_max=\(stats.recent.map(\.durationMillis).max() ?? 0)"
    }
    let (count, checksum) = totals.value
    return (count, checksum)
}

func runBaseline(_ options: Options) -> (results: Int64, checksum: Int64) {
    let n = options.records
    var count: Int64 = 0
    var checksum: Int64 = 0
    switch options.workload {
    case "W1":
        for s in 0..<n {
            let x = s &* 2
            if x % 3 != 0 {
                count += 1
                checksum &+= x
            }
        }
    case "W2", "W2K100":
        (count, checksum) = baselineTumbling(n: n, keys: options.workload == "W2" ? 10_000 : 100)
    case "W3":
        (count, checksum) = baselineSliding(n: n)
    case "W4":
        let hotKeys = w4Keys * options.hotKeysPercent / 100
        var sums: [Int64: Int64] = [:]
        sums.reserveCapacity(Int(w4Keys))
        for i in 0..<n {
            let key = w4Key(i, hotKeys: hotKeys)
            let next = sums[key, default: 0] &+ i
            sums[key] = next
            count += 1
            checksum &+= next
        }
    default:
        fail("unknown workload \(options.workload)")
    }
    return (count, checksum)
}

/// W2/W2K100 in a plain loop: a sum per (key, 1 s window) in a dictionary (the pair packed
/// into one Int64 key), and each window emitted (and removed) as soon as the monotonous
/// watermark `ts - 1` reaches its end - 1.
func baselineTumbling(n: Int64, keys: Int64) -> (Int64, Int64) {
    let size: Int64 = 1_000
    var sums: [Int64: Int64] = [:]
    sums.reserveCapacity(Int(keys) * 2)
    var pending: [(end: Int64, keys: [Int64])] = []   // window ends in ascending order
    var firstPending = 0
    var count: Int64 = 0
    var checksum: Int64 = 0
    var watermark = Int64.min
    func fire(upTo watermark: Int64) {
        while firstPending < pending.count && pending[firstPending].end - 1 <= watermark {
            let end = pending[firstPending].end
            for key in pending[firstPending].keys {
                count += 1
                checksum &+= sums.removeValue(forKey: (end - size) / size * keys + key)!
            }
            pending[firstPending].keys = []
            firstPending += 1
        }
    }
    for i in 0..<n {
        let key = i % keys
        let ts = i / 10
        let start = ts - ts % size
        let before = sums.count
        sums[start / size * keys + key, default: 0] &+= i
        if sums.count != before {
            if pending.last?.end != start + size { pending.append((start + size, [])) }
            pending[pending.count - 1].keys.append(key)
        }
        if ts - 1 > watermark {
            watermark = ts - 1
            fire(upTo: watermark)
        }
    }
    fire(upTo: Int64.max)
    return (count, checksum)
}

/// W3 in a plain loop, by slicing like the engine: a count per (key, 1 s slice) in a
/// dictionary (the pair packed into one Int64 key); when the watermark passes a window's
/// end, each key with data in the window gets the sum of its 10 slices, and the slice no
/// later window needs is removed.
func baselineSliding(n: Int64) -> (Int64, Int64) {
    let keys: Int64 = 1_000
    let size: Int64 = 10_000
    let slide: Int64 = 1_000
    func packed(_ key: Int64, _ sliceStart: Int64) -> Int64 { (sliceStart / slide + 16) * keys + key }
    var counts: [Int64: Int64] = [:]
    counts.reserveCapacity(Int(keys * 16))
    var sliceKeys: [Int64: [Int64]] = [:]   // slice start -> keys with data
    var lastFired = [Int64](repeating: Int64.min, count: Int(keys))
    var count: Int64 = 0
    var checksum: Int64 = 0
    var nextEnd = Int64.max                 // the next window end to fire
    func fire(upTo watermark: Int64) {
        while nextEnd != Int64.max && nextEnd - 1 <= watermark {
            let end = nextEnd
            var start = end - size
            while start < end {
                for key in sliceKeys[start] ?? [] where lastFired[Int(key)] != end {
                    lastFired[Int(key)] = end
                    var total: Int64 = 0
                    var slice = end - size
                    while slice < end {
                        total &+= counts[packed(key, slice)] ?? 0
                        slice += slide
                    }
                    count += 1
                    checksum &+= total
                }
                start += slide
            }
            let expired = end - size
            for key in sliceKeys.removeValue(forKey: expired) ?? [] {
                counts.removeValue(forKey: packed(key, expired))
            }
            nextEnd = sliceKeys.isEmpty ? Int64.max : end + slide
        }
    }
    var watermark = Int64.min
    for i in 0..<n {
        let key = i % keys
        let ts = i / 10
        let start = ts - ts % slide
        let before = counts.count
        counts[packed(key, start), default: 0] &+= 1
        if counts.count != before {
            sliceKeys[start, default: []].append(key)
            nextEnd = min(nextEnd, start + slide)
        }
        if ts - 1 > watermark {
            watermark = ts - 1
            fire(upTo: watermark)
        }
    }
    fire(upTo: Int64.max)
    return (count, checksum)
}

var options = Options.parse(CommandLine.arguments)
if options.workload == "W4C" || options.workload == "W4U" {
    if options.checkpointInterval == 0 { options.checkpointInterval = 1000 }
    if options.workload == "W4U" { options.unaligned = true }
}
for _ in 0..<options.runs {
    let start = DispatchTime.now().uptimeNanoseconds
    let (results, checksum): (Int64, Int64)
    do {
        (results, checksum) = options.baseline ? runBaseline(options) : try runEngine(options)
    } catch {
        fail("\(error)")
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let name = options.baseline ? "baseline-\(options.workload)" : options.workload
    print("workload=\(name) parallelism=\(options.baseline ? 1 : options.parallelism) records=\(options.records) results=\(results) checksum=\(checksum) seconds=\(String(format: "%.3f", seconds)) records_per_s=\(Int(Double(options.records) / seconds))\(options.hotKeysPercent < 100 ? " hot_keys_percent=\(options.hotKeysPercent)" : "")\(checkpointFields)")
}
