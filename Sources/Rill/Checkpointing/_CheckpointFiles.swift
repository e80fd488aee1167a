#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Every system call of checkpoint storage lives here: each failure becomes a
// `CheckpointError` that names the path and says what to do.

/// File-system operations for checkpoint storage.
enum _CheckpointFiles {
    /// What `stat` says about a path.
    struct Status {
        var isDirectory: Bool
        var isRegularFile: Bool
        var size: Int64
    }

    /// The status of `path`, or `nil` when it does not exist.
    static func status(_ path: String) throws(CheckpointError) -> Status? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw error(code, "inspect", path)
        }
        let type = info.st_mode & S_IFMT
        return Status(isDirectory: type == S_IFDIR, isRegularFile: type == S_IFREG, size: Int64(info.st_size))
    }

    /// Creates the directory `path` (not its parents); returns `false` if it already was one.
    @discardableResult
    static func makeDirectory(_ path: String) throws(CheckpointError) -> Bool {
        if mkdir(path, 0o755) == 0 { return true }
        let code = errno
        if code == EEXIST, let status = try status(path) {
            if status.isDirectory { return false }
            throw CheckpointError(
                code: .io, message: "\(path) exists but is not a directory; move it away or choose another directory",
                path: path)
        }
        throw error(code, "create directory", path)
    }

    /// Creates `path` and any missing parents, durably (each parent is synced after a creation).
    static func makeDirectories(_ path: String) throws(CheckpointError) {
        if let status = try status(path) {
            guard status.isDirectory else {
                throw CheckpointError(
                    code: .io, message: "\(path) exists but is not a directory; choose another directory",
                    path: path)
            }
            return
        }
        let parent = parentDirectory(path)
        if parent != path { try makeDirectories(parent) }
        if try makeDirectory(path) { try syncDirectory(parent) }
    }

    /// Flushes the directory entry changes of `path` (creations, renames, deletions) to disk.
    static func syncDirectory(_ path: String) throws(CheckpointError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw error(errno, "open directory", path) }
        defer { close(fd) }
        if fsync(fd) != 0 {
            let code = errno
            // Some file systems cannot sync a directory; the rename is then as durable as they allow.
            if code != EINVAL && code != ENOTSUP { throw error(code, "sync directory", path) }
        }
    }

    /// The names in directory `path`, without `.` and `..`, sorted.
    static func contents(ofDirectory path: String) throws(CheckpointError) -> [String] {
        guard let dir = opendir(path) else { throw error(errno, "list directory", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// The whole file at `path`.
    static func readAll(_ path: String) throws(CheckpointError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw error(errno, "open", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw error(errno, "inspect", path) }
        return try readFully(fd, offset: 0, count: Int(info.st_size), path: path)
    }

    /// `length` bytes at `offset` of the file at `path`, which must be at least
    /// `offset + length` bytes long (else `.truncated`).
    static func read(_ path: String, offset: Int64, length: Int64, displayPath: String) throws(CheckpointError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                throw CheckpointError(
                    code: .notFound,
                    message: "state file \(displayPath) does not exist (was it deleted or moved?); "
                        + "restore from an earlier checkpoint or a savepoint",
                    path: path)
            }
            throw error(code, "open", path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw error(errno, "inspect", path) }
        let size = Int64(info.st_size)
        guard size >= offset + length else {
            throw truncated(displayPath, path: path, size: size, needed: offset + length)
        }
        return try readFully(fd, offset: offset, count: Int(length), path: path)
    }

    static func truncated(_ displayPath: String, path: String, size: Int64, needed: Int64) -> CheckpointError {
        CheckpointError(
            code: .truncated,
            message: "state file \(displayPath) is \(size) bytes but the checkpoint needs \(needed); "
                + "the file was cut off (a partial write or a disk problem) — restore from an earlier checkpoint",
            path: path)
    }

    private static func readFully(_ fd: Int32, offset: Int64, count: Int, path: String) throws(CheckpointError) -> [UInt8] {
        guard count > 0 else { return [] }
        var failure: CheckpointError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let n = pread(fd, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n > 0 {
                    done += n
                } else if n == 0 {
                    failure = CheckpointError(
                        code: .truncated,
                        message: "\(path) ended after \(Int64(done) + offset) bytes while reading; the file was "
                            + "cut off — restore from an earlier checkpoint",
                        path: path)
                    break
                } else if errno != EINTR {
                    failure = error(errno, "read", path)
                    break
                }
            }
            initialized = done
        }
        if let failure { throw failure }
        return bytes
    }

    /// Deletes the file `path`; a missing file is not an error.
    static func remove(_ path: String) throws(CheckpointError) {
        if unlink(path) != 0 && errno != ENOENT { throw error(errno, "delete", path) }
    }

    /// Deletes the empty directory `path`; a missing directory is not an error.
    static func removeDirectory(_ path: String) throws(CheckpointError) {
        if rmdir(path) != 0 && errno != ENOENT { throw error(errno, "delete directory", path) }
    }

    /// Gives the complete file `temporary` its final name `final`, refusing to replace a file
    /// that is there already (`.alreadyExists`). Both are in the same directory.
    static func publish(temporary: String, as final: String) throws(CheckpointError) {
        if link(temporary, final) == 0 {
            try remove(temporary)
            return
        }
        let code = errno
        if code == EEXIST {
            throw CheckpointError(
                code: .alreadyExists,
                message: "\(final) already exists; Rill never overwrites a completed checkpoint file",
                path: final)
        }
        guard code == EPERM || code == ENOTSUP || code == EOPNOTSUPP || code == ENOSYS || code == EMLINK else {
            throw error(code, "rename \(temporary) to", final)
        }
        // A file system without hard links: check, then rename (callers hold the storage lock).
        if try status(final) != nil {
            throw CheckpointError(
                code: .alreadyExists,
                message: "\(final) already exists; Rill never overwrites a completed checkpoint file",
                path: final)
        }
        if rename(temporary, final) != 0 { throw error(errno, "rename \(temporary) to", final) }
    }

    /// Writes `bytes` to `final` in the directory `directory`: a temporary file, fsync,
    /// a rename that does not replace, and an fsync of the directory.
    static func writeAtomically(_ bytes: [UInt8], directory: String, name: String) throws(CheckpointError) {
        let final = directory + "/" + name
        let file = try OutputFile(creatingTemporaryFor: name, in: directory)
        do throws(CheckpointError) {
            try file.write(bytes)
            try file.syncAndClose()
            try publish(temporary: file.path, as: final)
        } catch {
            file.discard()
            throw error
        }
        try syncDirectory(directory)
    }

    /// The directory part of `path` (`"."` for a bare name).
    static func parentDirectory(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }

    /// The last component of `path`.
    static func lastComponent(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// `path` without trailing slashes.
    static func normalized(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }

    /// A name that is free for a temporary file and starts with ".tmp-" (never a final name).
    static func temporaryName(for name: String) -> String {
        ".tmp-\(name)-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    }

    /// Maps `errno` after `operation` on `path` to an error that says what to do.
    static func error(_ code: Int32, _ operation: String, _ path: String) -> CheckpointError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT:
            return CheckpointError(code: .notFound, message: "cannot \(operation) \(path): it does not exist", path: path)
        case ENOSPC, EDQUOT:
            return CheckpointError(
                code: .io,
                message: "cannot \(operation) \(path): no space left on the device (\(reason)); free space or "
                    + "point checkpoints at a larger volume",
                path: path)
        case EACCES, EPERM, EROFS:
            return CheckpointError(
                code: .io,
                message: "cannot \(operation) \(path): \(reason); make it writable by this process or choose "
                    + "another directory",
                path: path)
        case ENOTDIR:
            return CheckpointError(
                code: .io, message: "cannot \(operation) \(path): a part of the path is not a directory", path: path)
        default:
            return CheckpointError(code: .io, message: "cannot \(operation) \(path): \(reason)", path: path)
        }
    }
}

