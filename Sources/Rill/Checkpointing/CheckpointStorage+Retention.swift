// Deleting checkpoints: retention of completed ones and discarding failed ones, without
// ever deleting a file that a kept checkpoint references.

extension CheckpointStorage {
    /// Keeps the newest `count` restorable checkpoints and deletes older ones, together with
    /// abandoned directories (incomplete or corrupt checkpoints) older than the newest
    /// restorable checkpoint. Never deletes:
    /// - a file that a kept checkpoint references (an incremental checkpoint references
    ///   files of earlier ones: their directory then stays, without `_metadata`, until no
    ///   kept checkpoint references them);
    /// - a file in `keeping` (relative paths, for example the files an incremental checkpoint
    ///   that is still being written will reference) or that a running savepoint copies;
    /// - anything newer than the newest restorable checkpoint (checkpoints being written,
    ///   and broken ones kept for inspection);
    /// - a savepoint, or anything that is not a `chk-N` directory.
    ///
    /// A deleted checkpoint loses its `_metadata` first, so a crash midway leaves an
    /// incomplete directory, never a checkpoint with missing files. Writers of deleted
    /// incomplete checkpoints fail from then on.
    ///
    /// - Parameter count: how many restorable checkpoints to keep, at least 1.
    /// - Throws: ``CheckpointError`` `.invalidArgument` for `count < 1`; `.io` naming the
    ///   file that could not be deleted.
    public func retain(latest count: Int, keeping: Set<String> = []) throws(CheckpointError) {
        guard count >= 1 else {
            throw CheckpointError(
                code: .invalidArgument,
                message: "retain(latest: \(count)): at least the newest checkpoint must be kept")
        }
        try state.withLock { (state) throws(CheckpointError) in
            let entries = try scan(includeSavepoints: false)
            let restorable = entries.filter { entry in
                guard case .success(let metadata) = entry.read, metadata.kind == .checkpoint else { return false }
                return problem(of: entry, verification: .sizes) == nil
            }
            guard let newest = restorable.last?.id else { return }
            let kept = Set(restorable.suffix(count).map(\.id))
            var doomed: [_Entry] = []
            var protected = keeping.union(state.pinned.keys)
            for entry in entries {
                let isSavepoint = (try? entry.read.get())?.kind == .savepoint
                if !isSavepoint && entry.id < newest && !kept.contains(entry.id) {
                    doomed.append(entry)
                } else if case .success(let metadata) = entry.read {
                    protected.formUnion(metadata.referencedFiles)
                }
            }
            for entry in doomed {
                try delete(directoryNamed: entry.name, protecting: protected)
            }
            if !doomed.isEmpty { try _CheckpointFiles.syncDirectory(directory) }
            state.markDead(below: newest)
        }
    }

    /// Deletes the files of checkpoint `checkpointId` after it failed or was aborted, and
    /// makes its writers fail from then on. Files that a completed checkpoint references
    /// stay. Discarding a checkpoint that wrote nothing does nothing.
    ///
    /// - Throws: ``CheckpointError`` `.alreadyExists` when the checkpoint is completed (its
    ///   `_metadata` exists: completed checkpoints are removed only by retention); `.io`.
    public func discard(checkpointId: Int64) throws(CheckpointError) {
        try state.withLock { (state) throws(CheckpointError) in
            let path = checkpointDirectory(for: checkpointId)
            let metadataPath = path + "/" + _MetadataFile.name
            if try _CheckpointFiles.status(metadataPath) != nil {
                throw CheckpointError(
                    code: .alreadyExists,
                    message: "checkpoint \(checkpointId) is completed (\(metadataPath) exists); discard removes "
                        + "only failed checkpoints — completed ones are removed by retention",
                    path: metadataPath)
            }
            state.discarded.insert(checkpointId)
            guard try _CheckpointFiles.status(path) != nil else { return }
            var protected = Set(state.pinned.keys)
            for entry in try scan(includeSavepoints: false) where entry.id != checkpointId {
                if case .success(let metadata) = entry.read { protected.formUnion(metadata.referencedFiles) }
            }
            try delete(directoryNamed: Self.checkpointDirectoryName(checkpointId), protecting: protected)
            try _CheckpointFiles.syncDirectory(directory)
        }
    }

    /// Deletes every `chk-N` directory, completed or not: for a job cancelled with retention
    /// on cancellation turned off. Savepoints (also one inside a `chk-N` directory) and
    /// anything that is not a `chk-N` directory stay. Writers of the deleted checkpoints fail
    /// from then on.
    ///
    /// - Throws: ``CheckpointError`` `.io` naming the file that could not be deleted.
    public func deleteAllCheckpoints() throws(CheckpointError) {
        try state.withLock { (state) throws(CheckpointError) in
            let doomed = try scan(includeSavepoints: false).filter { (try? $0.read.get())?.kind != .savepoint }
            let protected = Set(state.pinned.keys)
            for entry in doomed {
                try delete(directoryNamed: entry.name, protecting: protected)
            }
            if !doomed.isEmpty { try _CheckpointFiles.syncDirectory(directory) }
            if let last = doomed.last?.id, last < .max { state.markDead(below: last + 1) }
        }
    }

    /// Deletes `_metadata` of directory `name` first (and syncs), then every file not in
    /// `protected` (relative paths), then the directory if it is empty.
    private func delete(directoryNamed name: String, protecting protected: Set<String>) throws(CheckpointError) {
        let directoryPath = directory + "/" + name
        let metadataPath = directoryPath + "/" + _MetadataFile.name
        if try _CheckpointFiles.status(metadataPath) != nil {
            try _CheckpointFiles.remove(metadataPath)
            try _CheckpointFiles.syncDirectory(directoryPath)
        }
        var remaining = 0
        for file in try _CheckpointFiles.contents(ofDirectory: directoryPath) {
            let path = directoryPath + "/" + file
            guard !protected.contains(name + "/" + file),
                let status = try _CheckpointFiles.status(path), !status.isDirectory
            else {
                remaining += 1
                continue
            }
            try _CheckpointFiles.remove(path)
        }
        if remaining == 0 {
            try _CheckpointFiles.removeDirectory(directoryPath)
        } else {
            try _CheckpointFiles.syncDirectory(directoryPath)
        }
    }
}
