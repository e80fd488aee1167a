// Savepoints: self-contained copies of a checkpoint's state that the user owns.

extension CheckpointStorage {
    /// Writes a savepoint: a self-contained directory that restores without the checkpoint
    /// directory (it may be moved, and the job's checkpoints deleted).
    ///
    /// Every blob `metadata` references is read from `sourceDirectory` (its length and
    /// checksum verified) and copied into `op-<operator>-sub-<subtask>.state` files inside
    /// `targetDirectory`; the handles are rewritten relative to the savepoint directory, the
    /// kind becomes `.savepoint` and the savepoint is not incremental (change blobs of key
    /// groups are copied with their bases, so it needs no other directory). Files are written
    /// under temporary names, fsynced and renamed; `_metadata` comes last. On failure the
    /// files written so far are deleted.
    ///
    /// `metadata` need not be committed: the runtime can write a checkpoint's state files,
    /// copy them into a savepoint, then discard the checkpoint.
    ///
    /// - Parameters:
    ///   - metadata: what to copy.
    ///   - sourceDirectory: the base directory of `metadata`'s handles; by default this
    ///     storage's directory. Files copied from it are kept by retention meanwhile.
    ///   - targetDirectory: the savepoint's directory; created if missing, else it must be
    ///     empty.
    /// - Returns: the savepoint's directory.
    /// - Throws: ``CheckpointError``: `.alreadyExists` when `targetDirectory` holds a
    ///   savepoint (never overwritten) or other files; `.notFound`, `.truncated`,
    ///   `.corrupt` naming a source file; `.io` when writing fails (disk full, ...).
    @discardableResult
    public func writeSavepoint(
        from metadata: CheckpointMetadata, sourceDirectory: String? = nil, to targetDirectory: String
    ) throws(CheckpointError) -> String {
        let source = _CheckpointFiles.normalized(sourceDirectory ?? directory)
        let target = _CheckpointFiles.normalized(targetDirectory)
        let createdTarget = try prepareSavepointDirectory(target)
        let pinned = source == directory ? Array(metadata.referencedFiles) : []
        state.withLock { state in
            for file in pinned { state.pinned[file, default: 0] += 1 }
        }
        defer {
            state.withLock { state in
                for file in pinned {
                    state.pinned[file, default: 1] -= 1
                    if state.pinned[file] == 0 { state.pinned[file] = nil }
                }
            }
        }
        var written: [String] = []
        do {
            var savepoint = metadata
            savepoint.kind = .savepoint
            savepoint.isIncremental = false
            savepoint.formatVersion = CheckpointMetadata.currentFormatVersion
            var copies: [StateHandle: StateHandle] = [:]
            for (o, op) in metadata.operators.enumerated() {
                for (s, subtask) in op.subtasks.enumerated() where !subtask.allHandles.isEmpty {
                    let name = "op-\(o)-sub-\(s).state"
                    let writer = StateFileWriter(
                        checkpointId: metadata.checkpointId, directory: target, name: name, relativePath: name,
                        invalidName: nil, prepare: {},
                        publish: { (temporary, final) throws(CheckpointError) in
                            try _CheckpointFiles.publish(temporary: temporary, as: final)
                        })
                    func copy(_ handle: StateHandle) throws(CheckpointError) -> StateHandle {
                        if let done = copies[handle] { return done }
                        let bytes = try Self.read(handle, baseDirectory: source)
                        let copied = try writer.append(bytes)
                        copies[handle] = copied
                        return copied
                    }
                    var rewritten = subtask
                    for i in rewritten.keyGroups.indices {
                        rewritten.keyGroups[i].handle = try copy(rewritten.keyGroups[i].handle)
                        rewritten.keyGroups[i].writtenInCheckpoint = metadata.checkpointId
                        for c in rewritten.keyGroups[i].changes.indices {
                            rewritten.keyGroups[i].changes[c].handle = try copy(rewritten.keyGroups[i].changes[c].handle)
                            rewritten.keyGroups[i].changes[c].writtenInCheckpoint = metadata.checkpointId
                        }
                    }
                    for i in rewritten.operatorState.indices {
                        rewritten.operatorState[i].handle = try copy(rewritten.operatorState[i].handle)
                    }
                    for i in rewritten.channelState.indices {
                        rewritten.channelState[i].handle = try copy(rewritten.channelState[i].handle)
                    }
                    for i in rewritten.extra.indices {
                        rewritten.extra[i].handle = try copy(rewritten.extra[i].handle)
                    }
                    try writer.finish()
                    written.append(name)
                    savepoint.operators[o].subtasks[s] = rewritten
                }
            }
            try _CheckpointFiles.writeAtomically(
                _MetadataFile.encode(savepoint), directory: target, name: _MetadataFile.name)
            return target
        } catch {
            for name in written { try? _CheckpointFiles.remove(target + "/" + name) }
            if createdTarget { try? _CheckpointFiles.removeDirectory(target) }
            throw error
        }
    }

    /// Creates the savepoint directory or checks that it is empty; returns whether it was
    /// created.
    private func prepareSavepointDirectory(_ target: String) throws(CheckpointError) -> Bool {
        if let status = try _CheckpointFiles.status(target) {
            guard status.isDirectory else {
                throw CheckpointError(
                    code: .alreadyExists, message: "\(target) exists and is not a directory; choose a new savepoint directory",
                    path: target)
            }
            let contents = try _CheckpointFiles.contents(ofDirectory: target)
            if contents.contains(_MetadataFile.name) {
                throw CheckpointError(
                    code: .alreadyExists,
                    message: "a savepoint already exists at \(target); savepoints are never overwritten — choose a "
                        + "new directory, or delete the old savepoint first if it is no longer needed",
                    path: target + "/" + _MetadataFile.name)
            }
            if !contents.isEmpty {
                throw CheckpointError(
                    code: .alreadyExists,
                    message: "\(target) is not empty (\(contents.prefix(3).joined(separator: ", "))"
                        + "\(contents.count > 3 ? ", ..." : "")); a savepoint needs a new or empty directory",
                    path: target)
            }
            return false
        }
        try _CheckpointFiles.makeDirectories(target)
        return true
    }
}
