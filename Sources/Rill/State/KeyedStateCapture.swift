/// Keyed state of one operator subtask as it was at a checkpoint barrier.
///
/// Taken on the task thread without serializing anything (copy-on-write views of the state
/// columns, and the lists of keys changed since the last completed checkpoint); the
/// checkpoint writer serializes it on its own thread while the task goes on. Writes to the
/// state after the barrier never show in it.
///
/// The serializing methods are called from one thread at a time.
protocol KeyedStateCapture: AnyObject, Sendable {
    /// The key groups of the subtask.
    var keyGroupRange: KeyGroupRange { get }
    /// Name, kind and value type of each registered state.
    var stateDeclarations: [(name: String, kind: String, valueType: String)] { get }
    /// The completed checkpoint the change lists start from: ``writeChanges(keyGroup:to:)``
    /// applies on top of a key group's state in that checkpoint or any later one. `nil` when
    /// only full key groups can be written (first checkpoint of the task, full checkpoints,
    /// or change tracking was reset).
    var changesSince: Int64? { get }
    /// Whether `keyGroup` holds any state.
    func holdsState(keyGroup: Int) -> Bool
    /// The number of keys with state in `keyGroup`.
    func keyCount(keyGroup: Int) -> Int
    /// Per key group with changes since ``changesSince``: how many keys changed (written,
    /// cleared, expired or removed). Empty without ``changesSince``.
    func changedKeyCounts() -> [Int: Int]
    /// Every key's entries in `keyGroup`, in every state: a blob a restore starts from.
    func writeFull(keyGroup: Int, to writer: inout BinaryWriter) throws
    /// The entries of the keys of `keyGroup` changed since ``changesSince`` (a key without a
    /// value now is written as removed): a blob a restore applies after the key group's
    /// earlier blobs.
    func writeChanges(keyGroup: Int, to writer: inout BinaryWriter) throws
}

/// What changed in a backend since the last completed checkpoint it took part in: the
/// changelog that lets an incremental checkpoint write only the keys that changed (the idea of
/// Flink's changelog state backend, kept per key group).
///
/// Each snapshot closes an epoch (the slots written and the keys removed since the previous
/// snapshot). Epochs after the newest completed checkpoint are kept, so a snapshot lists every
/// key changed since that checkpoint even when checkpoints in between failed. Task thread only.
struct _KeyChanges<K> {
    struct Epoch {
        /// The snapshot that closed the epoch.
        let checkpointId: Int64
        let slots: [Int32]
        let removed: [(groupIndex: Int32, key: K)]
    }

    /// Keys that lost their last value in the current epoch, with their key group's index.
    private(set) var removed: [(groupIndex: Int32, key: K)] = []
    /// More keys were removed in this epoch than are worth remembering: the removals were
    /// dropped, and every key group counts as changed.
    private(set) var overflowed = false
    /// Closed epochs after ``base`` (or after ``trackedSince`` while there is no base).
    private(set) var epochs: [Epoch] = []
    /// Every change after this snapshot is in ``epochs`` (nil before the first snapshot and
    /// after ``forget(_:)``).
    private(set) var trackedSince: Int64?
    /// The newest completed checkpoint whose changes since are all in ``epochs``.
    private(set) var base: Int64?

    /// How many changes are worth logging: beyond that a full checkpoint is smaller anyway.
    static func limit(liveKeys: Int) -> Int { liveKeys + 1024 }

    /// Records that `key` lost its last value. Without checkpoints (or with few of them) the
    /// list would grow with every removal; past ``limit(liveKeys:)`` it is dropped and the next
    /// snapshot is full.
    mutating func recordRemoval(groupIndex: Int32, key: K, liveKeys: Int) {
        if overflowed { return }
        if removed.count >= Self.limit(liveKeys: liveKeys) {
            removed = []
            overflowed = true
            trackedSince = nil
            return
        }
        removed.append((groupIndex, key))
    }

