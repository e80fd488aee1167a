/// How an operator list state is redistributed when the parallelism changes (Flink's
/// `OperatorStateHandle.Mode`).
public enum OperatorStateDistribution: Hashable, Sendable {
    /// Entries of all subtasks are concatenated (subtask order) and split into contiguous,
    /// near-equal chunks, one per new subtask (`getListState`).
    case splitDistribute
    /// Every new subtask gets every entry of every old subtask (`getUnionListState`).
    case union
    /// Every subtask holds the same map; new subtask `i` gets old subtask `i % oldParallelism`'s
    /// copy (broadcast state).
    case broadcast
}

/// Non-keyed state of one operator subtask (Flink's `OperatorStateStore`): list state, union
/// list state and broadcast state, each by name.
///
/// Restoring happens before the operator asks for its states: ``restoreListState(name:distribution:entries:)``
/// and ``restoreBroadcastState(name:entries:)`` hand the redistributed entries to the store;
/// the first request of that name returns them. Used only on the task thread.
public final class OperatorStateStore {
    struct Registration {
        let distribution: OperatorStateDistribution
        let typeID: ObjectIdentifier
        let typeName: String
        let state: AnyObject
        /// Captures the entries (copy-on-write) and returns what encodes them later.
        let capture: () -> () throws -> [[UInt8]]
        /// Replaces the entries with decoded checkpoint elements.
        let restore: ([[UInt8]]) throws -> Void
    }

    struct Pending {
        let distribution: OperatorStateDistribution
        let entries: Any
        let typeName: String
    }

    var registry: [String: Registration] = [:]
    var pending: [String: Pending] = [:]
    /// Checkpointed elements of states not registered yet, with their distribution.
    var restoredElements: [String: (distribution: OperatorStateDistribution, elements: [[UInt8]])] = [:]

    public init() {}

    /// A list state redistributed round-robin on rescale (Flink's `getListState`).
    ///
    /// - Throws: ``StateError/Code/stateTypeMismatch`` when the name is registered (or was
    ///   restored) with another kind or element type.
    public func listState<V>(name: String, of type: V.Type = V.self) throws(StateError) -> OperatorListState<V> {
        try list(name: name, distribution: .splitDistribute)
    }

    /// A list state of which every subtask gets all entries on restore (Flink's
    /// `getUnionListState`).
    public func unionListState<V>(name: String, of type: V.Type = V.self) throws(StateError) -> OperatorListState<V> {
        try list(name: name, distribution: .union)
    }

    /// A map that is identical on all subtasks (Flink's `getBroadcastState`). Only the
    /// broadcast side should write it; hand ``BroadcastState/readOnly`` to the other side.
    public func broadcastState<K: Hashable, V>(
        name: String, keyType: K.Type = K.self, valueType: V.Type = V.self
    ) throws(StateError) -> BroadcastState<K, V> {
        try register(name: name, distribution: .broadcast, make: { () throws(StateError) in
            let state = BroadcastState<K, V>(name: name)
            if let restored = try takePending(name, as: [K: V].self, distribution: .broadcast) {
                state.putAll(restored)
            }
            return state
        }, capture: { state in
            let map = state.map
            return {
                let (keyCodec, valueCodec) = try (Self.codec(K.self, name), Self.codec(V.self, name))
                return try map.map { key, value in
                    var writer = BinaryWriter(capacity: 32)
                    try keyCodec.encode(key, &writer)
                    try valueCodec.encode(value, &writer)
                    return writer.bytes
                }
            }
        }, restore: { state, elements in
            let (keyCodec, valueCodec) = try (Self.codec(K.self, name), Self.codec(V.self, name))
            state.clear()
            for element in elements {
                var reader = BinaryReader(element)
                let key = try keyCodec.decode(&reader)
                state.put(key, try valueCodec.decode(&reader))
            }
        })
    }

    /// The names of the registered states with their distribution, sorted by name.
    public var registeredStates: [(name: String, distribution: OperatorStateDistribution)] {
        registry.map { ($0.key, $0.value.distribution) }.sorted { $0.name < $1.name }
    }

