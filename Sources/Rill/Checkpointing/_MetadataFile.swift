/// The `_metadata` file: a ``FramedBlob`` (magic `"RCKP"`, the metadata format version,
/// CRC-32C) around a ``CheckpointMetadata`` encoding.
enum _MetadataFile {
    static var name: String { "_metadata" }
    static var magic: FramedBlob.Magic { FramedBlob.Magic("RCKP") }

    /// The file's bytes for `metadata`, written with the current format version.
    static func encode(_ metadata: CheckpointMetadata) -> [UInt8] {
        var current = metadata
        current.formatVersion = CheckpointMetadata.currentFormatVersion
        var writer = BinaryWriter(capacity: 256)
        FramedBlob.write(magic: magic, version: current.formatVersion, to: &writer) { current.encode(to: &$0) }
        return writer.bytes
    }

    /// Reads and checks the metadata file at `path`.
    static func read(_ path: String) throws(_SnapshotProblem) -> CheckpointMetadata {
        let bytes: [UInt8]
        do {
            bytes = try _CheckpointFiles.readAll(path)
        } catch {
            if error.code == .notFound {
                throw _SnapshotProblem(
                    "no _metadata (incomplete checkpoint)",
                    CheckpointError(
                        code: .notFound,
                        message: "\(path) does not exist: the checkpoint never completed (or this is not a "
                            + "checkpoint or savepoint directory); choose a completed one ('rill checkpoints list')",
                        path: path))
            }
            throw _SnapshotProblem("_metadata unreadable: \(error.message)", error)
        }
        do {
            var frame = try FramedBlob.read(bytes, magic: magic, versions: CheckpointMetadata.readableFormatVersions)
            let metadata = try CheckpointMetadata(from: &frame.payload)
            try frame.payload.expectEnd()
            return metadata
        } catch let error as CodecError {
            let summary: String
            switch error.code {
            case .checksumMismatch: summary = "_metadata corrupt: checksum mismatch"
            case .truncated: summary = "_metadata truncated (partial write)"
            case .versionMismatch: summary = "_metadata written in a format this build does not read"
            default: summary = "_metadata corrupt: \(error.code)"
            }
            throw _SnapshotProblem(summary, CheckpointError._decoding(error, what: "checkpoint metadata", path: path))
        } catch {
            throw _SnapshotProblem(
                "_metadata unreadable", CheckpointError(code: .corrupt, message: "\(path): \(error)", path: path))
        }
    }
}

/// Why a checkpoint or savepoint cannot be used: a short summary for listings and the full
/// error for whoever asked for it.
struct _SnapshotProblem: Error {
    var summary: String
    var error: CheckpointError

    init(_ summary: String, _ error: CheckpointError) {
        self.summary = summary
        self.error = error
    }
}
