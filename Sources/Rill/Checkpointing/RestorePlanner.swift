/// Turns checkpoint metadata into what each operator subtask of a job restores, for any new
/// parallelism: keyed state by key group, operator list state split round-robin (union state
/// to all, broadcast state from one copy), timers and other extras filtered by their owner.
struct RestorePlanner {
    let metadata: CheckpointMetadata
    /// The directory the metadata's handles are relative to.
    let baseDirectory: String
    let plan: ExecutionPlan
    let allowNonRestoredState: Bool

    /// Checks that the checkpoint fits the job; errors name the operator and what to change.
    func validate() throws {
        var ids: [String: StreamNode] = [:]
        for node in plan.graph.nodes { ids[CheckpointCoordinator.operatorId(node)] = node }
        for op in metadata.operators {
            guard let node = ids[op.operatorId] else {
                if allowNonRestoredState { continue }
                throw RillError(.stateError,
                                "the checkpoint holds state of operator '\(op.operatorName)' (id \(op.operatorId)) that this job does not have; give that operator back its uid, or restore with allowNonRestoredState to drop its state")
            }
            let maxParallelism = plan.maxParallelism[node.id]
            if !op.keyedStateDescriptors.isEmpty && op.maxParallelism != maxParallelism {
                throw RillError(.stateError,
                                "operator '\(op.operatorName)' was checkpointed with max parallelism \(op.maxParallelism) but the job now has \(maxParallelism); the number of key groups cannot change — set the max parallelism back to \(op.maxParallelism)")
            }
        }
    }

    /// The restore state of one operator subtask, or `nil` if the checkpoint has none for it.
    func restoreState(node: StreamNode, subtask: Int, keyGroupRange: KeyGroupRange) throws -> OperatorRestoreState? {
        guard let op = metadata.operatorState(withId: CheckpointCoordinator.operatorId(node)) else { return nil }
        let state = OperatorRestoreState(checkpointId: metadata.checkpointId)
        let parallelism = plan.parallelism[node.id]
        state.keyedStateDescriptors = op.keyedStateDescriptors.map { ($0.name, $0.kind, $0.valueTypeDescription) }
        for former in op.subtasks {
            for group in former.keyGroups where keyGroupRange.contains(group.keyGroup) {
                // The base, then its changes in the order they were written.
                for handle in group.allHandles { state.keyGroups.append((group.keyGroup, try read(handle))) }
            }
        }
        // Operator list state: gather every former subtask's elements, then redistribute.
        var byName: [String: (distribution: String, perSubtask: [[[UInt8]]], own: [[UInt8]])] = [:]
        for former in op.subtasks.sorted(by: { $0.subtaskIndex < $1.subtaskIndex }) {
            for named in former.operatorState {
                var reader = BinaryReader(try read(named.handle))
                let count = try reader.readLength()
                var elements: [[UInt8]] = []
                for _ in 0..<count { elements.append(try reader.readBytes()) }
                byName[named.name, default: (named.distribution, [], [])].perSubtask.append(elements)
                if former.subtaskIndex == subtask { byName[named.name]!.own = elements }
            }
        }
        for (name, entry) in byName.sorted(by: { $0.key < $1.key }) {
            let elements: [[UInt8]]
            switch entry.distribution {
            case "union":
                elements = entry.perSubtask.flatMap { $0 }
            case "broadcast":
                elements = entry.perSubtask.first ?? []
            default:
                if op.parallelism == parallelism {
                    // Unchanged parallelism: each subtask gets its own back, as in Flink. A
                    // source's splits stay where they were, behind the in-flight records an
                    // unaligned checkpoint stored for them.
                    elements = entry.own
                } else {
                    // Round-robin over the new subtasks, in former-subtask order (Flink's split-distribute).
                    let all = entry.perSubtask.flatMap { $0 }
                    elements = all.enumerated().filter { $0.offset % parallelism == subtask }.map(\.element)
                }
            }
            state.operatorState.append((name, entry.distribution, elements))
        }
        // Extras: the same subtask's when the parallelism is unchanged, else every former subtask's
        // (their readers filter by ownership, e.g. timers by key group).
        let sameParallelism = op.parallelism == parallelism
        for former in op.subtasks {
            for named in former.extra {
                if named.name == "enumerator" {
                    state.extra["enumerator", default: []].append(try read(named.handle))
                } else if !sameParallelism || former.subtaskIndex == subtask {
                    state.extra[named.name, default: []].append(try read(named.handle))
                }
            }
        }
        return state
    }
}

/// The in-flight records of one input channel, as an unaligned checkpoint stored them.
struct RestoredInFlightRecords {
    let channel: InFlightChannel
    /// The subtask of the consuming operator that stored them, and that operator's
    /// parallelism then.
    let formerSubtask: Int
    let formerParallelism: Int
    /// The blob, positioned after the channel header, at the records.
    var records: BinaryReader
}

extension RestorePlanner {
    /// The name of the (empty) extra state that marks an operator subtask that had finished.
    static var finishedMarker: String { "finished" }

    /// Whether every subtask of `chain` had finished when the checkpoint was taken: then the
    /// restored chain stays finished (Flink's FLIP-147). A chain with some subtasks finished
    /// restores normally; its finished subtasks left no state behind.
    func isFinished(chain: ExecutionPlan.Chain) -> Bool {
        let head = plan.graph.nodes[chain.nodes[0]]
        guard let op = metadata.operatorState(withId: CheckpointCoordinator.operatorId(head)),
              op.subtasks.count == op.parallelism else { return false }
        return op.subtasks.allSatisfy { $0.extra.contains { $0.name == Self.finishedMarker } }
    }

    /// Every input channel's in-flight records stored for `node` (the head of a chain), from
    /// all its former subtasks.
    func inFlightRecords(node: StreamNode) throws -> [RestoredInFlightRecords] {
        guard let op = metadata.operatorState(withId: CheckpointCoordinator.operatorId(node)) else { return [] }
        var restored: [RestoredInFlightRecords] = []
        for former in op.subtasks {
            for channelState in former.channelState {
                var reader = BinaryReader(try read(channelState.handle))
                let channel = try InFlightChannel(from: &reader)
                restored.append(RestoredInFlightRecords(channel: channel, formerSubtask: former.subtaskIndex,
                                                        formerParallelism: op.parallelism, records: reader))
            }
        }
        return restored
    }

    private func read(_ handle: StateHandle) throws -> [UInt8] {
        try CheckpointStorage.read(handle, baseDirectory: baseDirectory)
    }
}
