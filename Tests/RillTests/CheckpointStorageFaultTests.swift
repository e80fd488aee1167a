import Foundation
import Rill
import XCTest

final class CheckpointStorageFaultTests: XCTestCase {
    /// Checkpoints 1 (full) and 2 (incremental on 1, key groups 0 and 5 changed).
    private func twoCheckpoints() throws -> (CheckpointStorage, CheckpointMetadata, CheckpointMetadata) {
        let storage = try CheckpointStorage(directory: try makeTemporaryDirectory())
        let first = try CheckpointFixture.write(storage, id: 1)
        let second = try CheckpointFixture.write(storage, id: 2, previous: first, changed: [0, 5])
        return (storage, first, second)
    }

    func testTruncatedStateFileIsReportedByPathAndLatestSkipsIt() throws {
        let (storage, first, second) = try twoCheckpoints()
        let file = storage.directory + "/chk-2/op-counter-sub-1.state"
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: file))
        try handle.truncate(atOffset: 10)
        try handle.close()

        let readError = assertCheckpointError(.truncated) {
            try storage.read(second.operators[0].subtasks[1].extra[0].handle)
        }
        XCTAssertEqual(readError?.path, file)
        XCTAssertTrue(readError?.message.contains(file) == true, readError?.message ?? "")

        let listing = storage.listCheckpoints()
        XCTAssertEqual(listing.map(\.isValid), [true, false])
        let needed = second.allHandles.filter { $0.relativePath == "chk-2/op-counter-sub-1.state" }
            .map(\.endOffset).max() ?? 0
        XCTAssertEqual(
            listing[1].problem, "references chk-2/op-counter-sub-1.state, which is cut off (10 of \(needed) bytes)")

        let latest = try storage.latestCompleted()
        XCTAssertEqual(latest.metadata, first)
        XCTAssertEqual(latest.path, storage.directory + "/chk-1")
        XCTAssertEqual(latest.skipped.map(\.path), [storage.directory + "/chk-2"])
        XCTAssertEqual(latest.skipped.first?.problem, listing[1].problem)

        let loadError = assertCheckpointError(.truncated) { try CheckpointStorage.load(path: storage.directory + "/chk-2") }
        XCTAssertEqual(loadError?.path, file)
    }

    func testFlippedByteIsCaughtByItsChecksum() throws {
        let (storage, first, second) = try twoCheckpoints()
        let file = storage.directory + "/chk-2/op-counter-sub-0.state"
        try flipByte(at: 3, in: file)  // inside key group 0's blob

        let error = assertCheckpointError(.corrupt) { try storage.read(second.operators[0].subtasks[0].keyGroups[0].handle) }
        XCTAssertEqual(error?.path, file)
        XCTAssertTrue(error?.message.contains("bytes 0..<35") == true, error?.message ?? "")
        // Other blobs of the same file still read.
        XCTAssertNoThrow(try storage.read(second.operators[0].subtasks[0].extra[0].handle))

        // Sizes alone cannot see it; checksums can, and "latest" falls back to checkpoint 1.
        XCTAssertEqual(try storage.latestCompleted().metadata, second)
        let verified = try storage.latestCompleted(verification: .checksums)
        XCTAssertEqual(verified.metadata, first)
        XCTAssertEqual(verified.skipped.map(\.checkpointId), [2])
        XCTAssertEqual(verified.skipped.first?.problem, "chk-2/op-counter-sub-0.state: checksum mismatch in bytes 0..<35")
        XCTAssertEqual(storage.listCheckpoints(verification: .checksums).map(\.isValid), [true, false])
    }

    func testCorruptOrCutOffMetadataIsSkipped() throws {
        let (storage, first, _) = try twoCheckpoints()
        let metadataPath = storage.directory + "/chk-2/_metadata"
        try flipByte(at: 20, in: metadataPath)
        XCTAssertEqual(storage.listCheckpoints().map(\.problem), [nil, "_metadata corrupt: checksum mismatch"])
        var latest = try storage.latestCompleted()
        XCTAssertEqual(latest.metadata, first)
        XCTAssertEqual(latest.skipped.map(\.problem), ["_metadata corrupt: checksum mismatch"])
        let error = assertCheckpointError(.corrupt) { try CheckpointStorage.load(path: storage.directory + "/chk-2") }
        XCTAssertEqual(error?.path, metadataPath)

        let bytes = try Data(contentsOf: URL(fileURLWithPath: metadataPath))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: metadataPath))
        latest = try storage.latestCompleted()
        XCTAssertEqual(latest.metadata, first)
        XCTAssertEqual(latest.skipped.map(\.problem), ["_metadata truncated (partial write)"])
        assertCheckpointError(.truncated) { try CheckpointStorage.load(path: metadataPath) }
    }

    func testDirectoryWithoutMetadataIsNotACheckpoint() throws {
        let (storage, _, second) = try twoCheckpoints()
        try CheckpointFixture.write(storage, id: 3, previous: second, changed: [1], commit: false)

        let listing = storage.listCheckpoints()
        XCTAssertEqual(listing.map(\.checkpointId), [1, 2, 3])
        XCTAssertEqual(listing[2].problem, "no _metadata (incomplete checkpoint)")
        XCTAssertNil(listing[2].metadata)
        XCTAssertGreaterThan(listing[2].bytesOnDisk, 0)

        let latest = try storage.latestCompleted()
        XCTAssertEqual(latest.metadata, second)
        XCTAssertEqual(latest.skipped.map(\.problem), ["no _metadata (incomplete checkpoint)"])
        let error = assertCheckpointError(.notFound) { try CheckpointStorage.load(path: storage.directory + "/chk-3") }
        XCTAssertEqual(error?.path, storage.directory + "/chk-3/_metadata")
        XCTAssertTrue(error?.message.contains("never completed") == true, error?.message ?? "")

        // A directory that is not named chk-N, or is a file, is not listed.
        try FileManager.default.createDirectory(atPath: storage.directory + "/chk-x", withIntermediateDirectories: false)
        XCTAssertTrue(FileManager.default.createFile(atPath: storage.directory + "/chk-9", contents: Data()))
        XCTAssertEqual(storage.listCheckpoints().map(\.checkpointId), [1, 2, 3])
    }

    func testNoRestorableCheckpointIsAnErrorNamingEach() throws {
        let (storage, _, _) = try twoCheckpoints()
        try FileManager.default.removeItem(atPath: storage.directory + "/chk-1/op-counter-sub-0.state")
        // Checkpoint 2 shares checkpoint 1's file: both are broken now.
        let error = assertCheckpointError(.notFound) { try storage.latestCompleted() }
        XCTAssertEqual(error?.path, storage.directory)
        let message = error?.message ?? ""
        XCTAssertTrue(message.contains("chk-2: references missing file chk-1/op-counter-sub-0.state"), message)
        XCTAssertTrue(message.contains("chk-1: references missing file chk-1/op-counter-sub-0.state"), message)
        assertCheckpointError(.notFound) { try CheckpointStorage.load(path: storage.directory + "/chk-2") }
        assertCheckpointError(.notFound) { try CheckpointStorage.load(path: storage.directory + "/chk-7") }
    }

    func testUnwritableLocationsFailWithThePath() throws {
        let base = try makeTemporaryDirectory()
        XCTAssertTrue(FileManager.default.createFile(atPath: base + "/file", contents: Data()))
        var error = assertCheckpointError(.io) { try CheckpointStorage(directory: base + "/file/checkpoints") }
        XCTAssertEqual(error?.path, base + "/file")
        error = assertCheckpointError(.io) { try CheckpointStorage(directory: base + "/file") }
        XCTAssertEqual(error?.path, base + "/file")
        assertCheckpointError(.notFound) { try CheckpointStorage(directory: base + "/missing", createIfMissing: false) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: base + "/missing"))

        // A file where checkpoint 4's directory should be.
        let storage = try CheckpointStorage(directory: base + "/checkpoints")
        XCTAssertTrue(FileManager.default.createFile(atPath: base + "/checkpoints/chk-4", contents: Data()))
        let writer = storage.stateFileWriter(checkpointId: 4, name: "a.state")
        _ = try writer.append([1, 2, 3])
        error = assertCheckpointError(.io) { try writer.finish() }
        XCTAssertEqual(error?.path, base + "/checkpoints/chk-4")
        assertCheckpointError(.io) { try writer.finish() }  // the writer is spent
    }

    func testDiskFullFailsTheCheckpointAndLeavesNothingHalfWritten() throws {
        let base = try makeTemporaryDirectory()
        let volume = base + "/small"
        try mountSmallTmpfs(at: volume, kibibytes: 64)
        let storage = try CheckpointStorage(directory: volume + "/checkpoints")
        let first = try CheckpointFixture.write(storage, id: 1)

        // 200 KB do not fit in 64 KB.
        let writer = storage.stateFileWriter(checkpointId: 2, name: "big.state")
        _ = try writer.append([UInt8](repeating: 1, count: 100_000))
        _ = try writer.append([UInt8](repeating: 2, count: 100_000))
        let error = assertCheckpointError(.io) { try writer.finish() }
        let message = error?.message ?? ""
        XCTAssertTrue(message.contains("no space left"), message)
        XCTAssertTrue(error?.path?.hasPrefix(volume + "/checkpoints/chk-2/.tmp-big.state") == true, "\(String(describing: error))")
        XCTAssertEqual(fileNames(volume + "/checkpoints/chk-2"), [], "neither the final nor the temporary file is left")

        // The job goes on: the failed checkpoint is discarded, the previous one still restores,
        // and a later checkpoint that fits succeeds.
        try storage.discard(checkpointId: 2)
        XCTAssertEqual(try storage.latestCompleted().metadata, first)
        let third = try CheckpointFixture.write(storage, id: 3, previous: first, changed: [2])
        XCTAssertEqual(try storage.latestCompleted().metadata, third)

        // Fill the disk, then commit: no _metadata appears, checkpoint 3 stays the latest.
        let fourth = try CheckpointFixture.write(storage, id: 4, previous: third, changed: [], commit: false)
        let pad = try fillRemainingSpace(in: volume)
        let commitError = assertCheckpointError(.io) { try storage.commit(fourth) }
        XCTAssertTrue(commitError?.path?.hasPrefix(volume + "/checkpoints/chk-4/.tmp-_metadata") == true, "\(String(describing: commitError))")
        XCTAssertEqual(fileNames(volume + "/checkpoints/chk-4"), CheckpointFixture.fileNames)
        XCTAssertEqual(try storage.latestCompleted().metadata, third)
        try FileManager.default.removeItem(atPath: pad)
        try storage.commit(fourth)
        XCTAssertEqual(try storage.latestCompleted().metadata, fourth)

        // A read-only volume is refused up front.
        try runCommand("/bin/mount", "-o", "remount,ro", volume)
        let readOnly = assertCheckpointError(.io) { try CheckpointStorage(directory: volume + "/checkpoints") }
        XCTAssertTrue(readOnly?.message.contains("not writable") == true, readOnly?.message ?? "")
    }

    // MARK: - Helpers

    private func flipByte(at offset: UInt64, in path: String) throws {
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        let byte = try XCTUnwrap(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: offset)
        handle.write(Data([byte ^ 0x10]))
    }

    /// Writes a file that takes the rest of the volume; returns its path.
    private func fillRemainingSpace(in volume: String) throws -> String {
        let path = volume + "/pad"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        let block = Data(repeating: 0, count: 4096)
        while (try? handle.write(contentsOf: block)) != nil {}
        return path
    }
}
