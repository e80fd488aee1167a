import Foundation
import XCTest
@testable import Rill
import RillTesting

/// Takes checkpoints of one backend the way the runtime does, without a job: the capture on
/// the "task" side, serialization by `KeyGroupStateWriter` into real checkpoint storage
/// whenever the test says so, commit, retention, and the completion notice.
final class BackendCheckpointer {
    let storage: CheckpointStorage
    let maxChanges: Int
    private(set) var latest: CheckpointMetadata?
    let maxParallelism = 128

    init(directory: String, maxChanges: Int = 32) throws {
        storage = try CheckpointStorage(directory: directory)
        self.maxChanges = maxChanges
    }

    /// Serializes `capture` as checkpoint `checkpointId`, commits it, keeps only the newest
    /// checkpoint (its referenced files stay) and tells the backend it completed.
    @discardableResult
    func complete<K>(_ capture: _KeyedStateCapture<K>, checkpointId: Int64, backend: KeyedStateBackend<K>) throws -> CheckpointMetadata {
        let file = storage.stateFileWriter(checkpointId: checkpointId, name: "op-0-sub-0")
        let previous = latest?.operators.first
        let keyGroups = try KeyGroupStateWriter(checkpointId: checkpointId, maxChanges: maxChanges)
            .write(capture, previous: previous, previousCheckpointId: latest?.checkpointId, to: file)
        try file.finish()
        let descriptors = capture.stateDeclarations.map {
            StateDescriptorMetadata(name: $0.name, kind: $0.kind, valueTypeDescription: $0.valueType)
        }
        let operatorState = OperatorStateMetadata(
            operatorId: "op", operatorName: "op", parallelism: 1, maxParallelism: maxParallelism,
            keyedStateDescriptors: descriptors,
            subtasks: [SubtaskStateMetadata(subtaskIndex: 0, keyGroupRange: capture.keyGroupRange, keyGroups: keyGroups)])
        let metadata = CheckpointMetadata(
            checkpointId: checkpointId, jobName: "test", timestampMillis: checkpointId,
            isIncremental: operatorState.referencesEarlierKeyGroups(than: checkpointId), operators: [operatorState])
        try storage.commit(metadata)
        try storage.retain(latest: 1)
        latest = metadata
        backend.checkpointCompleted(checkpointId)
        return metadata
    }

    /// The key-group blobs of `metadata` that `range` owns, read back from disk as a restore
    /// reads them (base, then changes).
    func blobs(_ metadata: CheckpointMetadata, range: KeyGroupRange) throws -> [(keyGroup: Int, bytes: [UInt8])] {
        var blobs: [(keyGroup: Int, bytes: [UInt8])] = []
        for group in metadata.operators[0].subtasks[0].keyGroups where range.contains(group.keyGroup) {
            for handle in group.allHandles { blobs.append((group.keyGroup, try storage.read(handle))) }
        }
        return blobs
    }
}

/// A backend with one state of each kind, and its contents as plain values to compare.
struct TestStates {
    let backend: KeyedStateBackend<Int64>
    let clock: ManualClock
    let sum: ValueState<Int64>
    let seen: ValueState<String>
    let list: ListState<String>
    let map: MapState<String, Int64>
    let windows: NamespacedValueState<Int, Int64>

    init(range: KeyGroupRange = .all(maxParallelism: 128), clock: ManualClock = ManualClock(startMillis: 0),
         restoring blobs: [(keyGroup: Int, bytes: [UInt8])] = []) throws {
        self.clock = clock
        backend = try makeStateBackend(Int64.self, clock: clock, range: range)
        try backend.restoreKeyGroups(blobs)
        sum = try backend.getState(ValueStateDescriptor<Int64>(name: "sum"))
        seen = try backend.getState(ValueStateDescriptor<String>(name: "seen", ttl: StateTTLConfig(ttl: .seconds(10))))
        list = try backend.getListState(ListStateDescriptor<String>(name: "list"))
        map = try backend.getMapState(MapStateDescriptor<String, Int64>(name: "map"))
        windows = try backend.getNamespacedState(ValueStateDescriptor<Int64>(name: "windows"), namespace: Int.self)
    }