    /// Closes the current epoch for snapshot `checkpointId`. Returns the epochs since the base
    /// for an incremental snapshot, or `nil` when it must be written in full. Starts over
    /// (the snapshot becomes the new starting point) when not `incremental`, before the first
    /// snapshot, after removals overflowed, and when the log holds more changes than there
    /// are keys (a full checkpoint is then smaller anyway).
    mutating func closeEpoch(
        checkpointId: Int64, context: _KeyContext, incremental: Bool, liveKeys: Int
    ) -> (since: Int64, epochs: [Epoch])? {
        let epoch = Epoch(checkpointId: checkpointId, slots: context.takeChangedSlots(), removed: removed)
        removed = []
        overflowed = false
        let logged = epochs.reduce(epoch.slots.count + epoch.removed.count) { $0 + $1.slots.count + $1.removed.count }
        guard incremental, trackedSince != nil, logged <= Self.limit(liveKeys: liveKeys) else {
            epochs = []
            trackedSince = checkpointId
            base = nil
            return nil
        }
        epochs.append(epoch)
        return base.map { ($0, epochs) }
    }

    /// Checkpoint `checkpointId` completed: it becomes the base, and its epochs are dropped.
    mutating func checkpointCompleted(_ checkpointId: Int64) {
        guard let trackedSince, checkpointId >= trackedSince else { return }
        epochs.removeAll { $0.checkpointId <= checkpointId }
        base = Swift.max(base ?? checkpointId, checkpointId)
    }

    /// Drops everything logged: the next snapshot starts over.
    mutating func forget(_ context: _KeyContext) {
        _ = context.takeChangedSlots()
        removed = []
        overflowed = false
        epochs = []
        trackedSince = nil
        base = nil
    }
}

/// The capture of a ``KeyedStateBackend``: frozen slot columns (keys, key-group lists, every
/// state's entries), the per-key-group heads and counts, restored state not yet claimed, and
/// the change epochs since ``changesSince``.
final class _KeyedStateCapture<K: StableHashable>: KeyedStateCapture, @unchecked Sendable {
    // Immutable after init except `changesByGroup`, which the one serializing thread computes;
    // frozen columns are never written by the backend (it copies a page before writing it).
    let keyGroupRange: KeyGroupRange
    let stateDeclarations: [(name: String, kind: String, valueType: String)]
    let changesSince: Int64?
    private let keys: _FrozenSlotColumn<K?>
    private let next: _FrozenSlotColumn<Int32>
    private let slotGroupIndex: _FrozenSlotColumn<Int32>
    private let groupHeads: [Int32]
    private let groupCounts: [Int]
    private let states: [_CapturedState<K>]
    /// Unclaimed restored sections per key group: (state name, section), in order.
    private let pending: [Int: [(name: String, blob: _PendingStateBlob)]]
    private let epochs: [_KeyChanges<K>.Epoch]
    private lazy var changesByGroup: [Int: (removed: [K], slots: [Int32])] = groupChanges()

    init(
        keyGroupRange: KeyGroupRange, stateDeclarations: [(name: String, kind: String, valueType: String)],
        keys: _FrozenSlotColumn<K?>, next: _FrozenSlotColumn<Int32>,
        slotGroupIndex: _FrozenSlotColumn<Int32>, groupHeads: [Int32], groupCounts: [Int],
        states: [_CapturedState<K>], pending: [String: [_PendingStateBlob]], changesSince: Int64?,
        epochs: [_KeyChanges<K>.Epoch]
    ) {
        self.keyGroupRange = keyGroupRange
        self.stateDeclarations = stateDeclarations
        self.keys = keys
        self.next = next
        self.slotGroupIndex = slotGroupIndex
        self.groupHeads = groupHeads
        self.groupCounts = groupCounts
        self.states = states
        var pendingByGroup: [Int: [(name: String, blob: _PendingStateBlob)]] = [:]
        for (name, blobs) in pending.sorted(by: { $0.key < $1.key }) {
            for blob in blobs { pendingByGroup[blob.keyGroup, default: []].append((name, blob)) }
        }
        self.pending = pendingByGroup
        self.changesSince = changesSince
        self.epochs = epochs
    }

