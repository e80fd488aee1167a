import Foundation
import Rill
import XCTest

/// Runs the built `rill` binary (next to the test bundle) on checkpoints the storage wrote.
final class CheckpointStorageCLITests: XCTestCase {
    private func rill(_ arguments: String...) throws -> (status: Int32, output: String) {
        // The test bundle is `<build>/debug/RillPackageTests.xctest`; on Linux `bundleURL` is
        // the directory that holds it.
        let bundle = Bundle(for: Self.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("rill") }
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("no rill binary next to \(bundle.path); build all products to run this test")
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testShowDescribesChangeBlobs() throws {
        let base = try makeTemporaryDirectory()
        let storage = try CheckpointStorage(directory: base)
        let first = try CheckpointFixture.write(storage, id: 1)
        let second = try CheckpointFixture.write(storage, id: 2, previous: first, appended: [0, 1, 5])
        try CheckpointFixture.write(storage, id: 3, previous: second, changed: [1], appended: [0])
        try storage.retain(latest: 1)

        let show = try rill("checkpoints", "show", base + "/chk-3")
        XCTAssertEqual(show.status, 0, show.output)
        for expected in [
            "checkpoint 3 of job \"fixture\" (incremental)",
            "status:  valid",
            "3 change blobs",
            "subtask 0: key groups 0...3, 4 with state",
            "3 key groups from checkpoint 1, 1 with changes on their base (2 change blobs from checkpoints 2, 3)",
            "4 key groups from checkpoint 1, 1 with changes on their base (1 change blob from checkpoint 2)",
            "chk-1/op-counter-sub-0.state",
            "chk-2/op-counter-sub-0.state",
            "chk-2/op-counter-sub-1.state",
        ] {
            XCTAssertTrue(show.output.contains(expected), "missing '\(expected)' in:\n\(show.output)")
        }
        let list = try rill("checkpoints", "list", base)
        XCTAssertTrue(list.output.contains("retired; keeps files that chk-3 reference"), list.output)
    }

    func testListAndShow() throws {
        let base = try makeTemporaryDirectory()
        let storage = try CheckpointStorage(directory: base)
        let first = try CheckpointFixture.write(storage, id: 1)
        let second = try CheckpointFixture.write(storage, id: 2, previous: first, changed: [0, 5])
        try CheckpointFixture.write(storage, id: 3, previous: second, changed: [1], commit: false)
        try storage.writeSavepoint(from: second, to: base + "/savepoint-x")

        let list = try rill("checkpoints", "list", base)
        XCTAssertEqual(list.status, 0, list.output)
        let lines = list.output.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("ID  KIND") == true, list.output)
        let chk2 = try XCTUnwrap(lines.first { $0.contains("chk-2") }, list.output)
        XCTAssertTrue(chk2.hasPrefix("2 "), chk2)
        XCTAssertTrue(chk2.contains("checkpoint"), chk2)
        XCTAssertTrue(chk2.contains("2023-11-14 22:13:22.000"), chk2)
        XCTAssertTrue(chk2.contains("incremental"), chk2)
        XCTAssertTrue(chk2.hasSuffix("valid"), chk2)
        let chk3 = try XCTUnwrap(lines.first { $0.contains("chk-3") }, list.output)
        XCTAssertTrue(chk3.hasSuffix("INVALID: no _metadata (incomplete checkpoint)"), chk3)
        XCTAssertTrue(lines.contains { $0.contains("savepoint-x") && $0.contains("savepoint") && $0.contains("full") })
        XCTAssertTrue(list.output.contains("4 entries, 3 valid"), list.output)

        let show = try rill("checkpoints", "show", base + "/chk-2")
        XCTAssertEqual(show.status, 0, show.output)
        for expected in [
            "checkpoint 2 of job \"fixture\" (incremental)",
            "status:  valid",
            "operator counter \"Count views\": parallelism 2, max parallelism 8",
            "views  value  Int64",
            "subtask 0: key groups 0...3, 4 with state",
            "3 key groups from checkpoint 1",
            "offsets (union)",
            "channel state",
            "source-splits",
            "(6 key groups) referenced from earlier checkpoints",
            "chk-1/op-counter-sub-0.state",
            "chk-2/op-counter-sub-1.state",
        ] {
            XCTAssertTrue(show.output.contains(expected), "missing '\(expected)' in:\n\(show.output)")
        }

        try FileManager.default.removeItem(atPath: base + "/chk-1/op-counter-sub-1.state")
        let broken = try rill("checkpoints", "show", base + "/chk-2")
        XCTAssertEqual(broken.status, 1, broken.output)
        XCTAssertTrue(broken.output.contains("status:  INVALID"), broken.output)
        XCTAssertTrue(broken.output.contains("MISSING"), broken.output)

        let missing = try rill("checkpoints", "show", base + "/chk-3")
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("never completed"), missing.output)
    }
}