extension _CheckpointFiles {
    /// A new file opened for writing under a temporary name. Not thread-safe: its owner
    /// serializes access. Closed when released; ``discard()`` also deletes it.
    final class OutputFile {
        /// The temporary file's path.
        let path: String
        private var fd: Int32

        /// Creates `directory/.tmp-<name>-<random>`, failing if it exists.
        init(creatingTemporaryFor name: String, in directory: String) throws(CheckpointError) {
            var attempt = 0
            while true {
                let candidate = directory + "/" + _CheckpointFiles.temporaryName(for: name)
                let fd = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                if fd >= 0 {
                    self.path = candidate
                    self.fd = fd
                    return
                }
                let code = errno
                attempt += 1
                if code != EEXIST || attempt > 8 { throw _CheckpointFiles.error(code, "create", candidate) }
            }
        }

        deinit {
            if fd >= 0 { close(fd) }
        }

        /// Appends `bytes`; a short write (disk full) is an error.
        func write(_ bytes: UnsafeRawBufferPointer) throws(CheckpointError) {
            guard var p = bytes.baseAddress, bytes.count > 0 else { return }
            var remaining = bytes.count
            while remaining > 0 {
                #if canImport(Darwin)
                let n = Darwin.write(fd, p, remaining)
                #elseif canImport(Glibc)
                let n = Glibc.write(fd, p, remaining)
                #else
                let n = Musl.write(fd, p, remaining)
                #endif
                if n > 0 {
                    p += n
                    remaining -= n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    // write returning 0 for a regular file means no space.
                    throw _CheckpointFiles.error(n == 0 ? ENOSPC : errno, "write", path)
                }
            }
        }

        /// Appends `bytes`; a short write (disk full) is an error.
        func write(_ bytes: [UInt8]) throws(CheckpointError) {
            var failure: CheckpointError?
            bytes.withUnsafeBytes { buffer in
                do throws(CheckpointError) { try write(buffer) } catch { failure = error }
            }
            if let failure { throw failure }
        }

        /// Flushes the file's data to disk and closes it.
        func syncAndClose() throws(CheckpointError) {
            if fsync(fd) != 0 { throw _CheckpointFiles.error(errno, "sync", path) }
            let result = close(fd)
            fd = -1
            if result != 0 { throw _CheckpointFiles.error(errno, "close", path) }
        }

        /// Closes and deletes the temporary file, ignoring errors (used after a failure).
        func discard() {
            if fd >= 0 {
                close(fd)
                fd = -1
            }
            unlink(path)
        }
    }
}