    /// Every key's entries in every state, rendered (TTL timestamps included).
    var contents: [Int64: String] {
        var result: [Int64: String] = [:]
        for keyGroup in backend.keyGroupRange {
            for (key, slot) in backend.slots(inKeyGroup: keyGroup) {
                let map = self.map.snapshotEntry(at: slot).map { $0.sorted { $0.key < $1.key } }
                result[key] = "sum=\(String(describing: sum.snapshotEntry(at: slot))) "
                    + "seen=\(String(describing: seen.snapshotEntry(at: slot))) "
                    + "list=\(String(describing: list.snapshotEntry(at: slot))) map=\(String(describing: map)) "
                    + "windows=\(String(describing: windows.snapshotEntry(at: slot)?.sorted { $0.key < $1.key }))"
            }
        }
        return result
    }

    /// Clears every state of the current key: it leaves the backend.
    func removeCurrentKey() {
        sum.clear()
        seen.clear()
        list.clear()
        map.clear()
        windows.setCurrentNamespace(Int(backend.currentKey! % 3))
        windows.clear()
    }

    /// Writes every state of `key`.
    func fill(_ key: Int64) {
        backend.setCurrentKey(key)
        sum.update(key)
        seen.update("k\(key)")
        list.addAll(["a\(key)", "b\(key)"])
        map.put("x", key)
        map.put("y", -key)
        windows.setCurrentNamespace(Int(key % 3))
        windows.update(key * 2)
    }
}

final class IncrementalCheckpointTests: XCTestCase {
    /// The barrier's state is what gets written, even though serialization runs after the
    /// task changed, cleared, expired and added keys (and grew every column past new pages).
    func testStateWrittenAfterTheBarrierDoesNotLeakIntoTheCheckpoint() throws {
        let states = try TestStates()
        for key in Int64(0)..<3_000 { states.fill(key) }
        let atBarrier = states.contents
        let capture = try states.backend.capture(checkpointId: 1, incremental: false)

        // After the barrier: every kind of write, before anything is serialized.
        for key in Int64(0)..<3_000 {
            states.backend.setCurrentKey(key)
            switch key % 5 {
            case 0: states.sum.update(-1)
            case 1: states.list.add("late")
            case 2: states.map.remove("x")
            case 3: states.removeCurrentKey()
            default:
                states.windows.setCurrentNamespace(7)
                states.windows.update(7)
            }
        }
        for key in Int64(3_000)..<8_000 { states.fill(key) }
        states.clock.advance(by: .seconds(11))
        states.backend.cleanupExpired()
        XCTAssertNotEqual(states.contents, atBarrier, "the task changed its state after the barrier")

        let checkpointer = try BackendCheckpointer(directory: try makeTemporaryDirectory())
        let metadata = try checkpointer.complete(capture, checkpointId: 1, backend: states.backend)
        let restored = try TestStates(restoring: try checkpointer.blobs(metadata, range: .all(maxParallelism: 128)))
        XCTAssertEqual(restored.contents.count, 3_000)
        XCTAssertEqual(restored.contents, atBarrier)
    }

    /// A capture shares the column pages; a write afterwards copies only the page it touches,
    /// and a page no snapshot holds any more is written in place.
    func testACaptureCopiesOnlyThePagesWrittenAfterIt() {
        var column = _SlotColumn<Int64>(capacity: 16, repeating: 0)
        defer { column.destroy() }
        column.grow(to: 4 * _SlotColumn<Int64>.pageSize, repeating: 0)
        XCTAssertEqual(column.pageCount, 4)
        func pageIdentities() -> [ObjectIdentifier] { (0..<column.pageCount).map { ObjectIdentifier(column.pages[$0]) } }
        column[unchecked: 5] = 50
        var frozen: _FrozenSlotColumn<Int64>? = column.freeze()
        let before = pageIdentities()

        column[unchecked: 5] = 51
        column[unchecked: 6] = 61
        let after = pageIdentities()
        XCTAssertNotEqual(after[0], before[0], "the written page was copied")
        XCTAssertEqual(Array(after[1...]), Array(before[1...]), "no other page was copied")
        XCTAssertEqual(frozen?[5], 50)
        XCTAssertEqual(column[unchecked: 5], 51)
        XCTAssertEqual(column[unchecked: 6], 61)

        // Growing while frozen keeps the view; the snapshot gone, writes go in place.
        column.grow(to: 8 * _SlotColumn<Int64>.pageSize, repeating: 0)
        XCTAssertEqual(frozen?[5], 50)
        frozen = nil
        column[unchecked: Int32(_SlotColumn<Int64>.pageSize + 1)] = 7
        XCTAssertEqual(pageIdentities()[1], before[1], "a page no snapshot holds is not copied")
    }