    /// Hands restored entries of a list state to the store (before the operator asks for it).
    /// If the state is already registered its contents are replaced.
    public func restoreListState<V>(
        name: String, distribution: OperatorStateDistribution, entries: [V]
    ) throws(StateError) {
        precondition(distribution != .broadcast, "use restoreBroadcastState for broadcast state")
        if let existing = registry[name] {
            guard existing.distribution == distribution, let state = existing.state as? OperatorListState<V> else {
                throw mismatch(name, registered: existing.typeName, asked: "\(OperatorListState<V>.self)")
            }
            state.update(entries)
            return
        }
        pending[name] = Pending(distribution: distribution, entries: entries, typeName: "\(OperatorListState<V>.self)")
    }

    /// Hands a restored broadcast map to the store (before the operator asks for it).
    public func restoreBroadcastState<K: Hashable, V>(name: String, entries: [K: V]) throws(StateError) {
        if let existing = registry[name] {
            guard let state = existing.state as? BroadcastState<K, V> else {
                throw mismatch(name, registered: existing.typeName, asked: "\(BroadcastState<K, V>.self)")
            }
            state.clear()
            state.putAll(entries)
            return
        }
        pending[name] = Pending(distribution: .broadcast, entries: entries, typeName: "\(BroadcastState<K, V>.self)")
    }

    func list<V>(name: String, distribution: OperatorStateDistribution) throws(StateError) -> OperatorListState<V> {
        try register(name: name, distribution: distribution, make: { () throws(StateError) in
            let state = OperatorListState<V>(name: name, distribution: distribution)
            if let restored = try takePending(name, as: [V].self, distribution: distribution) {
                state.update(restored)
            }
            return state
        }, capture: { state in
            let elements = state.elements
            return {
                let codec = try Self.codec(V.self, name)
                return try elements.map { try codec.encodedBytes($0) }
            }
        }, restore: { state, elements in
            let codec = try Self.codec(V.self, name)
            state.update(try elements.map { try codec.decodeValue(from: $0) })
        })
    }

    func takePending<T>(_ name: String, as type: T.Type, distribution: OperatorStateDistribution) throws(StateError) -> T? {
        guard let restored = pending[name] else { return nil }
        guard restored.distribution == distribution, let entries = restored.entries as? T else {
            throw mismatch(name, registered: "\(restored.typeName) (restored, \(restored.distribution))",
                           asked: "\(T.self) (\(distribution))")
        }
        pending[name] = nil
        return entries
    }

    func register<S: AnyObject>(
        name: String, distribution: OperatorStateDistribution, make: () throws(StateError) -> S,
        capture: @escaping (S) -> () throws -> [[UInt8]], restore: @escaping (S, [[UInt8]]) throws -> Void
    ) throws(StateError) -> S {
        if let existing = registry[name] {
            guard existing.distribution == distribution, existing.typeID == ObjectIdentifier(S.self) else {
                throw mismatch(name, registered: "\(existing.typeName) (\(existing.distribution))",
                               asked: "\(S.self) (\(distribution))")
            }
            return unsafeDowncast(existing.state, to: S.self)
        }
        let state = try make()
        if let restored = restoredElements[name] {
            guard restored.distribution == distribution else {
                throw mismatch(name, registered: "checkpointed as \(restored.distribution)", asked: "\(S.self) (\(distribution))")
            }
            do {
                try restore(state, restored.elements)
            } catch {
                throw StateError(code: .stateTypeMismatch,
                                 message: "operator state '\(name)' cannot be read back as \(S.self): \(error); restore with the type it was checkpointed with")
            }
            restoredElements[name] = nil
        }
        registry[name] = Registration(
            distribution: distribution, typeID: ObjectIdentifier(S.self), typeName: "\(S.self)", state: state,
            capture: { capture(state) }, restore: { try restore(state, $0) })
        return state
    }

