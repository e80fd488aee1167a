import Foundation
import Rill
import XCTest

final class CheckpointStorageTests: XCTestCase {
    func testMetadataRoundTripsThroughTheCodec() throws {
        let handle = StateHandle(relativePath: "chk-7/op-3-sub-1.state", offset: 1 << 40, length: 12, crc32c: 0xDEAD_BEEF)
        let metadata = CheckpointMetadata(
            checkpointId: 7, kind: .savepoint, jobName: "jöb", timestampMillis: -5, isIncremental: true,
            operators: [
                OperatorStateMetadata(
                    operatorId: "uid-1", operatorName: "Count", parallelism: 3, maxParallelism: 128,
                    keyedStateDescriptors: [
                        StateDescriptorMetadata(name: "views", kind: "value", valueTypeDescription: "Int64"),
                        StateDescriptorMetadata(name: "seen", kind: "map", valueTypeDescription: "[String: Bool]"),
                    ],
                    subtasks: [
                        SubtaskStateMetadata(
                            subtaskIndex: 0, keyGroupRange: KeyGroupRange(start: 0, end: 42),
                            keyGroups: [KeyGroupStateHandle(keyGroup: 5, handle: handle, writtenInCheckpoint: 3)],
                            operatorState: [NamedStateHandle(name: "offsets", distribution: .splitDistribute, handle: handle)],
                            channelState: [ChannelStateHandle(inputChannel: 2, handle: handle)],
                            extra: [NamedStateHandle(name: "txn", handle: handle)]),
                        SubtaskStateMetadata(subtaskIndex: 1),
                    ]),
                OperatorStateMetadata(operatorId: "sink", operatorName: "Sink", parallelism: 1, maxParallelism: 1),
            ])
        var writer = BinaryWriter()
        writer.write(metadata)
        var reader = BinaryReader(writer.bytes)
        let decoded = try reader.read(CheckpointMetadata.self)
        try reader.expectEnd()
        XCTAssertEqual(decoded, metadata)
        XCTAssertEqual(decoded.operators[0].subtasks[1].keyGroupRange, .empty)
        XCTAssertEqual(decoded.operators[0].subtasks[0].operatorState[0].operatorStateDistribution, .splitDistribute)
        XCTAssertEqual(decoded.formatVersion, CheckpointMetadata.currentFormatVersion)
        XCTAssertEqual(decoded.referencedFiles, ["chk-7/op-3-sub-1.state"])
        XCTAssertEqual(decoded.stateBytes, 48)

        // Every strict prefix is cut off, never read as something else.
        let bytes = writer.bytes
        for cut in 0..<bytes.count {
            var partial = BinaryReader(Array(bytes[..<cut]))
            XCTAssertThrowsError(try partial.read(CheckpointMetadata.self), "prefix of \(cut) bytes")
        }
    }

