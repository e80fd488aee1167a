import Foundation
import Rill

// rill checkpoints list DIR | show PATH: what checkpoints and savepoints hold, for people.

func runCheckpoints(_ arguments: Arguments) throws {
    let verification: CheckpointVerification
    switch arguments.options["verify"] ?? "sizes" {
    case "sizes": verification = .sizes
    case "checksums": verification = .checksums
    case let other: fail("--verify takes 'sizes' or 'checksums', not '\(other)'")
    }
    switch (arguments.positional.first, arguments.positional.count) {
    case ("list", 2): try listCheckpoints(arguments.positional[1], verification: verification)
    case ("show", 2): try showCheckpoint(arguments.positional[1], verification: verification)
    default: fail("usage: rill checkpoints list DIR | rill checkpoints show PATH  [--verify sizes|checksums]")
    }
}

private func listCheckpoints(_ directory: String, verification: CheckpointVerification) throws {
    let storage = try CheckpointStorage(directory: directory, createIfMissing: false)
    let listing = storage.listCheckpoints(verification: verification)
    if listing.isEmpty {
        if FileManager.default.fileExists(atPath: storage.directory + "/_metadata") {
            print("\(storage.directory) is a checkpoint or savepoint itself; see 'rill checkpoints show \(directory)'")
        } else {
            print("no checkpoints in \(storage.directory)")
        }
        return
    }
    var rows = [["ID", "KIND", "TAKEN (UTC)", "STATE", "ON DISK", "TYPE", "DIRECTORY", "STATUS"]]
    for entry in listing {
        let metadata = entry.metadata
        rows.append([
            metadata == nil && entry.checkpointId < 0 ? "?" : "\(entry.checkpointId)",
            metadata.map { "\($0.kind)" } ?? "-",
            metadata.map { formatTime($0.timestampMillis) } ?? "-",
            metadata.map { formatBytes($0.stateBytes) } ?? "-",
            formatBytes(entry.bytesOnDisk),
            metadata.map { $0.isIncremental ? "incremental" : "full" } ?? "-",
            (entry.path as NSString).lastPathComponent,
            entry.problem.map { "INVALID: \($0)" } ?? "valid",
        ])
    }
    printTable(rows)
    let valid = listing.filter(\.isValid).count
    print("\n\(listing.count) entr\(listing.count == 1 ? "y" : "ies"), \(valid) valid, in \(storage.directory)")
}