    /// Incremental checkpoints of a job whose changes touch 1% of the keys write a small part
    /// of the full size (change blobs of five states, so the 10% target of a one-state job is
    /// not the bound here), and restoring any of them, from the chain of blobs on disk after
    /// retention, gives exactly the state at its barrier — across value, TTL, list, map and
    /// namespaced state, updates, clears, TTL expiry, new keys and a failed checkpoint.
    func testIncrementalCheckpointsWriteTheChangedKeysAndRestoreExactly() throws {
        let states = try TestStates()
        let checkpointer = try BackendCheckpointer(directory: try makeTemporaryDirectory())
        for key in Int64(0)..<10_000 { states.fill(key) }
        let first = try checkpointer.complete(
            try states.backend.capture(checkpointId: 1, incremental: true), checkpointId: 1, backend: states.backend)
        XCTAssertFalse(first.isIncremental, "the first checkpoint has nothing to build on")
        let fullSize = first.stateBytes

        var generator = SeededGenerator(seed: 7)
        for round in Int64(2)...14 {
            for _ in 0..<100 {
                let key = Int64.random(in: 0..<10_000, using: &generator)
                states.backend.setCurrentKey(key)
                switch Int.random(in: 0..<6, using: &generator) {
                case 0: states.sum.update(round * 1_000_000 + key)
                case 1: states.list.add("r\(round)")
                case 2: states.map.remove("x")
                case 3: states.map.put("z\(round)", round)
                case 4: states.removeCurrentKey()
                default:
                    states.windows.setCurrentNamespace(Int(key % 3))
                    states.windows.clear()  // a window purged
                }
            }
            states.fill(10_000 + round)  // a new key
            if round == 9 {
                // TTL expiry: keys whose "seen" was not written for 10 s lose it.
                states.clock.advance(by: .seconds(11))
                for key in Int64(0)..<50 {
                    states.backend.setCurrentKey(key)
                    states.seen.update("fresh")
                }
                states.backend.cleanupExpired()
            }
            let atBarrier = states.contents
            let capture = try states.backend.capture(checkpointId: round, incremental: true)
            if round == 6 { continue }  // this checkpoint fails: its changes must reach the next one
            let metadata = try checkpointer.complete(capture, checkpointId: round, backend: states.backend)

            let restored = try TestStates(restoring: try checkpointer.blobs(metadata, range: .all(maxParallelism: 128)))
            XCTAssertEqual(restored.contents, atBarrier, "round \(round)")
            let chains = metadata.operators[0].subtasks[0].keyGroups.map(\.changes.count)
            if round == 9 {
                // Every key's TTL timestamp changed: every key group is written in full again.
                XCTAssertFalse(metadata.isIncremental)
                XCTAssertEqual(chains.max(), 0)
                continue
            }
            XCTAssertTrue(metadata.isIncremental, "round \(round)")
            // 1% of the keys change: change blobs, plus a few key groups compacted per checkpoint.
            XCTAssertLessThan(metadata.writtenBytes * 5, fullSize, "round \(round): at most 20% of the full size")
            let base: Int64 = round < 9 ? 1 : 9
            XCTAssertEqual(chains.max(), Int(round - base) - (round < 9 && round > 6 ? 1 : 0),
                           "round \(round): one change blob per checkpoint since the base (none for the failed one)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: checkpointer.storage.directory + "/chk-\(base)/op-0-sub-0"),
                          "round \(round): retention keeps the base files the chains build on")
        }
    }

