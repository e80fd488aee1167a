/// How thoroughly a checkpoint's files are checked before it is reported usable.
public enum CheckpointVerification: Sendable, Hashable {
    /// Only the `_metadata` file (checksum, format) is checked.
    case metadataOnly
    /// Also that every referenced file exists and is long enough: one `stat` per file.
    /// Checksums of the blobs are then checked when they are read.
    case sizes
    /// Also the CRC-32C of every referenced blob: reads all the state.
    case checksums
}

extension CheckpointVerification {
    /// Checks the files `metadata` references, relative to `baseDirectory`.
    func verify(_ metadata: CheckpointMetadata, baseDirectory: String) throws(_SnapshotProblem) {
        guard self != .metadataOnly else { return }
        var needed: [String: Int64] = [:]
        for handle in metadata.allHandles {
            needed[handle.relativePath] = max(needed[handle.relativePath] ?? 0, handle.endOffset)
        }
        for (relativePath, end) in needed.sorted(by: { $0.key < $1.key }) {
            let path = try _resolve(relativePath, in: baseDirectory)
            let status: _CheckpointFiles.Status?
            do {
                status = try _CheckpointFiles.status(path)
            } catch {
                throw _SnapshotProblem("cannot read \(relativePath): \(error.message)", error)
            }
            guard let status, status.isRegularFile else {
                throw _SnapshotProblem(
                    "references missing file \(relativePath)",
                    CheckpointError(
                        code: .notFound,
                        message: "checkpoint \(metadata.checkpointId) references \(path), which does not exist "
                            + "(deleted or never written); restore from an earlier checkpoint or a savepoint",
                        path: path))
            }
            guard status.size >= end else {
                throw _SnapshotProblem(
                    "references \(relativePath), which is cut off (\(status.size) of \(end) bytes)",
                    _CheckpointFiles.truncated(path, path: path, size: status.size, needed: end))
            }
        }
        guard self == .checksums else { return }
        for handle in metadata.allHandles {
            do {
                _ = try CheckpointStorage.read(handle, baseDirectory: baseDirectory)
            } catch {
                let summary =
                    error.code == .corrupt
                    ? "\(handle.relativePath): checksum mismatch in bytes \(handle.offset)..<\(handle.endOffset)"
                    : "\(handle.relativePath): \(error.message)"
                throw _SnapshotProblem(summary, error)
            }
        }
    }
}

/// The path of `relativePath` under `baseDirectory`, refusing paths that leave it.
func _resolve(_ relativePath: String, in baseDirectory: String) throws(_SnapshotProblem) -> String {
    let components = relativePath.split(separator: "/", omittingEmptySubsequences: false)
    guard !relativePath.isEmpty, !relativePath.hasPrefix("/"), !relativePath.utf8.contains(0),
        components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
    else {
        throw _SnapshotProblem(
            "references an invalid path '\(relativePath)'",
            CheckpointError(
                code: .corrupt,
                message: "a state handle in \(baseDirectory) has the path '\(relativePath)', which is not a plain "
                    + "relative path; the metadata is corrupt — use an earlier checkpoint",
                path: baseDirectory))
    }
    return baseDirectory + "/" + relativePath
}
