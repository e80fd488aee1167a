import Foundation
import Rill
import XCTest

final class CheckpointStorageRetentionTests: XCTestCase {
    func testRetentionKeepsFilesThatIncrementalCheckpointsReference() throws {
        let base = try makeTemporaryDirectory()
        let storage = try CheckpointStorage(directory: base)
        // chk-0: abandoned before chk-1 completed. chk-1: full. chk-2: key groups 0 and 4
        // changed. chk-3: key group 1 changed (everything else from chk-1 and chk-2).
        try CheckpointFixture.write(storage, id: 0, commit: false)
        let first = try CheckpointFixture.write(storage, id: 1)
        let second = try CheckpointFixture.write(storage, id: 2, previous: first, changed: [0, 4])
        let third = try CheckpointFixture.write(storage, id: 3, previous: second, changed: [1])
        // chk-4 is being written; a savepoint lives inside the checkpoint directory.
        let fourth = try CheckpointFixture.write(storage, id: 4, previous: third, changed: [2], commit: false)
        try storage.writeSavepoint(from: first, to: base + "/savepoint-a")
        let expected = try CheckpointFixture.keyGroupTexts(third) { try storage.read($0) }

        try storage.retain(latest: 1)

        XCTAssertEqual(fileNames(base), ["chk-1", "chk-2", "chk-3", "chk-4", "savepoint-a"])
        // chk-3 references both files of chk-1 (key groups 2, 3, 5, 6, 7) and of chk-2 (0, 4).
        XCTAssertEqual(fileNames(base + "/chk-1"), CheckpointFixture.fileNames, "_metadata is gone, shared files stay")
        XCTAssertEqual(fileNames(base + "/chk-2"), CheckpointFixture.fileNames)
        XCTAssertEqual(fileNames(base + "/chk-3"), ["_metadata"] + CheckpointFixture.fileNames)
        XCTAssertEqual(fileNames(base + "/chk-4"), CheckpointFixture.fileNames, "newer than the latest: untouched")
        XCTAssertEqual(try CheckpointFixture.keyGroupTexts(third) { try storage.read($0) }, expected)
        XCTAssertEqual(try storage.latestCompleted().metadata, third)
        let listing = storage.listCheckpoints()
        XCTAssertEqual(listing.map(\.checkpointId), [1, 1, 2, 3, 4])
        XCTAssertEqual(listing.map(\.path), ["chk-1", "savepoint-a", "chk-2", "chk-3", "chk-4"].map { base + "/" + $0 })
        XCTAssertEqual(listing[0].problem, "no _metadata (retired; keeps files that chk-3 reference)")
        XCTAssertEqual(listing[1].kind, .savepoint)
        XCTAssertTrue(listing[1].isValid)

        // chk-4 completes, referencing only a part of the older files.
        try storage.commit(fourth)
        try storage.retain(latest: 1)  // idempotent for the files chk-4 needs
        XCTAssertEqual(try CheckpointFixture.keyGroupTexts(fourth) { try storage.read($0) }.count, 8)
        XCTAssertEqual(fileNames(base + "/chk-3"), [CheckpointFixture.fileName(subtask: 0)], "key group 1 is still used")

        // A full checkpoint frees everything older.
        try CheckpointFixture.write(storage, id: 6)
        try storage.retain(latest: 1)
        XCTAssertEqual(fileNames(base), ["chk-6", "savepoint-a"])
        XCTAssertEqual(try CheckpointStorage.load(path: base + "/savepoint-a").kind, .savepoint)

        assertCheckpointError(.invalidArgument) { try storage.retain(latest: 0) }
    }