    /// With a short chain limit, key groups are rewritten in full (compaction) and chains stay
    /// bounded; a restore at other parallelisms (1 → 3 → 2) gives every key exactly once.
    func testCompactionBoundsChainsAndRescaledRestoresAreExact() throws {
        let states = try TestStates()
        let checkpointer = try BackendCheckpointer(directory: try makeTemporaryDirectory(), maxChanges: 2)
        for key in Int64(0)..<2_000 { states.fill(key) }
        var generator = SeededGenerator(seed: 11)
        var atBarrier: [Int64: String] = [:]
        var written: [Int64] = []
        for round in Int64(1)...10 {
            for _ in 0..<40 {
                let key = Int64.random(in: 0..<2_000, using: &generator)
                states.backend.setCurrentKey(key)
                if round % 3 == 0 { states.sum.clear() } else { states.sum.update(round) }
            }
            atBarrier = states.contents
            let metadata = try checkpointer.complete(
                try states.backend.capture(checkpointId: round, incremental: true), checkpointId: round,
                backend: states.backend)
            written.append(metadata.writtenBytes)
            XCTAssertLessThanOrEqual(metadata.operators[0].subtasks[0].keyGroups.map(\.changes.count).max() ?? 0, 2)
        }
        XCTAssertLessThan(written.last! * 2, written.first!, "later checkpoints still write less than the full one")
        let metadata = checkpointer.latest!
        for parallelism in [3, 2] {
            var union: [Int64: String] = [:]
            for index in 0..<parallelism {
                let range = try KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex(
                    maxParallelism: 128, parallelism: parallelism, operatorIndex: index)
                let restored = try TestStates(range: range, restoring: try checkpointer.blobs(metadata, range: range))
                for (key, value) in restored.contents {
                    XCTAssertNil(union.updateValue(value, forKey: key), "key \(key) restored twice")
                }
            }
            XCTAssertEqual(union, atBarrier, "parallelism \(parallelism)")
        }
    }

    /// A backend that has not seen a completed checkpoint, and a full (non-incremental) mode,
    /// always capture for a full write.
    func testChangesStartFromTheLastCompletedCheckpointOnly() throws {
        let states = try TestStates()
        states.fill(1)
        XCTAssertNil(try states.backend.capture(checkpointId: 1, incremental: true).changesSince)
        states.fill(2)
        XCTAssertNil(try states.backend.capture(checkpointId: 2, incremental: true).changesSince,
                     "checkpoint 1 has not completed yet")
        states.backend.checkpointCompleted(1)
        states.fill(3)
        let third = try states.backend.capture(checkpointId: 3, incremental: true)
        XCTAssertEqual(third.changesSince, 1)
        XCTAssertEqual(third.changedKeyCounts().values.reduce(0, +), 2, "keys 2 and 3 changed since checkpoint 1")
        states.backend.checkpointCompleted(3)
        states.fill(4)
        XCTAssertNil(try states.backend.capture(checkpointId: 4, incremental: false).changesSince)
        states.backend.checkpointCompleted(4)
        states.fill(5)
        let fifth = try states.backend.capture(checkpointId: 5, incremental: true)
        XCTAssertEqual(fifth.changesSince, 4)
        XCTAssertEqual(fifth.changedKeyCounts().values.reduce(0, +), 1)
    }

    /// Per key of ``hotKeyJob``, its running sums without failures.
    static func hotKeySums(records: Int64) -> [Int64: [Int64]] {
        var sums: [Int64: Int64] = [:]
        var expected: [Int64: [Int64]] = [:]
        for value in 0..<records {
            let key = value < 2_000 ? value % 1_000 : value % 10
            sums[key, default: 0] += value
            expected[key, default: []].append(sums[key]!)
        }
        return expected
    }

