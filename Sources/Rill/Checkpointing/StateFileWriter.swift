import Synchronization

/// Writes one state file of a checkpoint (typically one operator subtask's state): blobs are
/// appended one after another and each append returns the ``StateHandle`` that reads it back.
///
/// The bytes go to a temporary file (`chk-N/.tmp-<name>-<random>`); ``finish()`` fsyncs it,
/// renames it to `chk-N/<name>` (never replacing an existing file) and fsyncs the directory.
/// Until `finish()` returns, the handles point to nothing: a file is never visible under its
/// final name half-written. If anything fails, the error names the path, the temporary file
/// is deleted, and the writer is spent (every later call throws the same error).
/// ``abort()`` (or releasing an unfinished writer) deletes the temporary file.
///
/// ```swift
/// let writer = storage.stateFileWriter(checkpointId: 7, name: "op-3-sub-1.state")
/// let handle = try writer.append { out in out.write(entries) }
/// try writer.finish()
/// ```
///
/// Thread-safe; appends are serialized. Blobs are staged in memory and written in chunks of
/// about 1 MiB, so appending many small blobs makes few system calls.
public final class StateFileWriter: Sendable {
    /// The checkpoint the file belongs to.
    public let checkpointId: Int64
    /// The file's final path relative to the base directory (`"chk-N/<name>"`): the
    /// `relativePath` of every handle this writer returns.
    public let relativePath: String

    private let directory: String
    private let name: String
    private let prepare: @Sendable () throws(CheckpointError) -> Void
    private let publish: @Sendable (_ temporary: String, _ final: String) throws(CheckpointError) -> Void
    private let state: Mutex<State>

    private static var chunkSize: Int { 1 << 20 }

    private struct State: ~Copyable {
        var buffer = BinaryWriter()
        var file: _CheckpointFiles.OutputFile?
        /// Bytes appended so far (written or staged).
        var length: Int64 = 0
        var phase = Phase.open
    }

    private enum Phase {
        case open
        case finished
        case aborted
        case failed(CheckpointError)
    }

    /// - Parameters:
    ///   - directory: where the file is created.
    ///   - name: its final name in `directory`.
    ///   - relativePath: its path relative to the base directory, for the handles.
    ///   - invalidName: an error to throw at the first use (a name that cannot be used).
    ///   - prepare: runs before the temporary file is created (creates the directory).
    ///   - publish: gives the synced temporary file its final name.
    init(
        checkpointId: Int64, directory: String, name: String, relativePath: String,
        invalidName: CheckpointError?,
        prepare: @escaping @Sendable () throws(CheckpointError) -> Void,
        publish: @escaping @Sendable (_ temporary: String, _ final: String) throws(CheckpointError) -> Void
    ) {
        self.checkpointId = checkpointId
        self.directory = directory
        self.name = name
        self.relativePath = relativePath
        self.prepare = prepare
        self.publish = publish
        var initial = State()
        if let invalidName { initial.phase = .failed(invalidName) }
        self.state = Mutex(initial)
    }

    deinit {
        abort()
    }

    /// The number of bytes appended so far.
    public var bytesWritten: Int64 { state.withLock { $0.length } }

    /// Appends the bytes that `body` writes as one blob.
    ///
    /// `body` writes straight into the writer's staging buffer (no intermediate copy); it
    /// must only append to it. If it throws, nothing is appended and its error is rethrown.
    ///
    /// - Returns: the blob's handle, valid once ``finish()`` has returned.
    /// - Throws: the error of `body`, or a ``CheckpointError`` when the file cannot be written.
    public func append(_ body: (inout BinaryWriter) throws -> Void) throws -> StateHandle {
        try state.withLock { state in
            try checkOpen(state)
            let start = state.buffer.count
            do {
                try body(&state.buffer)
            } catch {
                state.buffer._truncate(to: start)
                throw error
            }
            precondition(state.buffer.count >= start, "an append body must only append (it called reset())")
            let count = state.buffer.count - start
            let crc = state.buffer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            let handle = StateHandle(
                relativePath: relativePath, offset: state.length, length: Int64(count), crc32c: crc)
            state.length += Int64(count)
            if state.buffer.count >= Self.chunkSize { try flush(&state) }
            return handle
        }
    }

