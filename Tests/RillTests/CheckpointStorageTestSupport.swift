import Foundation
import Rill
import XCTest

/// Checkpoints for the storage tests: one operator with two subtasks over eight key groups,
/// operator state, channel state and extra state. Every key group's blob says which
/// checkpoint wrote it, so a test can tell where a read was served from.
enum CheckpointFixture {
    static let maxParallelism = 8

    static func keyGroupBytes(_ keyGroup: Int, writtenIn checkpointId: Int64) -> [UInt8] {
        Array("key group \(keyGroup) written in checkpoint \(checkpointId)".utf8)
    }

    static func fileName(subtask: Int) -> String { "op-counter-sub-\(subtask).state" }

    /// The state files of one checkpoint.
    static var fileNames: [String] { [fileName(subtask: 0), fileName(subtask: 1)] }

    /// Writes the state files of checkpoint `id` and, when `commit`, its `_metadata`.
    /// With `previous`, only the key groups in `changed` are written; those in `appended` get
    /// a change blob on top of `previous`' handles; the others keep `previous`' handles (an
    /// incremental checkpoint).
    @discardableResult
    static func write(
        _ storage: CheckpointStorage, id: Int64, previous: CheckpointMetadata? = nil, changed: Set<Int> = [],
        appended: Set<Int> = [], commit: Bool = true
    ) throws -> CheckpointMetadata {
        var subtasks: [SubtaskStateMetadata] = []
        for subtask in 0..<2 {
            let range = KeyGroupRange(start: subtask * 4, end: subtask * 4 + 3)
            let writer = storage.stateFileWriter(checkpointId: id, name: fileName(subtask: subtask))
            var keyGroups: [KeyGroupStateHandle] = []
            for keyGroup in range {
                if let previous, !changed.contains(keyGroup) {
                    var kept = previous.operators[0].subtasks[subtask].keyGroups[keyGroup - range.start]
                    if appended.contains(keyGroup) {
                        let change = try writer.append(Array("changes of key group \(keyGroup) in checkpoint \(id)".utf8))
                        kept.changes.append(KeyGroupChangeHandle(handle: change, writtenInCheckpoint: id))
                    }
                    keyGroups.append(kept)
                } else {
                    let handle = try writer.append(keyGroupBytes(keyGroup, writtenIn: id))
                    keyGroups.append(KeyGroupStateHandle(keyGroup: keyGroup, handle: handle, writtenInCheckpoint: id))
                }
            }
            let offsets = try writer.append { $0.write([Int64(id), Int64(subtask)]) }
            let splits = try writer.append(Array("splits of \(subtask)".utf8))
            var channels: [ChannelStateHandle] = []
            if subtask == 1 {
                channels.append(ChannelStateHandle(inputChannel: 0, handle: try writer.append(Array("in-flight".utf8))))
            }
            try writer.finish()
            subtasks.append(
                SubtaskStateMetadata(
                    subtaskIndex: subtask, keyGroupRange: range, keyGroups: keyGroups,
                    operatorState: [NamedStateHandle(name: "offsets", distribution: .union, handle: offsets)],
                    channelState: channels, extra: [NamedStateHandle(name: "source-splits", handle: splits)]))
        }
        let metadata = CheckpointMetadata(
            checkpointId: id, jobName: "fixture", timestampMillis: 1_700_000_000_000 + id * 1000,
            isIncremental: previous != nil,
            operators: [
                OperatorStateMetadata(
                    operatorId: "counter", operatorName: "Count views", parallelism: 2, maxParallelism: maxParallelism,
                    keyedStateDescriptors: [
                        StateDescriptorMetadata(name: "views", kind: "value", valueTypeDescription: "Int64")
                    ],
                    subtasks: subtasks)
            ])
        if commit { try storage.commit(metadata) }
        return metadata
    }

    /// Reads every key group of `metadata` through `read` and returns the texts by key group.
    static func keyGroupTexts(
        _ metadata: CheckpointMetadata, read: (StateHandle) throws -> [UInt8]
    ) throws -> [Int: String] {
        var texts: [Int: String] = [:]
        for subtask in metadata.operators[0].subtasks {
            for group in subtask.keyGroups {
                texts[group.keyGroup] = String(decoding: try read(group.handle), as: UTF8.self)
            }
        }
        return texts
    }
}

extension XCTestCase {
    /// A new empty directory, deleted after the test.
    func makeTemporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("rill-ckpt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Asserts that `body` throws a ``CheckpointError`` with `code` and returns it.
    @discardableResult
    func assertCheckpointError<T>(
        _ code: CheckpointError.Code, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T
    ) -> CheckpointError? {
        do {
            _ = try body()
            XCTFail("expected CheckpointError(\(code)), but nothing was thrown", file: file, line: line)
        } catch let error as CheckpointError {
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("expected CheckpointError(\(code)), got \(error)", file: file, line: line)
        }
        return nil
    }

    /// Mounts a tmpfs of `kibibytes` at `path` for the test, or skips the test when that is not
    /// allowed (it needs root).
    func mountSmallTmpfs(at path: String, kibibytes: Int) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard (try? runCommand("/bin/mount", "-t", "tmpfs", "-o", "size=\(kibibytes)k", "tmpfs", path)) != nil else {
            throw XCTSkip("cannot mount a tmpfs here (needs root); the disk-full path is not exercised")
        }
        addTeardownBlock { [self] in try? runCommand("/bin/umount", path) }
    }

    func runCommand(_ executable: String, _ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CheckpointError(code: .io, message: "\(executable) \(arguments) failed")
        }
    }

    /// The names in `directory`, sorted (empty when it does not exist).
    func fileNames(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }
}