    /// Running sums per key of `0..<records` (paced), where the first 2,000 records touch 1,000
    /// keys and the rest 10 hot keys; incremental checkpoints with short chains.
    static func hotKeyJob(
        records: Int64, directory: String, restore: RestoreSettings, results: TransactionalResults<KeySum>,
        injector: FailureInjector? = nil, recordsPerSecond: Double? = 50_000
    ) -> StreamEnvironment {
        let env = StreamEnvironment()
        env.configuration.parallelism = 2
        env.configuration.checkpoints.directory = directory
        env.configuration.checkpoints.interval = .milliseconds(2)
        env.configuration.checkpoints.incremental = true
        env.configuration.checkpoints.maxIncrementalChanges = 3
        env.configuration.checkpoints.retainedCheckpoints = 1_000
        env.configuration.checkpoints.tolerableFailedCheckpoints = Int.max
        env.configuration.restartStrategy = .fixedDelay(attempts: 4, delay: .zero)
        env.configuration.restore = restore
        env.configuration.batchSize = 64
        // Paced, so that many checkpoints happen while it runs.
        env.fromGenerator(count: records, recordsPerSecond: recordsPerSecond) { $0 }.setParallelism(1).uid("numbers")
            .map { value -> Int64 in
                try injector?.check(value)
                return value
            }.setParallelism(1).uid("map")
            .keyBy { $0 < 2_000 ? $0 % 1_000 : $0 % 10 }
            .process(RunningSum()).uid("running-sum")
            .sinkTo(TransactionalCollectSink(results)).uid("sink")
        return env
    }

    /// With incremental checkpoints on, restarts after injected failures keep the committed
    /// output exactly the failure-free one.
    func testExactlyOnceAcrossFailuresWithIncrementalCheckpoints() throws {
        let records: Int64 = 20_000
        let results = TransactionalResults<KeySum>()
        let env = Self.hotKeyJob(records: records, directory: temporaryDirectory("incremental-eo"), restore: .none,
                                 results: results, injector: FailureInjector([4_000, 9_000, 15_000]))
        let client = try env.executeAsync("incremental exactly-once")
        _ = try client.waitForResult()
        XCTAssertEqual(client.restarts, 3)
        XCTAssertEqual(results.committed.count, Int(records), "nothing lost, nothing duplicated")
        XCTAssertEqual(Dictionary(grouping: results.committed, by: \.key).mapValues { $0.map(\.sum) },
                       Self.hotKeySums(records: records))
    }

    /// A job restored from a checkpoint whose key groups carry change blobs continues from
    /// exactly the state of that checkpoint: every later running sum is the failure-free one.
    func testAJobRestoresFromAChainOfChangeBlobs() async throws {
        // Long enough for checkpoints that build on one taken after the first pass over the
        // keys (the writer may lag several checkpoints behind the barriers).
        let records: Int64 = 200_000
        let directory = temporaryDirectory("incremental-chain")
        let storage = try CheckpointStorage(directory: directory)
        let results = TransactionalResults<KeySum>()
        let env = Self.hotKeyJob(records: records, directory: directory, restore: .none, results: results)
        let client = try env.executeAsync("chains")
        var chained: String?
        try waitUntil("a checkpoint with change blobs") {
            chained = storage.listCheckpoints().first { listing in
                listing.metadata?.operators.contains { $0.subtasks.contains { $0.keyGroups.contains { !$0.changes.isEmpty } } } == true
            }?.path
            return chained != nil || client.status == .finished
        }
        client.cancel()
        _ = try? await client.result()
        let path = try XCTUnwrap(chained, "the job took a checkpoint with change blobs before it ended")

        // The same directory (a restore from another one would make later restarts resolve its
        // files here) and the same results (the sink commits what the checkpoint pre-committed).
        let before = results.committed.count
        let resumed = Self.hotKeyJob(records: records, directory: directory, restore: .path(path), results: results,
                                     recordsPerSecond: nil)
        _ = try resumed.executeAsync("resumed").waitForResult()
        let committed = Array(results.committed[before...])
        let expected = Self.hotKeySums(records: records)
        XCTAssertFalse(committed.isEmpty)
        for (key, sums) in Dictionary(grouping: committed, by: \.key).mapValues({ $0.map(\.sum) }) {
            // The restored sum of the key plus every later value: a run of the expected sums
            // that ends with the last one.
            let all = expected[key] ?? []
            let start = try XCTUnwrap(all.firstIndex(of: sums[0]), "key \(key): \(sums[0]) is not a correct running sum")
            XCTAssertEqual(sums, Array(all[start...]), "key \(key)")
        }
    }

