/// An error from keyed or operator state: a bad configuration or a state registered twice with
/// different shapes. The `code` is stable; the message says what to change.
public struct StateError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A stable error code. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidParallelism
            case invalidMaxParallelism
            case invalidKeyGroupRange
            case stateTypeMismatch
            case invalidTTL
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A parallelism or operator index outside its bounds.
        public static let invalidParallelism = Code(.invalidParallelism)
        /// A max parallelism outside `1...32768`.
        public static let invalidMaxParallelism = Code(.invalidMaxParallelism)
        /// A key-group range that is empty or does not fit the max parallelism.
        public static let invalidKeyGroupRange = Code(.invalidKeyGroupRange)
        /// A state name asked for (or restored) with another kind, value type or TTL than
        /// the one it was first registered with.
        public static let stateTypeMismatch = Code(.stateTypeMismatch)
        /// A TTL that is not positive.
        public static let invalidTTL = Code(.invalidTTL)

        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "StateError(\(code)): \(message)" }
}