    func holdsState(keyGroup: Int) -> Bool {
        keyCount(keyGroup: keyGroup) > 0 || pending[keyGroup] != nil
    }

    func keyCount(keyGroup: Int) -> Int {
        keyGroupRange.contains(keyGroup) ? groupCounts[keyGroup - keyGroupRange.start] : 0
    }

    func changedKeyCounts() -> [Int: Int] {
        changesByGroup.mapValues { $0.removed.count + $0.slots.count }
    }

    /// - Complexity: O(keys in the group × states).
    func writeFull(keyGroup: Int, to writer: inout BinaryWriter) throws {
        var items: [(key: K, slot: Int32)] = []
        if keyGroupRange.contains(keyGroup) {
            let index = keyGroup - keyGroupRange.start
            items.reserveCapacity(groupCounts[index])
            var slot = groupHeads[index]
            while slot != 0 {
                if let key = keys[slot] { items.append((key, slot)) }
                slot = next[slot]
            }
        }
        try writeBlob(items, pairs: true, pending: pending[keyGroup] ?? [], to: &writer)
    }

    /// Removed keys first (slot 0 reads as absent in every state), then the changed slots with
    /// the key they hold at the capture: a key removed and written again ends up present.
    ///
    /// - Complexity: O(changed keys in the group × states).
    func writeChanges(keyGroup: Int, to writer: inout BinaryWriter) throws {
        let changes = changesByGroup[keyGroup] ?? ([], [])
        var items = changes.removed.map { (key: $0, slot: Int32(0)) }
        items.reserveCapacity(items.count + changes.slots.count)
        for slot in changes.slots {
            if let key = keys[slot] { items.append((key, slot)) }
        }
        try writeBlob(items, pairs: false, pending: [], to: &writer)
    }

    private func writeBlob(
        _ items: [(key: K, slot: Int32)], pairs: Bool, pending: [(name: String, blob: _PendingStateBlob)],
        to writer: inout BinaryWriter
    ) throws {
        writer.writeByte(_KeyGroupBlobFormat.marker)
        writer.writeByte(_KeyGroupBlobFormat.version)
        writer.writeVarUInt(UInt64(states.count + pending.count))
        var section = BinaryWriter(capacity: 256)
        for state in states {
            writer.writeString(state.name)
            writer.writeString(state.valueType)
            writer.writeByte(pairs ? _KeyGroupBlobFormat.pairSection : _KeyGroupBlobFormat.itemSection)
            section.reset()
            try state.writeSection(items, pairs, &section)
            section.withUnsafeBytes { writer.writeBytes($0) }
        }
        for (name, blob) in pending {
            writer.writeString(name)
            writer.writeString(blob.valueType)
            writer.writeByte(blob.format)
            writer.writeBytes(blob.bytes)
        }
    }

    /// The changed slots (each once, holding a key at the capture) and removed keys of every
    /// key group.
    private func groupChanges() -> [Int: (removed: [K], slots: [Int32])] {
        var result: [Int: (removed: [K], slots: [Int32])] = [:]
        var seen = Set<Int32>()
        for epoch in epochs {
            for (groupIndex, key) in epoch.removed {
                result[Int(groupIndex) + keyGroupRange.start, default: ([], [])].removed.append(key)
            }
            for slot in epoch.slots where seen.insert(slot).inserted {
                // A slot freed since holds no key (its key is among the removed ones).
                guard keys[slot] != nil else { continue }
                let groupIndex = Int(slotGroupIndex[slot])
                result[groupIndex + keyGroupRange.start, default: ([], [])].slots.append(slot)
            }
        }
        return result
    }
}
