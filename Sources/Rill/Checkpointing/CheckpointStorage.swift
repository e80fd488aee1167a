import Synchronization

/// Durable storage for one job's checkpoints, in one base directory:
///
///     <directory>/
///       chk-7/
///         op-3-sub-0.state      state files (StateFileWriter), CRC-32C per blob
///         op-3-sub-1.state
///         _metadata             written last: a chk-N without it is not a checkpoint
///       chk-8/
///         .tmp-op-3-sub-0.state-k2f9x   being written; never read
///
/// Every file is written under a temporary name, fsynced, given its final name by a rename
/// that never replaces an existing file, and its directory is fsynced. ``commit(_:)`` writes
/// `_metadata` the same way, after all state files. A completed checkpoint is never
/// overwritten. Reads verify length and checksum and name the file on failure.
///
/// Thread-safe: writers of different subtasks run in parallel; commits, retention and
/// discards are serialized. One instance per directory (another process must not write the
/// same directory at the same time).
public final class CheckpointStorage: Sendable {
    /// The base directory (without a trailing slash).
    public let directory: String

    let state = Mutex(_StorageState())

    /// Opens (and by default creates) the checkpoint directory and checks that it is
    /// writable, by creating and deleting a temporary file.
    ///
    /// - Parameters:
    ///   - directory: the job's checkpoint base directory.
    ///   - createIfMissing: when `false`, a missing directory is `.notFound` instead of
    ///     being created (to inspect or restore without side effects); it is then not
    ///     checked for writability either.
    /// - Throws: ``CheckpointError`` naming the directory: `.notFound`, or `.io` when it is
    ///   not a directory or not writable.
    public init(directory: String, createIfMissing: Bool = true) throws(CheckpointError) {
        self.directory = _CheckpointFiles.normalized(directory)
        guard createIfMissing else {
            guard let status = try _CheckpointFiles.status(self.directory) else {
                throw CheckpointError(
                    code: .notFound, message: "checkpoint directory \(self.directory) does not exist",
                    path: self.directory)
            }
            guard status.isDirectory else {
                throw CheckpointError(
                    code: .io, message: "\(self.directory) is not a directory", path: self.directory)
            }
            return
        }
        try _CheckpointFiles.makeDirectories(self.directory)
        do {
            let probe = try _CheckpointFiles.OutputFile(creatingTemporaryFor: "write-check", in: self.directory)
            probe.discard()
        } catch {
            throw CheckpointError(
                code: .io,
                message: "checkpoint directory \(self.directory) is not writable (\(error.message))",
                path: self.directory)
        }
    }

    /// The directory of checkpoint `checkpointId`: `<directory>/chk-<id>`.
    public func checkpointDirectory(for checkpointId: Int64) -> String {
        directory + "/" + Self.checkpointDirectoryName(checkpointId)
    }

    /// `chk-<id>`.
    public static func checkpointDirectoryName(_ checkpointId: Int64) -> String { "chk-\(checkpointId)" }

    // MARK: - Writing

    /// A writer for one state file of checkpoint `checkpointId`, to be named
    /// `chk-<checkpointId>/<name>` (for example `"op-3-sub-1.state"`).
    ///
    /// Nothing touches the disk until the first blob is flushed or ``StateFileWriter/finish()``.
    /// A name that is empty, contains `/`, or starts with `.` or `_` (reserved for temporary
    /// files and `_metadata`) makes the writer's first call throw `.invalidArgument`.
    public func stateFileWriter(checkpointId: Int64, name: String) -> StateFileWriter {
        let directoryName = Self.checkpointDirectoryName(checkpointId)
        let checkpointDirectory = directory + "/" + directoryName
        return StateFileWriter(
            checkpointId: checkpointId, directory: checkpointDirectory, name: name,
            relativePath: directoryName + "/" + name,
            invalidName: Self.checkFileName(name, checkpointId: checkpointId),
            prepare: { [self] () throws(CheckpointError) in
                try state.withLock { (state) throws(CheckpointError) in
                    try checkWritable(checkpointId, state)
                    try makeCheckpointDirectory(checkpointId)
                }
            },
            publish: { [self] (temporary, final) throws(CheckpointError) in
                try state.withLock { (state) throws(CheckpointError) in
                    try checkWritable(checkpointId, state)
                    try _CheckpointFiles.publish(temporary: temporary, as: final)
                }
            })
    }

