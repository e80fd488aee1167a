/// One entry of ``CheckpointStorage/listCheckpoints(verification:)``: a `chk-N` directory
/// (or a savepoint directory inside the checkpoint directory), and whether it can be
/// restored.
public struct CheckpointListing: Hashable, Sendable, CustomStringConvertible {
    /// The checkpoint id: `N` of `chk-N`, or the savepoint's id from its metadata.
    public var checkpointId: Int64
    /// The checkpoint's or savepoint's directory.
    public var path: String
    /// The metadata, when `_metadata` exists and reads back intact (even if a referenced
    /// file is missing).
    public var metadata: CheckpointMetadata?
    /// Why the checkpoint cannot be restored (for example `"no _metadata (incomplete
    /// checkpoint)"`, `"_metadata corrupt: checksum mismatch"`, `"references missing file
    /// chk-3/op-1-sub-0.state"`); `nil` when it can.
    public var problem: String?
    /// The bytes of the files in the directory (what deleting it would free, less files that
    /// newer incremental checkpoints reference).
    public var bytesOnDisk: Int64

    public init(
        checkpointId: Int64, path: String, metadata: CheckpointMetadata?, problem: String?, bytesOnDisk: Int64
    ) {
        self.checkpointId = checkpointId
        self.path = path
        self.metadata = metadata
        self.problem = problem
        self.bytesOnDisk = bytesOnDisk
    }

    /// `true` when the checkpoint passed verification.
    public var isValid: Bool { problem == nil }

    /// Checkpoint or savepoint, when the metadata could be read.
    public var kind: CheckpointKind? { metadata?.kind }

    public var description: String {
        "\(path): " + (problem.map { "invalid: \($0)" } ?? "valid \(kind.map { "\($0)" } ?? "")")
    }
}
