// Listing checkpoints and finding the one to restore.

extension CheckpointStorage {
    /// Every `chk-N` directory, and every savepoint directory inside the checkpoint
    /// directory, sorted by id (then path), each with its metadata and whether it can be
    /// restored. An unreadable checkpoint directory lists as empty.
    ///
    /// - Parameter verification: how much of each checkpoint to check; ``CheckpointVerification/sizes``
    ///   costs one `stat` per referenced file.
    /// - Complexity: reads every `_metadata`; O(referenced files) `stat` calls.
    public func listCheckpoints(verification: CheckpointVerification = .sizes) -> [CheckpointListing] {
        guard let entries = try? scan(includeSavepoints: true) else { return [] }
        // Which checkpoints reference files in each directory (incremental sharing).
        var referencedBy: [String: Set<Int64>] = [:]
        for entry in entries {
            guard case .success(let metadata) = entry.read, metadata.kind == .checkpoint else { continue }
            for file in metadata.referencedFiles {
                let owner = String(file.prefix { $0 != "/" })
                if owner != entry.name { referencedBy[owner, default: []].insert(entry.id) }
            }
        }
        return entries.map { entry in
            var problem = self.problem(of: entry, verification: verification)?.summary
            if case .failure(let failure) = entry.read, failure.error.code == .notFound,
                let users = referencedBy[entry.name], !users.isEmpty
            {
                let names = users.sorted().map { Self.checkpointDirectoryName($0) }.joined(separator: ", ")
                problem = "no _metadata (retired; keeps files that \(names) reference)"
            }
            return listing(entry, problem: problem)
        }
    }

    /// The newest checkpoint that can be restored: its `_metadata` reads back intact and
    /// every file it references exists and is long enough (with
    /// ``CheckpointVerification/checksums``, every blob's checksum is also checked).
    /// Newer checkpoints that cannot be restored are skipped and returned, so the caller
    /// can report each by path. Savepoints are not considered.
    ///
    /// - Returns: the metadata, the checkpoint's directory, and the newer checkpoints that
    ///   were skipped (newest first) with the reason.
    /// - Throws: ``CheckpointError`` `.notFound` when no checkpoint can be restored (the
    ///   message lists each skipped one and why) — a restore never starts fresh silently;
    ///   `.io` when the directory cannot be read.
    public func latestCompleted(
        verification: CheckpointVerification = .sizes
    ) throws(CheckpointError) -> (metadata: CheckpointMetadata, path: String, skipped: [CheckpointListing]) {
        var skipped: [CheckpointListing] = []
        for entry in try scan(includeSavepoints: false).reversed() {
            if case .success(let metadata) = entry.read, metadata.kind != .checkpoint { continue }
            if let problem = problem(of: entry, verification: verification) {
                skipped.append(listing(entry, problem: problem.summary))
                continue
            }
            guard case .success(let metadata) = entry.read else { continue }
            return (metadata, entry.path, skipped)
        }
        let reasons = skipped.map { "\n  \($0.path): \($0.problem ?? "")" }.joined()
        throw CheckpointError(
            code: .notFound,
            message: skipped.isEmpty
                ? "no completed checkpoint in \(directory); restore from a savepoint, or start the job "
                    + "without restoring if it should start with empty state"
                : "no completed checkpoint in \(directory) can be restored; skipped:\(reasons)\nrestore from a "
                    + "savepoint, or start the job without restoring if losing the state is acceptable",
            path: directory)
    }

    // MARK: - Internal

    /// A snapshot directory found in the base directory, with its metadata read (not verified).
    struct _Entry {
        var id: Int64
        /// The directory's name in the base directory.
        var name: String
        var path: String
        var isCheckpointDirectory: Bool
        var read: Result<CheckpointMetadata, _SnapshotProblem>
    }

    /// The `chk-N` directories (and, when asked, other directories holding a `_metadata`),
    /// sorted by id and name.
    func scan(includeSavepoints: Bool) throws(CheckpointError) -> [_Entry] {
        var entries: [_Entry] = []
        for name in try _CheckpointFiles.contents(ofDirectory: directory) where !name.hasPrefix(".") {
            let path = directory + "/" + name
            guard let status = try? _CheckpointFiles.status(path), status.isDirectory else { continue }
            let metadataPath = path + "/" + _MetadataFile.name
            let read: Result<CheckpointMetadata, _SnapshotProblem>
            do {
                read = .success(try _MetadataFile.read(metadataPath))
            } catch {
                read = .failure(error)
            }
            if let id = Self.checkpointId(fromDirectoryName: name) {
                entries.append(_Entry(id: id, name: name, path: path, isCheckpointDirectory: true, read: read))
            } else if includeSavepoints, (try? _CheckpointFiles.status(metadataPath)) != nil {
                let id = (try? read.get())?.checkpointId ?? -1
                entries.append(_Entry(id: id, name: name, path: path, isCheckpointDirectory: false, read: read))
            }
        }
        return entries.sorted { ($0.id, $0.name) < ($1.id, $1.name) }
    }

    /// Why `entry` cannot be restored, or `nil`.
    func problem(of entry: _Entry, verification: CheckpointVerification) -> _SnapshotProblem? {
        let metadata: CheckpointMetadata
        switch entry.read {
        case .failure(let problem): return problem
        case .success(let read): metadata = read
        }
        if entry.isCheckpointDirectory, metadata.kind == .checkpoint, metadata.checkpointId != entry.id {
            return _SnapshotProblem(
                "_metadata is for checkpoint \(metadata.checkpointId), not \(entry.id)",
                CheckpointError(
                    code: .corrupt,
                    message: "\(entry.path)/_metadata describes checkpoint \(metadata.checkpointId); the directory "
                        + "was renamed or copied — restore it by its original name",
                    path: entry.path))
        }
        do {
            try verification.verify(
                metadata, baseDirectory: Self.baseDirectory(forSnapshotAt: entry.path, kind: metadata.kind))
        } catch {
            return error
        }
        return nil
    }

    func listing(_ entry: _Entry, problem: String?) -> CheckpointListing {
        var bytes: Int64 = 0
        for name in (try? _CheckpointFiles.contents(ofDirectory: entry.path)) ?? [] {
            if let status = try? _CheckpointFiles.status(entry.path + "/" + name), status.isRegularFile {
                bytes += status.size
            }
        }
        return CheckpointListing(
            checkpointId: entry.id, path: entry.path, metadata: try? entry.read.get(), problem: problem,
            bytesOnDisk: bytes)
    }

    /// `N` for a directory named `chk-N`.
    static func checkpointId(fromDirectoryName name: String) -> Int64? {
        guard name.hasPrefix("chk-") else { return nil }
        let digits = name.dropFirst(4)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int64(digits)
    }
}
