/// An error raised by Rill: what went wrong, where, and what to do about it.
///
/// `code` is stable and safe to switch over with a `default` branch; new codes may be added.
public struct RillError: Error, CustomStringConvertible, @unchecked Sendable {
    // `underlying` is only read for reporting.

    /// A stable error code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Raw: String {
            case invalidConfiguration, invalidJobGraph, userFunctionFailed, sourceFailed, sinkFailed
            case invalidPartition, jobCancelled, jobFailed, stateError, internalError
        }
        private let raw: Raw
        private init(_ raw: Raw) { self.raw = raw }

        /// A configuration value is out of range or inconsistent.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The job cannot be built as written (a uid used twice, a forward edge across parallelisms, ...).
        public static let invalidJobGraph = Code(.invalidJobGraph)
        /// A user function threw.
        public static let userFunctionFailed = Code(.userFunctionFailed)
        /// A source threw.
        public static let sourceFailed = Code(.sourceFailed)
        /// A sink threw.
        public static let sinkFailed = Code(.sinkFailed)
        /// A custom partitioner chose a channel that does not exist.
        public static let invalidPartition = Code(.invalidPartition)
        /// The job was cancelled.
        public static let jobCancelled = Code(.jobCancelled)
        /// The job failed; `underlying` holds the first task failure.
        public static let jobFailed = Code(.jobFailed)
        /// State was used in a way its declaration does not allow.
        public static let stateError = Code(.stateError)
        /// A bug in Rill; please report it with the message.
        public static let internalError = Code(.internalError)

        public var description: String { raw.rawValue }
    }

    public let code: Code
    /// What happened and what to do.
    public let message: String
    /// The operator (chain member) where it happened, if any.
    public var operatorName: String?
    /// The subtask index where it happened, if any.
    public var subtaskIndex: Int?
    /// The error that caused this one.
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, operatorName: String? = nil, subtaskIndex: Int? = nil,
                underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.operatorName = operatorName
        self.subtaskIndex = subtaskIndex
        self.underlying = underlying
    }

    public var description: String {
        var text = "[\(code)] \(message)"
        if let operatorName {
            text += " (operator '\(operatorName)'"
            if let subtaskIndex { text += ", subtask \(subtaskIndex)" }
            text += ")"
        }
        if let underlying { text += "; caused by: \(underlying)" }
        return text
    }
}