    /// Completes a checkpoint: checks that every file `metadata` references exists and is
    /// long enough, then writes `chk-N/_metadata` (temporary file, fsync, rename, fsync of
    /// the directory). From then on the checkpoint exists.
    ///
    /// - Throws: ``CheckpointError``: `.alreadyExists` when checkpoint N is already
    ///   completed (it is never overwritten); `.notFound` / `.truncated` naming a referenced
    ///   file that is missing or short; `.notFound` when the checkpoint was discarded;
    ///   `.invalidArgument` for a savepoint (use ``writeSavepoint(from:sourceDirectory:to:)``);
    ///   `.io` when the disk fails. Nothing is completed when it throws.
    public func commit(_ metadata: CheckpointMetadata) throws(CheckpointError) {
        guard metadata.kind == .checkpoint else {
            throw CheckpointError(
                code: .invalidArgument,
                message: "commit completes checkpoints; write savepoint \(metadata.checkpointId) with writeSavepoint(from:to:)")
        }
        guard metadata.checkpointId >= 0 else {
            throw CheckpointError(
                code: .invalidArgument, message: "checkpoint id \(metadata.checkpointId) is negative")
        }
        let bytes = _MetadataFile.encode(metadata)
        let id = metadata.checkpointId
        try state.withLock { (state) throws(CheckpointError) in
            try checkWritable(id, state)
            // Under the lock: retention cannot delete a referenced file before _metadata exists.
            do throws(_SnapshotProblem) {
                try CheckpointVerification.sizes.verify(metadata, baseDirectory: directory)
            } catch {
                throw CheckpointError(
                    code: error.error.code,
                    message: "cannot complete checkpoint \(id): \(error.error.message)",
                    path: error.error.path)
            }
            try makeCheckpointDirectory(id)
            try _CheckpointFiles.writeAtomically(bytes, directory: checkpointDirectory(for: id), name: _MetadataFile.name)
        }
    }

    // MARK: - Reading

    /// The blob `handle` points to, relative to this storage's directory, after checking its
    /// length and CRC-32C.
    ///
    /// - Throws: ``CheckpointError`` naming the file: `.notFound`, `.truncated`, `.corrupt`
    ///   (checksum mismatch) or `.io`.
    public func read(_ handle: StateHandle) throws(CheckpointError) -> [UInt8] {
        try Self.read(handle, baseDirectory: directory)
    }

    /// The blob `handle` points to, relative to `baseDirectory` (see
    /// ``baseDirectory(forSnapshotAt:kind:)``), after checking its length and CRC-32C.
    public static func read(_ handle: StateHandle, baseDirectory: String) throws(CheckpointError) -> [UInt8] {
        let path: String
        do {
            path = try _resolve(handle.relativePath, in: _CheckpointFiles.normalized(baseDirectory))
        } catch {
            throw error.error
        }
        let bytes = try _CheckpointFiles.read(path, offset: handle.offset, length: handle.length, displayPath: path)
        let crc = CRC32C.checksum(bytes)
        guard crc == handle.crc32c else {
            throw CheckpointError(
                code: .corrupt,
                message: "state file \(path) is corrupt: bytes \(handle.offset)..<\(handle.endOffset) have "
                    + "checksum 0x\(String(crc, radix: 16)) but 0x\(String(handle.crc32c, radix: 16)) was written; "
                    + "restore from an earlier checkpoint",
                path: path)
        }
        return bytes
    }

    /// Reads the metadata of the checkpoint or savepoint at `path` (its directory or its
    /// `_metadata` file) and checks its files as `verification` says.
    ///
    /// Handles in the result are relative to ``baseDirectory(forSnapshotAt:kind:)``.
    ///
    /// - Throws: ``CheckpointError`` naming the file: `.notFound` (no such directory, no
    ///   `_metadata` — an incomplete checkpoint —, or a missing state file), `.corrupt`,
    ///   `.truncated`, `.incompatible` (another format version), `.io`.
    public static func load(
        path: String, verification: CheckpointVerification = .sizes
    ) throws(CheckpointError) -> CheckpointMetadata {
        let (snapshotDirectory, metadataPath) = try locate(path)
        do {
            let metadata = try _MetadataFile.read(metadataPath)
            try verification.verify(
                metadata, baseDirectory: baseDirectory(forSnapshotAt: snapshotDirectory, kind: metadata.kind))
            return metadata
        } catch {
            throw error.error
        }
    }