    func testMetadataOfAnotherFormatVersionIsIncompatible() throws {
        var writer = BinaryWriter()
        writer.writeVarUInt(99)
        var reader = BinaryReader(writer.bytes)
        XCTAssertThrowsError(try reader.read(CheckpointMetadata.self)) { error in
            XCTAssertEqual((error as? CodecError)?.code, .versionMismatch)
        }

        // A well-formed _metadata frame of a future version: `.incompatible`, naming the file.
        let base = try makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: base + "/chk-1", withIntermediateDirectories: false)
        let frame = FramedBlob.encode(magic: FramedBlob.Magic("RCKP"), version: 99, payload: [1, 2, 3])
        XCTAssertTrue(FileManager.default.createFile(atPath: base + "/chk-1/_metadata", contents: Data(frame)))
        let error = assertCheckpointError(.incompatible) { try CheckpointStorage.load(path: base + "/chk-1") }
        XCTAssertEqual(error?.path, base + "/chk-1/_metadata")
        let storage = try CheckpointStorage(directory: base)
        XCTAssertEqual(
            storage.listCheckpoints().map(\.problem), ["_metadata written in a format this build does not read"])
    }

    func testWriteCommitListAndLatestCompleted() throws {
        let base = try makeTemporaryDirectory() + "/job/checkpoints"
        let storage = try CheckpointStorage(directory: base)
        XCTAssertEqual(fileNames(base), [], "the writability probe leaves nothing behind")
        assertCheckpointError(.notFound) { try storage.latestCompleted() }

        let first = try CheckpointFixture.write(storage, id: 1)
        let second = try CheckpointFixture.write(storage, id: 2, previous: first, changed: [0, 5])
        XCTAssertEqual(fileNames(base), ["chk-1", "chk-2"])
        XCTAssertEqual(
            fileNames(base + "/chk-2"), ["_metadata", "op-counter-sub-0.state", "op-counter-sub-1.state"],
            "no temporary file is left")

        let listing = storage.listCheckpoints()
        XCTAssertEqual(listing.map(\.checkpointId), [1, 2])
        XCTAssertEqual(listing.map(\.isValid), [true, true])
        XCTAssertEqual(listing.map(\.kind), [.checkpoint, .checkpoint])
        XCTAssertEqual(listing[1].metadata, second)
        XCTAssertEqual(listing[1].path, base + "/chk-2")
        XCTAssertGreaterThan(listing[0].bytesOnDisk, listing[1].bytesOnDisk, "chk-2 wrote only changed key groups")

        let latest = try storage.latestCompleted()
        XCTAssertEqual(latest.metadata, second)
        XCTAssertEqual(latest.path, base + "/chk-2")
        XCTAssertEqual(latest.skipped, [])

        let texts = try CheckpointFixture.keyGroupTexts(latest.metadata) { try storage.read($0) }
        XCTAssertEqual(texts[0], "key group 0 written in checkpoint 2")
        XCTAssertEqual(texts[1], "key group 1 written in checkpoint 1")
        XCTAssertEqual(texts[5], "key group 5 written in checkpoint 2")
        var offsets = BinaryReader(try storage.read(second.operators[0].subtasks[1].operatorState[0].handle))
        XCTAssertEqual(try offsets.read([Int64].self), [2, 1])

        XCTAssertEqual(try CheckpointStorage.load(path: base + "/chk-2"), second)
        XCTAssertEqual(try CheckpointStorage.load(path: base + "/chk-2/_metadata/"), second)
        XCTAssertEqual(
            CheckpointStorage.baseDirectory(forSnapshotAt: base + "/chk-2/_metadata", kind: .checkpoint), base)
    }

    func testStateFileWriterHandlesLargeAndManySmallBlobs() throws {
        let storage = try CheckpointStorage(directory: try makeTemporaryDirectory())
        let writer = storage.stateFileWriter(checkpointId: 3, name: "big.state")
        var blobs: [[UInt8]] = []
        var handles: [StateHandle] = []
        for i in 0..<3000 {
            let count = i % 1000 == 999 ? 1_500_000 + i : i % 37
            let blob = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) }
            blobs.append(blob)
            handles.append(try writer.append(blob))
        }
        let encoded = try writer.append { $0.writeString("encoded in place") }
        var expectedOffset: Int64 = 0
        for (blob, handle) in zip(blobs, handles) {
            XCTAssertEqual(handle.offset, expectedOffset)
            XCTAssertEqual(handle.length, Int64(blob.count))
            XCTAssertEqual(handle.relativePath, "chk-3/big.state")
            expectedOffset += Int64(blob.count)
        }
        XCTAssertEqual(writer.bytesWritten, expectedOffset + encoded.length)
        assertCheckpointError(.notFound) { try storage.read(handles[0]) }  // not before finish()
        try writer.finish()
        for (blob, handle) in zip(blobs, handles) {
            XCTAssertEqual(try storage.read(handle), blob)
        }
        var reader = BinaryReader(try storage.read(encoded))
        XCTAssertEqual(try reader.readString(), "encoded in place")
        assertCheckpointError(.invalidArgument) { try writer.append([1]) }

        // A body that throws appends nothing.
        struct Refused: Error {}
        let second = storage.stateFileWriter(checkpointId: 3, name: "second.state")
        XCTAssertThrowsError(try second.append { out in
            out.writeString("half")
            throw Refused()
        })
        let after = try second.append([9])
        XCTAssertEqual(after.offset, 0)
        try second.finish()
        XCTAssertEqual(try storage.read(after), [9])
    }

    func testConcurrentWritersOfOneCheckpoint() throws {
        let storage = try CheckpointStorage(directory: try makeTemporaryDirectory())
        let results = Array(repeating: StateHandle(relativePath: "", offset: 0, length: 0, crc32c: 0), count: 16)
        let box = LockedHandles(results)
        DispatchQueue.concurrentPerform(iterations: 16) { subtask in
            do {
                let writer = storage.stateFileWriter(checkpointId: 1, name: "op-1-sub-\(subtask).state")
                let handle = try writer.append(Array(repeating: UInt8(subtask), count: 10_000 + subtask))
                try writer.finish()
                box.set(subtask, handle)
            } catch {
                XCTFail("subtask \(subtask): \(error)")
            }
        }
        let handles = box.all
        let metadata = CheckpointMetadata(
            checkpointId: 1, jobName: "parallel", timestampMillis: 0,
            operators: [
                OperatorStateMetadata(
                    operatorId: "op-1", operatorName: "op", parallelism: 16, maxParallelism: 16,
                    subtasks: handles.enumerated().map { index, handle in
                        SubtaskStateMetadata(subtaskIndex: index, extra: [NamedStateHandle(name: "data", handle: handle)])
                    })
            ])
        try storage.commit(metadata)
        let latest = try storage.latestCompleted()
        for (index, subtask) in latest.metadata.operators[0].subtasks.enumerated() {
            XCTAssertEqual(try storage.read(subtask.extra[0].handle), Array(repeating: UInt8(index), count: 10_000 + index))
        }
    }

    func testRefusesToOverwriteCompletedCheckpointsAndFiles() throws {
        let base = try makeTemporaryDirectory()
        let storage = try CheckpointStorage(directory: base)
        let metadata = try CheckpointFixture.write(storage, id: 4)
        let original = try Data(contentsOf: URL(fileURLWithPath: base + "/chk-4/_metadata"))

        var changed = metadata
        changed.jobName = "another job"
        let error = assertCheckpointError(.alreadyExists) { try storage.commit(changed) }
        XCTAssertEqual(error?.path, base + "/chk-4/_metadata")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: base + "/chk-4/_metadata")), original)

        // No new state file in a completed checkpoint, and no temporary file is left behind.
        let late = storage.stateFileWriter(checkpointId: 4, name: CheckpointFixture.fileName(subtask: 0))
        _ = try late.append([1, 2, 3])  // staged in memory
        assertCheckpointError(.alreadyExists) { try late.finish() }
        XCTAssertEqual(fileNames(base + "/chk-4"), ["_metadata", "op-counter-sub-0.state", "op-counter-sub-1.state"])
        XCTAssertEqual(try storage.latestCompleted().metadata, metadata)

        // Two writers of the same file: the second one fails and the first one's bytes stay.
        let one = storage.stateFileWriter(checkpointId: 5, name: "same.state")
        let two = storage.stateFileWriter(checkpointId: 5, name: "same.state")
        let handle = try one.append([1])
        _ = try two.append([2])
        try one.finish()
        assertCheckpointError(.alreadyExists) { try two.finish() }
        XCTAssertEqual(try storage.read(handle), [1])
        XCTAssertEqual(fileNames(base + "/chk-5"), ["same.state"])

        // Savepoints are committed with writeSavepoint, and are never overwritten either.
        var savepoint = metadata
        savepoint.kind = .savepoint
        assertCheckpointError(.invalidArgument) { try storage.commit(savepoint) }
        let target = base + "/savepoints/sp-1"
        XCTAssertEqual(try storage.writeSavepoint(from: metadata, to: target), target)
        let before = try Data(contentsOf: URL(fileURLWithPath: target + "/_metadata"))
        let refused = assertCheckpointError(.alreadyExists) { try storage.writeSavepoint(from: metadata, to: target) }
        XCTAssertEqual(refused?.path, target + "/_metadata")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: target + "/_metadata")), before)
        try FileManager.default.createDirectory(atPath: base + "/savepoints/busy", withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: base + "/savepoints/busy/notes.txt", contents: Data([1])))
        assertCheckpointError(.alreadyExists) { try storage.writeSavepoint(from: metadata, to: base + "/savepoints/busy") }
        XCTAssertEqual(fileNames(base + "/savepoints/busy"), ["notes.txt"])
    }

    func testInvalidNamesAndHandles() throws {
        let storage = try CheckpointStorage(directory: try makeTemporaryDirectory())
        for name in ["", "a/b", ".hidden", "_metadata", String(repeating: "x", count: 201)] {
            let writer = storage.stateFileWriter(checkpointId: 1, name: name)
            assertCheckpointError(.invalidArgument) { try writer.append([1]) }
            assertCheckpointError(.invalidArgument) { try writer.finish() }
        }
        XCTAssertEqual(fileNames(storage.directory), [])
        for path in ["../outside", "/etc/passwd", "chk-1/../../x", "chk-1//x", ""] {
            let handle = StateHandle(relativePath: path, offset: 0, length: 1, crc32c: 0)
            assertCheckpointError(.corrupt) { try storage.read(handle) }
        }
    }

    func testDiscardRemovesAFailedCheckpointAndStopsItsWriters() throws {
        let base = try makeTemporaryDirectory()
        let storage = try CheckpointStorage(directory: base)
        let first = try CheckpointFixture.write(storage, id: 1)
        // Checkpoint 2 references checkpoint 1's files and fails before its _metadata.
        try CheckpointFixture.write(storage, id: 2, previous: first, changed: [3], commit: false)
        let straggler = storage.stateFileWriter(checkpointId: 2, name: "late.state")
        _ = try straggler.append([UInt8](repeating: 7, count: 1 << 20))  // big enough to reach the disk
        XCTAssertTrue(fileNames(base + "/chk-2").contains { $0.hasPrefix(".tmp-late.state") })

        try storage.discard(checkpointId: 2)
        XCTAssertEqual(fileNames(base), ["chk-1"])
        assertCheckpointError(.notFound) { try straggler.finish() }
        let another = storage.stateFileWriter(checkpointId: 2, name: "later.state")
        assertCheckpointError(.notFound) { try another.finish() }
        XCTAssertEqual(fileNames(base), ["chk-1"], "a discarded checkpoint's directory is not recreated")
        try storage.discard(checkpointId: 2)  // again: nothing to do
        try storage.discard(checkpointId: 99)  // wrote nothing

        let error = assertCheckpointError(.alreadyExists) { try storage.discard(checkpointId: 1) }
        XCTAssertEqual(error?.path, base + "/chk-1/_metadata")
        XCTAssertEqual(try storage.latestCompleted().metadata, first)
        _ = try CheckpointFixture.keyGroupTexts(first) { try storage.read($0) }
    }

    func testCommitChecksThatReferencedFilesExist() throws {
        let base = try makeTemporaryDirectory()
        let storage = try CheckpointStorage(directory: base)
        let metadata = try CheckpointFixture.write(storage, id: 3, commit: false)
        try FileManager.default.removeItem(atPath: base + "/chk-3/op-counter-sub-1.state")
        let error = assertCheckpointError(.notFound) { try storage.commit(metadata) }
        XCTAssertEqual(error?.path, base + "/chk-3/op-counter-sub-1.state")
        XCTAssertEqual(fileNames(base + "/chk-3"), ["op-counter-sub-0.state"], "no _metadata was written")
    }

    func testDeleteAllCheckpointsKeepsSavepoints() throws {
        let base = try makeTemporaryDirectory()
        let storage = try CheckpointStorage(directory: base)
        let first = try CheckpointFixture.write(storage, id: 1)
        try CheckpointFixture.write(storage, id: 2, previous: first, changed: [1])
        try CheckpointFixture.write(storage, id: 3, commit: false)
        try storage.writeSavepoint(from: first, to: base + "/savepoint-1")
        XCTAssertTrue(FileManager.default.createFile(atPath: base + "/README", contents: Data("mine".utf8)))

        try storage.deleteAllCheckpoints()
        XCTAssertEqual(fileNames(base), ["README", "savepoint-1"])
        XCTAssertEqual(try CheckpointStorage.load(path: base + "/savepoint-1").kind, .savepoint)
        XCTAssertEqual(storage.listCheckpoints().map(\.path), [base + "/savepoint-1"])
        assertCheckpointError(.notFound) { try storage.latestCompleted() }
    }
}

/// Handles written by concurrent writers.
private final class LockedHandles: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var handles: [StateHandle]

    init(_ handles: [StateHandle]) { self.handles = handles }

    func set(_ index: Int, _ handle: StateHandle) { lock.withLock { handles[index] = handle } }
    var all: [StateHandle] { lock.withLock { handles } }
}
