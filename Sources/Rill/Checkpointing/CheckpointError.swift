/// An error from checkpoint storage: a file that is missing, cut off or corrupted, a
/// checkpoint that already exists, a format this build cannot read, or a failed disk
/// operation (disk full, permission denied).
///
/// Match on ``code``; ``message`` is for people: it names the file and says what to do.
/// ``path`` is the file or directory concerned, when there is one.
public struct CheckpointError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable error code. New codes may be added in later releases, so a `switch` over
    /// codes needs a `default` branch.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case notFound
            case alreadyExists
            case corrupt
            case truncated
            case incompatible
            case io
            case invalidArgument
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A checkpoint, savepoint or state file does not exist (or a checkpoint directory
        /// holds no completed checkpoint).
        public static var notFound: Code { Code(.notFound) }
        /// The target already holds a completed checkpoint, savepoint or file; Rill never
        /// overwrites one.
        public static var alreadyExists: Code { Code(.alreadyExists) }
        /// The stored bytes do not match their checksum or do not decode.
        public static var corrupt: Code { Code(.corrupt) }
        /// A file is shorter than the data that refers to it (a partial write).
        public static var truncated: Code { Code(.truncated) }
        /// The data was written in a format version this build does not read.
        public static var incompatible: Code { Code(.incompatible) }
        /// The operating system refused an operation: disk full, permission denied, not a
        /// directory, ...
        public static var io: Code { Code(.io) }
        /// A name, id or count passed to the storage is not usable.
        public static var invalidArgument: Code { Code(.invalidArgument) }

        public var description: String { base.rawValue }
    }

    /// What went wrong, as a stable code.
    public let code: Code
    /// What is wrong, which file, and what to do about it.
    public let message: String
    /// The file or directory concerned, when there is one.
    public let path: String?

    public init(code: Code, message: String, path: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String { "CheckpointError(\(code)): \(message)" }
}

extension CheckpointError {
    /// Maps a codec failure while decoding the file at `path` to a storage error.
    static func _decoding(_ error: CodecError, what: String, path: String) -> CheckpointError {
        if error.code == .versionMismatch {
            return CheckpointError(
                code: .incompatible, message: "\(what) \(path) cannot be read by this build: \(error.message)",
                path: path)
        }
        if error.code == .truncated {
            return CheckpointError(
                code: .truncated,
                message: "\(what) \(path) is incomplete: \(error.message)",
                path: path)
        }
        return CheckpointError(
            code: .corrupt,
            message: "\(what) \(path) is corrupt (\(error.code)): \(error.message)",
            path: path)
    }
}