private func showCheckpoint(_ path: String, verification: CheckpointVerification) throws {
    let metadata = try CheckpointStorage.load(path: path, verification: .metadataOnly)
    var problem: String?
    do throws(CheckpointError) {
        _ = try CheckpointStorage.load(path: path, verification: verification)
    } catch {
        problem = error.message
    }
    let base = CheckpointStorage.baseDirectory(forSnapshotAt: path, kind: metadata.kind)
    let ownPrefix = metadata.kind == .checkpoint ? CheckpointStorage.checkpointDirectoryName(metadata.checkpointId) + "/" : ""
    let handles = metadata.allHandles
    let earlier = handles.filter { !$0.relativePath.hasPrefix(ownPrefix) }
    let earlierKeyGroups = metadata.operators.flatMap(\.subtasks).flatMap(\.keyGroups)
        .filter { $0.writtenInCheckpoint != metadata.checkpointId }

    print("\(metadata.kind) \(metadata.checkpointId) of job \"\(metadata.jobName)\" (\(metadata.isIncremental ? "incremental" : "full"))")
    print("  path:    \(path)")
    print("  taken:   \(formatTime(metadata.timestampMillis)) UTC")
    print("  format:  version \(metadata.formatVersion)")
    var state = "\(formatBytes(metadata.stateBytes)) in \(handles.count) blob\(handles.count == 1 ? "" : "s")"
    if !earlier.isEmpty {
        state += "; \(formatBytes(earlier.reduce(0) { $0 + $1.length })) (\(earlierKeyGroups.count) key groups) "
            + "referenced from earlier checkpoints"
    }
    let changes = metadata.operators.flatMap(\.subtasks).flatMap(\.keyGroups).flatMap(\.changes)
    if !changes.isEmpty {
        state += "; \(changes.count) change blob\(changes.count == 1 ? "" : "s") (\(formatBytes(changes.reduce(0) { $0 + $1.handle.length })))"
            + " on top of key-group bases"
    }
    print("  state:   \(state)")
    print("  status:  \(problem.map { "INVALID: \($0)" } ?? "valid")")

    for op in metadata.operators {
        print("\noperator \(op.operatorId) \"\(op.operatorName)\": parallelism \(op.parallelism), max parallelism \(op.maxParallelism)")
        if !op.keyedStateDescriptors.isEmpty {
            print("  keyed state:")
            printTable(op.keyedStateDescriptors.map { [$0.name, $0.kind, $0.valueTypeDescription] }, indent: "    ")
        }
        for subtask in op.subtasks {
            let bytes = subtask.allHandles.reduce(0) { $0 + $1.length }
            let fromEarlier = subtask.keyGroups.filter { $0.writtenInCheckpoint != metadata.checkpointId }
            let earlierIds = Set(fromEarlier.map(\.writtenInCheckpoint)).sorted().map(String.init)
            var line = "  subtask \(subtask.subtaskIndex): "
            line += subtask.keyGroupRange.isEmpty
                ? "no key groups"
                : "key groups \(subtask.keyGroupRange.start)...\(subtask.keyGroupRange.end), \(subtask.keyGroups.count) with state"
            line += ", \(formatBytes(bytes))"
            if !fromEarlier.isEmpty {
                line += ", \(fromEarlier.count) key group\(fromEarlier.count == 1 ? "" : "s") from checkpoint"
                    + "\(earlierIds.count == 1 ? "" : "s") \(earlierIds.joined(separator: ", "))"
            }
            let changed = subtask.keyGroups.filter { !$0.changes.isEmpty }
            if !changed.isEmpty {
                let changes = changed.flatMap(\.changes)
                let ids = Set(changes.map(\.writtenInCheckpoint)).sorted().map(String.init)
                line += ", \(changed.count) with changes on their base (\(changes.count) change blob"
                    + "\(changes.count == 1 ? "" : "s") from checkpoint\(ids.count == 1 ? "" : "s") \(ids.joined(separator: ", ")))"
            }
            print(line)
            var rows: [[String]] = []
            for named in subtask.operatorState {
                rows.append(["operator state", "\(named.name) (\(named.distribution))", formatBytes(named.handle.length), named.handle.relativePath])
            }
            for channel in subtask.channelState {
                rows.append(["channel state", "input \(channel.inputChannel)", formatBytes(channel.handle.length), channel.handle.relativePath])
            }
            for named in subtask.extra {
                rows.append(["extra", named.name, formatBytes(named.handle.length), named.handle.relativePath])
            }
            printTable(rows, indent: "    ")
        }
    }

    print("\nfiles (relative to \(base)):")
    var rows: [[String]] = []
    let byFile = Dictionary(grouping: handles, by: \.relativePath)
    for (file, fileHandles) in byFile.sorted(by: { $0.key < $1.key }) {
        let needed = fileHandles.map(\.endOffset).max() ?? 0
        let attributes = try? FileManager.default.attributesOfItem(atPath: base + "/" + file)
        let size = (attributes?[.size] as? NSNumber)?.int64Value
        let status = size.map { $0 >= needed ? "ok" : "CUT OFF (\($0) of \(needed) bytes)" } ?? "MISSING"
        let count = fileHandles.count
        rows.append([file, "\(count) blob\(count == 1 ? "" : "s")", formatBytes(fileHandles.reduce(0) { $0 + $1.length }), status])
    }
    printTable(rows, indent: "  ")
    if problem != nil { exit(1) }
}

private func formatTime(_ millis: Int64) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
    return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
}

private func formatBytes(_ bytes: Int64) -> String {
    let units = ["KiB", "MiB", "GiB", "TiB"]
    guard bytes >= 1024 else { return "\(bytes) B" }
    var value = Double(bytes)
    var unit = -1
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return String(format: "%.1f %@", value, units[unit])
}

/// Prints `rows` with the columns aligned (the last column is not padded).
private func printTable(_ rows: [[String]], indent: String = "") {
    guard let columns = rows.map(\.count).max() else { return }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows {
        for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
    }
    for row in rows {
        let cells = row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }
        print(indent + cells.joined(separator: "  "))
    }
}