    /// Appends `bytes` as one blob.
    ///
    /// - Returns: the blob's handle, valid once ``finish()`` has returned.
    public func append(_ bytes: UnsafeRawBufferPointer) throws(CheckpointError) -> StateHandle {
        let crc = CRC32C.checksum(bytes)
        return try appendLocked(count: bytes.count, crc32c: crc) { (state) throws(CheckpointError) in
            if bytes.count >= Self.chunkSize {
                try flush(&state)
                try write(bytes, &state)
            } else {
                state.buffer.writeRawBytes(bytes)
                if state.buffer.count >= Self.chunkSize { try flush(&state) }
            }
        }
    }

    /// Appends `bytes` as one blob.
    ///
    /// - Returns: the blob's handle, valid once ``finish()`` has returned.
    public func append(_ bytes: [UInt8]) throws(CheckpointError) -> StateHandle {
        var result: Result<StateHandle, CheckpointError>!
        bytes.withUnsafeBytes { buffer in
            result = Result { () throws(CheckpointError) in try append(buffer) }
        }
        return try result.get()
    }

    /// Makes the file durable under its final name: writes what is staged, fsyncs, renames
    /// (refusing to replace an existing file) and fsyncs the directory. A writer with no
    /// blobs still produces an (empty) file.
    ///
    /// - Throws: ``CheckpointError`` naming the path: `.io` (disk full, permission denied),
    ///   `.alreadyExists` (the file or the completed checkpoint exists), `.notFound` (the
    ///   checkpoint was discarded meanwhile). The temporary file is then deleted.
    public func finish() throws(CheckpointError) {
        try state.withLock { (state) throws(CheckpointError) in
            try checkOpen(state)
            do throws(CheckpointError) {
                try flush(&state)
                let file = try openFile(&state)
                try file.syncAndClose()
                try publish(file.path, directory + "/" + name)
                state.file = nil
                try _CheckpointFiles.syncDirectory(directory)
                state.phase = .finished
            } catch {
                fail(&state, error)
                throw error
            }
        }
    }

    /// Stops writing and deletes the temporary file. Does nothing after ``finish()``.
    public func abort() {
        state.withLock { state in
            guard case .open = state.phase else { return }
            state.file?.discard()
            state.file = nil
            state.phase = .aborted
        }
    }

    // MARK: - Private

    /// Appends a blob of `count` bytes that `emit` stages or writes.
    private func appendLocked(
        count: Int, crc32c: UInt32, _ emit: (inout State) throws(CheckpointError) -> Void
    ) throws(CheckpointError) -> StateHandle {
        try state.withLock { (state) throws(CheckpointError) -> StateHandle in
            try checkOpen(state)
            let handle = StateHandle(
                relativePath: relativePath, offset: state.length, length: Int64(count), crc32c: crc32c)
            try emit(&state)
            state.length += Int64(count)
            return handle
        }
    }

    private func checkOpen(_ state: borrowing State) throws(CheckpointError) {
        switch state.phase {
        case .open: return
        case .failed(let error): throw error
        case .finished:
            throw CheckpointError(
                code: .invalidArgument, message: "the state file \(relativePath) is already finished", path: relativePath)
        case .aborted:
            throw CheckpointError(
                code: .invalidArgument, message: "the state file \(relativePath) was aborted", path: relativePath)
        }
    }

    private func openFile(_ state: inout State) throws(CheckpointError) -> _CheckpointFiles.OutputFile {
        if let file = state.file { return file }
        try prepare()
        let file = try _CheckpointFiles.OutputFile(creatingTemporaryFor: name, in: directory)
        state.file = file
        return file
    }

    private func flush(_ state: inout State) throws(CheckpointError) {
        guard !state.buffer.isEmpty else { return }
        do throws(CheckpointError) {
            let file = try openFile(&state)
            try state.buffer.withUnsafeBytes { (bytes) throws(CheckpointError) in try file.write(bytes) }
            state.buffer.reset()
        } catch {
            fail(&state, error)
            throw error
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer, _ state: inout State) throws(CheckpointError) {
        do throws(CheckpointError) {
            try openFile(&state).write(bytes)
        } catch {
            fail(&state, error)
            throw error
        }
    }

    private func fail(_ state: inout State, _ error: CheckpointError) {
        state.file?.discard()
        state.file = nil
        state.buffer = BinaryWriter()
        state.phase = .failed(error)
    }
}