    /// Without checkpoints, removed keys are not remembered without bound: past the limit the
    /// log is dropped, every key group counts as changed, and the next checkpoint is full.
    func testRemovalsWithoutCheckpointsStayBounded() throws {
        let states = try TestStates()
        _ = try states.backend.capture(checkpointId: 1, incremental: true)
        states.backend.checkpointCompleted(1)
        for key in Int64(0)..<5_000 {
            states.fill(key)
            states.removeCurrentKey()
        }
        XCTAssertEqual(states.backend.liveKeyCount, 0)
        XCTAssertLessThanOrEqual(states.backend.changes.removed.count, 1_024)
        XCTAssertEqual(states.backend.dirtyKeyGroups, Array(0..<128), "every key group counts as changed")
        states.fill(1)
        XCTAssertNil(try states.backend.capture(checkpointId: 2, incremental: true).changesSince,
                     "what changed is no longer known: the checkpoint is full")
        XCTAssertEqual(states.backend.dirtyKeyGroups, [])
    }

    /// Checkpoints and key-group blobs written before change blobs existed (metadata format 1,
    /// blobs of (key, entry) pairs) still restore.
    func testFormatOneMetadataAndKeyGroupBlobsStillRestore() throws {
        let handle = StateHandle(relativePath: "chk-3/op-0-sub-0", offset: 4, length: 9, crc32c: 0xABCD)
        var writer = BinaryWriter()
        writer.writeVarUInt(1)                 // format version
        writer.writeVarInt(3)                  // checkpoint id
        CheckpointKind.checkpoint.encode(to: &writer)
        writer.writeString("old job")
        writer.writeVarInt(1_000)
        writer.writeBool(true)
        writer.writeVarUInt(1)                 // one operator
        writer.writeString("op")
        writer.writeString("Op")
        writer.write(1)
        writer.write(128)
        writer.write([StateDescriptorMetadata(name: "sum", kind: "value", valueTypeDescription: "TTLValue<Int64>")])
        writer.writeVarUInt(1)                 // one subtask
        writer.write(0)
        writer.write(0)
        writer.write(127)
        writer.writeVarUInt(1)                 // one key group, without changes
        writer.write(5)
        handle.encode(to: &writer)
        writer.writeVarInt(2)
        writer.write([NamedStateHandle]())
        writer.write([ChannelStateHandle]())
        writer.write([NamedStateHandle]())
        var reader = BinaryReader(writer.bytes)
        let metadata = try reader.read(CheckpointMetadata.self)
        try reader.expectEnd()
        XCTAssertEqual(metadata.formatVersion, 1)
        XCTAssertEqual(metadata.operators[0].subtasks[0].keyGroups,
                       [KeyGroupStateHandle(keyGroup: 5, handle: handle, writtenInCheckpoint: 2)])

        // A format-1 key-group blob: state count, then name, value type, (key, entry) pairs.
        let key: Int64 = 42
        let keyGroup = KeyGroupRangeAssignment.assignToKeyGroup(key, maxParallelism: 128)
        var section = BinaryWriter()
        section.writeVarUInt(1)
        key.encode(to: &section)
        TTLValue<Int64>(value: 7).encode(to: &section)
        var blob = BinaryWriter()
        blob.writeVarUInt(1)
        blob.writeString("sum")
        blob.writeString(StateCodec<TTLValue<Int64>>.discovered()!.typeDescription)
        blob.writeBytes(section.bytes)
        let restored = try TestStates(restoring: [(keyGroup, blob.bytes)])
        restored.backend.setCurrentKey(key)
        XCTAssertEqual(restored.sum.value(), 7)
    }
}
