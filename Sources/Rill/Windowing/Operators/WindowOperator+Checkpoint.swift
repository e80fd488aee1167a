// Window operators in checkpoints: their keyed state (window contents, trigger state, merging
// window sets, slices) is the backend's, and the general operator's timers are written beside it.

extension WindowOperator: CheckpointedOperator {
    @usableFromInline
    func initializeState(_ restore: OperatorRestoreState) throws {
        try backend.restoreKeyGroups(restore.keyGroups)
        try timerService.restore(restore.extra["timers"] ?? [], owns: { backend.owns($0) })
    }

    @usableFromInline
    func snapshotState(checkpointId: Int64, into snapshot: OperatorSnapshot, incremental: Bool) throws {
        let timers = try timerService.snapshot()
        try backend.snapshot(into: snapshot, checkpointId: checkpointId, incremental: incremental)
        snapshot.extra.append(timers)
    }

    @usableFromInline
    func notifyCheckpointComplete(_ checkpointId: Int64) throws {
        backend.checkpointCompleted(checkpointId)
    }
}

extension SlicingWindowOperator: CheckpointedOperator {
    @usableFromInline
    func initializeState(_ restore: OperatorRestoreState) throws {
        try backend.restoreKeyGroups(restore.keyGroups)
        resumeAfterRestore()
    }

    /// Each key's snapshot records the windows already emitted (every window end the
    /// watermark passed), so a restored job does not emit them again.
    @usableFromInline
    func snapshotState(checkpointId: Int64, into snapshot: OperatorSnapshot, incremental: Bool) throws {
        state.snapshotFiredThrough = watermark == Int64.min ? Int64.min : windowEnd(atOrAfter: watermark &+ 2) &- slide
        if state.snapshotFiredThrough != Int64.min {
            // Every key holding slices changes: mark them so incremental snapshots include them.
            for index in state.head..<state.slices.count {
                let slice = state.slices[index]
                for position in 0..<slice.count { ctx.markDirty(slot: slice.slots[position]) }
            }
        }
        try backend.snapshot(into: snapshot, checkpointId: checkpointId, incremental: incremental)
    }

    @usableFromInline
    func notifyCheckpointComplete(_ checkpointId: Int64) throws {
        backend.checkpointCompleted(checkpointId)
    }
}
