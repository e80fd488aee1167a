/// Serializes the keyed state of one operator subtask into a checkpoint's state file, on the
/// checkpoint writer's thread.
///
/// A key group is written either in full (every key's entries) or, in an incremental
/// checkpoint, as a change blob (the keys changed since the previous checkpoint) appended to
/// the blobs that checkpoint referenced: a key group's state is a base plus a chain of
/// changes, read in order on restore (Flink's changelog idea, per key group). An unchanged key
/// group keeps its previous handles.
///
/// Compaction bounds the chain: a key group is written in full again when its changes would
/// be at least half its keys, when it already has `maxChanges` change blobs, or when its
/// change blobs outweigh its base. Before that, key groups a quarter of the way there are
/// compacted a few per checkpoint, the most indebted first: as many as keep pace with how
/// fast the chains grow (with 50% to spare), so that compactions spread evenly over
/// checkpoints instead of all falling due in the same one.
struct KeyGroupStateWriter {
    let checkpointId: Int64
    /// The most change blobs on top of one base.
    let maxChanges: Int

    /// Writes `capture` into `file` and returns the handles of every key group that holds
    /// state. `previous` is the operator's state in checkpoint `previousCheckpointId`, the
    /// newest completed one; change blobs are written on top of it only when the capture's
    /// changes start at or before it.
    func write(
        _ capture: any KeyedStateCapture, previous: OperatorStateMetadata?, previousCheckpointId: Int64?,
        to file: StateFileWriter
    ) throws -> [KeyGroupStateHandle] {
        var prior: [Int: KeyGroupStateHandle] = [:]
        if let since = capture.changesSince, let previous, let previousCheckpointId, previousCheckpointId >= since {
            for subtask in previous.subtasks {
                for group in subtask.keyGroups where capture.keyGroupRange.contains(group.keyGroup) {
                    prior[group.keyGroup] = group
                }
            }
        }
        let changed = prior.isEmpty ? [:] : capture.changedKeyCounts()
        let rewrite = compactions(capture, prior: prior, changed: changed)
        var handles: [KeyGroupStateHandle] = []
        for keyGroup in capture.keyGroupRange {
            if let earlier = prior[keyGroup], !rewrite.contains(keyGroup) {
                guard changed[keyGroup] != nil else {
                    handles.append(earlier)
                    continue
                }
                guard capture.holdsState(keyGroup: keyGroup) else { continue }
                var chained = earlier
                let change = try file.append { try capture.writeChanges(keyGroup: keyGroup, to: &$0) }
                chained.changes.append(KeyGroupChangeHandle(handle: change, writtenInCheckpoint: checkpointId))
                handles.append(chained)
                continue
            }
            guard capture.holdsState(keyGroup: keyGroup) else { continue }
            let full = try file.append { try capture.writeFull(keyGroup: keyGroup, to: &$0) }
            handles.append(KeyGroupStateHandle(keyGroup: keyGroup, handle: full, writtenInCheckpoint: checkpointId))
        }
        return handles
    }

    /// The changed key groups to write in full instead of chaining a change blob.
    func compactions(
        _ capture: any KeyedStateCapture, prior: [Int: KeyGroupStateHandle], changed: [Int: Int]
    ) -> Set<Int> {
        var rewrite = Set<Int>()
        var candidates: [(keyGroup: Int, debt: Double)] = []
        // Compactions needed per checkpoint for every chain to be rewritten before its limit.
        var pace = 0.0
        for (keyGroup, changedKeys) in changed {
            guard let earlier = prior[keyGroup] else { continue }
            let keys = Swift.max(capture.keyCount(keyGroup: keyGroup), 1)
            if changedKeys * 2 >= keys {
                rewrite.insert(keyGroup)
                continue
            }
            let baseBytes = Double(Swift.max(earlier.handle.length, 1))
            let changeBytes = Double(earlier.changes.reduce(0) { $0 + $1.handle.length })
                + baseBytes * Double(changedKeys) / Double(keys)
            let debt = Swift.max(Double(earlier.changes.count + 1) / Double(maxChanges), changeBytes / baseBytes)
            pace += debt / Double(earlier.changes.count + 1)
            if debt > 1 {
                rewrite.insert(keyGroup)
            } else if debt >= 0.25 {
                candidates.append((keyGroup, debt))
            }
        }
        let budget = Swift.max(1, Int((pace * 1.5).rounded(.up)))
        let chosen = candidates.sorted { ($0.debt, $1.keyGroup) > ($1.debt, $0.keyGroup) }.prefix(budget)
        rewrite.formUnion(chosen.map(\.keyGroup))
        return rewrite
    }
}