    // MARK: checkpoints

    /// Captures every registered state (copy-on-write, on the task thread) into `snapshot`;
    /// the checkpoint writer encodes them. States restored but never asked for again are
    /// carried over unchanged.
    func snapshot(into snapshot: OperatorSnapshot) {
        for (name, registration) in registry.sorted(by: { $0.key < $1.key }) {
            snapshot.operatorState.append((name: name, distribution: NamedStateHandle.distributionName(registration.distribution),
                                           elements: registration.capture()))
        }
        for (name, restored) in restoredElements.sorted(by: { $0.key < $1.key }) {
            let elements = restored.elements
            snapshot.operatorState.append((name: name, distribution: NamedStateHandle.distributionName(restored.distribution),
                                           elements: { elements }))
        }
    }

    /// Loads the checkpointed states of this subtask (already redistributed); a state already
    /// registered is replaced now, others when the operator asks for them.
    func restore(_ states: [(name: String, distribution: String, bytes: [[UInt8]])]) throws {
        for state in states {
            guard let distribution = NamedStateHandle.distribution(named: state.distribution) else {
                throw RillError(.stateError, "operator state '\(state.name)' has the unknown distribution '\(state.distribution)'; the checkpoint was written by a newer release")
            }
            if let registration = registry[state.name] {
                guard registration.distribution == distribution else {
                    throw mismatch(state.name, registered: "\(registration.typeName) (\(registration.distribution))",
                                   asked: "checkpointed \(distribution)")
                }
                try registration.restore(state.bytes)
            } else {
                restoredElements[state.name] = (distribution, state.bytes)
            }
        }
    }

    static func codec<T>(_: T.Type, _ name: String) throws -> StateCodec<T> {
        guard let codec = StateCodec<T>.discovered() else {
            throw RillError(.stateError, "operator state '\(name)' cannot be checkpointed: \(T.self) conforms to neither BinaryCodable nor Codable; add a conformance")
        }
        return codec
    }

    func mismatch(_ name: String, registered: String, asked: String) -> StateError {
        StateError(
            code: .stateTypeMismatch,
            message: "operator state '\(name)' is \(registered), not \(asked); "
                + "ask for it with the registered kind and type or use another state name")
    }
}

/// A list of values held by one operator subtask (Flink's operator `ListState`): redistributed
/// round-robin or as a union on rescale, per its ``distribution``.
public final class OperatorListState<V> {
    public let name: String
    public let distribution: OperatorStateDistribution
    @usableFromInline @exclusivity(unchecked) var elements: [V] = []

    init(name: String, distribution: OperatorStateDistribution) {
        self.name = name
        self.distribution = distribution
    }

    /// The elements (shared copy-on-write).
    @inlinable public func get() -> [V] { elements }
    @inlinable public func add(_ value: V) { elements.append(value) }
    @inlinable public func addAll<S: Sequence>(_ values: S) where S.Element == V { elements.append(contentsOf: values) }
    /// Replaces the elements.
    @inlinable public func update(_ values: [V]) { elements = values }
    @inlinable public func clear() { elements = [] }
}

/// A map that is the same on every subtask of an operator (Flink's `BroadcastState`).
public final class BroadcastState<K: Hashable, V> {
    public let name: String
    @usableFromInline @exclusivity(unchecked) var map: [K: V] = [:]

    init(name: String) { self.name = name }

    @inlinable public func get(_ key: K) -> V? { map[key] }
    @inlinable public func put(_ key: K, _ value: V) { map[key] = value }
    @inlinable public func putAll(_ entries: [K: V]) { map.merge(entries) { _, new in new } }
    @inlinable public func remove(_ key: K) { map[key] = nil }
    @inlinable public func contains(_ key: K) -> Bool { map[key] != nil }
    /// The entries (shared copy-on-write; also what a snapshot writes).
    @inlinable public func entries() -> [K: V] { map }
    @inlinable public func keys() -> Dictionary<K, V>.Keys { map.keys }
    @inlinable public func values() -> Dictionary<K, V>.Values { map.values }
    @inlinable public func isEmpty() -> Bool { map.isEmpty }
    @inlinable public func clear() { map = [:] }