    /// The directory the handles of a snapshot at `path` are relative to: for a checkpoint
    /// the parent of its `chk-N` directory, for a savepoint its own directory. `path` is the
    /// snapshot's directory or its `_metadata` file.
    public static func baseDirectory(forSnapshotAt path: String, kind: CheckpointKind) -> String {
        var snapshotDirectory = _CheckpointFiles.normalized(path)
        if _CheckpointFiles.lastComponent(snapshotDirectory) == _MetadataFile.name {
            snapshotDirectory = _CheckpointFiles.parentDirectory(snapshotDirectory)
        }
        return kind == .savepoint ? snapshotDirectory : _CheckpointFiles.parentDirectory(snapshotDirectory)
    }

    // MARK: - Internal

    /// The snapshot directory and metadata file for a user-given path.
    static func locate(_ path: String) throws(CheckpointError) -> (directory: String, metadata: String) {
        let normalized = _CheckpointFiles.normalized(path)
        guard let status = try _CheckpointFiles.status(normalized) else {
            throw CheckpointError(
                code: .notFound, message: "no checkpoint or savepoint at \(normalized): it does not exist",
                path: normalized)
        }
        if status.isDirectory {
            return (normalized, normalized + "/" + _MetadataFile.name)
        }
        return (_CheckpointFiles.parentDirectory(normalized), normalized)
    }

    /// `nil` when `name` can be a state file's name, else why not.
    static func checkFileName(_ name: String, checkpointId: Int64) -> CheckpointError? {
        if checkpointId < 0 {
            return CheckpointError(code: .invalidArgument, message: "checkpoint id \(checkpointId) is negative")
        }
        if name.isEmpty || name.utf8.count > 200 || name.contains("/") || name.utf8.contains(0)
            || name.hasPrefix(".") || name.hasPrefix("_")
        {
            return CheckpointError(
                code: .invalidArgument,
                message: "'\(name)' cannot name a state file: use 1 to 200 bytes without '/', not starting "
                    + "with '.' or '_' (reserved for temporary files and _metadata)")
        }
        return nil
    }

    /// Throws unless state may still be written for checkpoint `id`. Call with the lock held.
    func checkWritable(_ id: Int64, _ state: borrowing _StorageState) throws(CheckpointError) {
        if state.isDead(id) {
            throw CheckpointError(
                code: .notFound,
                message: "checkpoint \(id) was discarded (aborted, or subsumed by a newer completed checkpoint); "
                    + "nothing more is written for it",
                path: checkpointDirectory(for: id))
        }
        let metadataPath = checkpointDirectory(for: id) + "/" + _MetadataFile.name
        if try _CheckpointFiles.status(metadataPath) != nil {
            throw CheckpointError(
                code: .alreadyExists,
                message: "checkpoint \(id) is already completed (\(metadataPath) exists); a completed checkpoint "
                    + "is never overwritten — use a new checkpoint id",
                path: metadataPath)
        }
    }

    /// Creates `chk-<id>` if needed, and makes its creation durable. Call with the lock held.
    func makeCheckpointDirectory(_ id: Int64) throws(CheckpointError) {
        if try _CheckpointFiles.makeDirectory(checkpointDirectory(for: id)) {
            try _CheckpointFiles.syncDirectory(directory)
        }
    }
}

/// What the storage remembers between calls (guarded by its lock).
struct _StorageState: ~Copyable {
    /// Checkpoints below this id that are not completed were abandoned: retention deleted them.
    var deadBelow: Int64 = .min
    /// Checkpoints discarded at or above `deadBelow`.
    var discarded: Set<Int64> = []
    /// Files (relative paths) a savepoint is copying right now, with a use count:
    /// retention keeps them.
    var pinned: [String: Int] = [:]

    func isDead(_ id: Int64) -> Bool { id < deadBelow || discarded.contains(id) }

    mutating func markDead(below id: Int64) {
        if id > deadBelow {
            deadBelow = id
            discarded = discarded.filter { $0 >= id }
        }
    }
}
