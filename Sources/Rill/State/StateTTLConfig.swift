/// Time-to-live of keyed state, in processing time (Flink's `StateTtlConfig`).
///
/// A value (or a list element, or a map entry) expires `ttl` after its last access, where
/// "access" is creation and every write (``UpdateType/onCreateAndWrite``) or also every read
/// (``UpdateType/onReadAndWrite``). It expires when `lastAccess + ttl <= now`. Expired values
/// are removed lazily when they are touched and by ``KeyedStateBackend/cleanupExpired()``.
public struct StateTTLConfig: Hashable, Sendable {
    /// Which accesses refresh the last-access timestamp.
    public enum UpdateType: Hashable, Sendable {
        /// Creation and every write.
        case onCreateAndWrite
        /// Creation, every write and every read.
        case onReadAndWrite
    }

    /// Whether an expired value that has not been removed yet can still be read.
    public enum StateVisibility: Hashable, Sendable {
        /// Expired values are never returned.
        case neverReturnExpired
        /// An expired value is returned by the read that removes it (once).
        case returnExpiredIfNotCleanedUp
    }

    public var ttl: Duration
    public var updateType: UpdateType
    public var visibility: StateVisibility

    /// Flink's defaults: refresh on create and write; never return expired values.
    public init(
        ttl: Duration,
        updateType: UpdateType = .onCreateAndWrite,
        visibility: StateVisibility = .neverReturnExpired
    ) {
        self.ttl = ttl
        self.updateType = updateType
        self.visibility = visibility
    }
}

/// The per-record view of a TTL configuration.
@usableFromInline
struct _TTLPolicy: Sendable {
    @usableFromInline let ttlMillis: Int64
    @usableFromInline let updateOnRead: Bool
    @usableFromInline let returnExpired: Bool

    @usableFromInline static let disabled = _TTLPolicy(ttlMillis: 0, updateOnRead: false, returnExpired: false)

    @usableFromInline
    init(ttlMillis: Int64, updateOnRead: Bool, returnExpired: Bool) {
        self.ttlMillis = ttlMillis
        self.updateOnRead = updateOnRead
        self.returnExpired = returnExpired
    }

    init(_ config: StateTTLConfig?) throws(StateError) {
        guard let config else {
            self = .disabled
            return
        }
        let millis = config.ttl.milliseconds
        guard millis > 0 else {
            throw StateError(
                code: .invalidTTL,
                message: "state TTL must be at least 1 ms, got \(config.ttl); use a positive duration or no TTL")
        }
        self.init(
            ttlMillis: millis,
            updateOnRead: config.updateType == .onReadAndWrite,
            returnExpired: config.visibility == .returnExpiredIfNotCleanedUp)
    }

    /// Flink's `TtlUtils.expired`: the expiration time (saturating) is not after `now`.
    @inlinable
    func isExpired(lastAccess: Int64, now: Int64) -> Bool {
        let (expiration, overflow) = lastAccess.addingReportingOverflow(ttlMillis)
        return (overflow ? Int64.max : expiration) <= now
    }
}