    /// A view without mutating methods, for the non-broadcast side of a
    /// broadcast-connected stream.
    public var readOnly: ReadOnlyBroadcastState<K, V> { ReadOnlyBroadcastState(state: self) }
}

/// Read access to a ``BroadcastState`` (Flink's `ReadOnlyBroadcastState`).
public struct ReadOnlyBroadcastState<K: Hashable, V> {
    @usableFromInline let state: BroadcastState<K, V>

    init(state: BroadcastState<K, V>) { self.state = state }

    public var name: String { state.name }
    @inlinable public func get(_ key: K) -> V? { state.get(key) }
    @inlinable public func contains(_ key: K) -> Bool { state.contains(key) }
    @inlinable public func entries() -> [K: V] { state.entries() }
    @inlinable public func keys() -> Dictionary<K, V>.Keys { state.keys() }
    @inlinable public func values() -> Dictionary<K, V>.Values { state.values() }
    @inlinable public func isEmpty() -> Bool { state.isEmpty() }
}

/// The pure redistribution functions of operator state on rescale (Flink's
/// `RoundRobinOperatorStateRepartitioner`). Input: per old subtask, its entries; output: per
/// new subtask, the entries it restores.
public enum OperatorStateRedistribution {
    /// `splitDistribute`: concatenates the old subtasks' entries (in subtask order) and cuts
    /// them into `newParallelism` contiguous chunks, the first `total % newParallelism` chunks
    /// one entry longer. `startIndex` rotates which subtask gets the first chunk (Flink rotates
    /// it across the states of an operator so that remainders spread evenly).
    ///
    /// - Complexity: O(total entries).
    public static func splitDistribute<V>(_ perSubtask: [[V]], newParallelism: Int, startIndex: Int = 0) -> [[V]] {
        precondition(newParallelism > 0, "new parallelism must be positive")
        let all = perSubtask.flatMap { $0 }
        let base = all.count / newParallelism
        var remainder = all.count % newParallelism
        var result = Array(repeating: [V](), count: newParallelism)
        var offset = 0
        for round in 0..<newParallelism {
            var take = base
            if remainder > 0 {
                take += 1
                remainder -= 1
            }
            result[(round + startIndex) % newParallelism] = Array(all[offset..<offset + take])
            offset += take
        }
        return result
    }

    /// `union`: every new subtask gets every entry of every old subtask (in subtask order).
    public static func union<V>(_ perSubtask: [[V]], newParallelism: Int) -> [[V]] {
        precondition(newParallelism > 0, "new parallelism must be positive")
        return Array(repeating: perSubtask.flatMap { $0 }, count: newParallelism)
    }

    /// `broadcast`: new subtask `i` gets old subtask `i % oldParallelism`'s map (they are all
    /// equal when the user kept the broadcast contract).
    public static func broadcast<K: Hashable, V>(_ perSubtask: [[K: V]], newParallelism: Int) -> [[K: V]] {
        precondition(newParallelism > 0, "new parallelism must be positive")
        guard !perSubtask.isEmpty else { return Array(repeating: [:], count: newParallelism) }
        return (0..<newParallelism).map { perSubtask[$0 % perSubtask.count] }
    }

    /// Redistributes list entries per `distribution` (`.splitDistribute` or `.union`).
    public static func redistribute<V>(
        _ perSubtask: [[V]], distribution: OperatorStateDistribution, newParallelism: Int
    ) -> [[V]] {
        switch distribution {
        case .splitDistribute: splitDistribute(perSubtask, newParallelism: newParallelism)
        case .union: union(perSubtask, newParallelism: newParallelism)
        case .broadcast:
            (0..<newParallelism).map { perSubtask.isEmpty ? [] : perSubtask[$0 % perSubtask.count] }
        }
    }
}