    func testRetentionKeepsTheNewestCountAndProtectsGivenFiles() throws {
        let base = try makeTemporaryDirectory()
        let storage = try CheckpointStorage(directory: base)
        for id in 1...5 { try CheckpointFixture.write(storage, id: Int64(id)) }
        // Checkpoint 4 is corrupt: it is not counted, and it is deleted as older than the newest.
        try FileManager.default.removeItem(atPath: base + "/chk-4/op-counter-sub-1.state")
        try storage.retain(latest: 2, keeping: ["chk-1/op-counter-sub-0.state"])
        XCTAssertEqual(fileNames(base), ["chk-1", "chk-3", "chk-5"])
        XCTAssertEqual(fileNames(base + "/chk-1"), ["op-counter-sub-0.state"])
        XCTAssertEqual(storage.listCheckpoints().filter(\.isValid).map(\.checkpointId), [3, 5])

        // Writers of checkpoints older than the newest completed one are stopped.
        let stale = storage.stateFileWriter(checkpointId: 2, name: "late.state")
        assertCheckpointError(.notFound) { try stale.finish() }
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/chk-2"))

        // A broken checkpoint newer than the newest restorable one stays for inspection.
        try CheckpointFixture.write(storage, id: 6)
        try FileManager.default.removeItem(atPath: base + "/chk-6/op-counter-sub-0.state")
        try storage.retain(latest: 1)
        XCTAssertEqual(fileNames(base), ["chk-5", "chk-6"])
        XCTAssertEqual(try storage.latestCompleted().skipped.map(\.checkpointId), [6])
    }

    func testSavepointIsSelfContained() throws {
        let root = try makeTemporaryDirectory()
        let storage = try CheckpointStorage(directory: root + "/checkpoints")
        let first = try CheckpointFixture.write(storage, id: 1)
        let second = try CheckpointFixture.write(storage, id: 2, previous: first, changed: [3, 6])
        let expected = try CheckpointFixture.keyGroupTexts(second) { try storage.read($0) }
        let extra = try storage.read(second.operators[0].subtasks[1].channelState[0].handle)

        let path = try storage.writeSavepoint(from: second, to: root + "/savepoints/sp-2/")
        XCTAssertEqual(path, root + "/savepoints/sp-2")
        XCTAssertEqual(fileNames(path), ["_metadata", "op-0-sub-0.state", "op-0-sub-1.state"])

        // Delete the job's checkpoints, then move the savepoint: it still restores.
        try FileManager.default.removeItem(atPath: root + "/checkpoints")
        try FileManager.default.moveItem(atPath: path, toPath: root + "/moved")
        let savepoint = try CheckpointStorage.load(path: root + "/moved", verification: .checksums)
        XCTAssertEqual(savepoint.kind, .savepoint)
        XCTAssertFalse(savepoint.isIncremental)
        XCTAssertEqual(savepoint.checkpointId, 2)
        XCTAssertEqual(savepoint.operators[0].keyedStateDescriptors, second.operators[0].keyedStateDescriptors)
        XCTAssertEqual(savepoint.referencedFiles, ["op-0-sub-0.state", "op-0-sub-1.state"])
        XCTAssertTrue(savepoint.operators[0].subtasks.allSatisfy { $0.keyGroups.allSatisfy { $0.writtenInCheckpoint == 2 } })
        let baseDirectory = CheckpointStorage.baseDirectory(forSnapshotAt: root + "/moved", kind: savepoint.kind)
        XCTAssertEqual(baseDirectory, root + "/moved")
        XCTAssertEqual(
            try CheckpointFixture.keyGroupTexts(savepoint) { try CheckpointStorage.read($0, baseDirectory: baseDirectory) },
            expected)
        XCTAssertEqual(
            try CheckpointStorage.read(savepoint.operators[0].subtasks[1].channelState[0].handle, baseDirectory: baseDirectory),
            extra)
        let restoreStorage = try CheckpointStorage(directory: baseDirectory, createIfMissing: false)
        XCTAssertEqual(try restoreStorage.read(savepoint.operators[0].subtasks[0].extra[0].handle), Array("splits of 0".utf8))
    }

    func testSavepointOfCorruptStateFailsAndLeavesNothing() throws {
        let root = try makeTemporaryDirectory()
        let storage = try CheckpointStorage(directory: root + "/checkpoints")
        let metadata = try CheckpointFixture.write(storage, id: 1)
        let file = root + "/checkpoints/chk-1/op-counter-sub-1.state"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count - 1] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: file))

        let error = assertCheckpointError(.corrupt) { try storage.writeSavepoint(from: metadata, to: root + "/sp") }
        XCTAssertEqual(error?.path, file)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/sp"), "a failed savepoint leaves no directory")
        try FileManager.default.createDirectory(atPath: root + "/empty", withIntermediateDirectories: false)
        assertCheckpointError(.corrupt) { try storage.writeSavepoint(from: metadata, to: root + "/empty") }
        XCTAssertEqual(fileNames(root + "/empty"), [], "a failed savepoint leaves no files")
    }
}
