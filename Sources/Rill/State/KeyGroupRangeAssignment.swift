/// Flink's key → key group → operator index arithmetic (`KeyGroupRangeAssignment` and
/// `MathUtils.murmurHash`), bit for bit, so that a key lands in the same key group and subtask
/// as it would in Flink with the same max parallelism.
public enum KeyGroupRangeAssignment {
    /// The smallest default max parallelism (`1 << 7`).
    public static let defaultLowerBoundMaxParallelism = 1 << 7
    /// The largest max parallelism (`1 << 15`), inclusive.
    public static let upperBoundMaxParallelism = 1 << 15

    /// The key group of `key`: `murmurHash(key.stableHashCode) % maxParallelism`.
    ///
    /// - Precondition: `maxParallelism > 0`.
    @inlinable
    public static func assignToKeyGroup<K: StableHashable>(_ key: K, maxParallelism: Int) -> Int {
        computeKeyGroupForKeyHash(key.stableHashCode, maxParallelism: maxParallelism)
    }

    /// `murmurHash(keyHash) % maxParallelism`.
    @inlinable
    public static func computeKeyGroupForKeyHash(_ keyHash: Int32, maxParallelism: Int) -> Int {
        Int(murmurHash(keyHash)) % maxParallelism
    }

    /// The subtask index a key goes to.
    @inlinable
    public static func assignKeyToParallelOperator<K: StableHashable>(
        _ key: K, maxParallelism: Int, parallelism: Int
    ) -> Int {
        computeOperatorIndexForKeyGroup(
            maxParallelism: maxParallelism, parallelism: parallelism,
            keyGroup: assignToKeyGroup(key, maxParallelism: maxParallelism))
    }

    /// The subtask that owns `keyGroup`: `keyGroup * parallelism / maxParallelism`.
    @inlinable
    public static func computeOperatorIndexForKeyGroup(maxParallelism: Int, parallelism: Int, keyGroup: Int) -> Int {
        keyGroup * parallelism / maxParallelism
    }

    /// The key groups owned by subtask `operatorIndex`:
    /// `[(i * maxP + p - 1) / p, ((i + 1) * maxP - 1) / p]`.
    ///
    /// - Throws: ``StateError/Code/invalidParallelism`` or
    ///   ``StateError/Code/invalidMaxParallelism`` when a bound is violated.
    public static func computeKeyGroupRangeForOperatorIndex(
        maxParallelism: Int, parallelism: Int, operatorIndex: Int
    ) throws(StateError) -> KeyGroupRange {
        try checkParallelismPreconditions(parallelism)
        try checkMaxParallelism(maxParallelism)
        guard maxParallelism >= parallelism else {
            throw StateError(
                code: .invalidParallelism,
                message: "parallelism \(parallelism) is larger than max parallelism \(maxParallelism); "
                    + "raise the max parallelism or lower the parallelism")
        }
        guard operatorIndex >= 0 && operatorIndex < parallelism else {
            throw StateError(
                code: .invalidParallelism,
                message: "operator index \(operatorIndex) is outside 0..<\(parallelism)")
        }
        let start = (operatorIndex * maxParallelism + parallelism - 1) / parallelism
        let end = ((operatorIndex + 1) * maxParallelism - 1) / parallelism
        return KeyGroupRange(start: start, end: end)
    }

    /// The max parallelism used when none is configured:
    /// `min(max(roundUpToPowerOfTwo(p + p / 2), 128), 32768)`.
    public static func computeDefaultMaxParallelism(operatorParallelism: Int) throws(StateError) -> Int {
        try checkParallelismPreconditions(operatorParallelism)
        let target = operatorParallelism + operatorParallelism / 2
        return min(max(roundUpToPowerOfTwo(target), defaultLowerBoundMaxParallelism), upperBoundMaxParallelism)
    }

    /// Checks `1 <= parallelism <= 32768`.
    public static func checkParallelismPreconditions(_ parallelism: Int) throws(StateError) {
        guard parallelism > 0 && parallelism <= upperBoundMaxParallelism else {
            throw StateError(
                code: .invalidParallelism,
                message: "parallelism \(parallelism) is not within 1...\(upperBoundMaxParallelism)")
        }
    }

    /// Checks `1 <= maxParallelism <= 32768`.
    public static func checkMaxParallelism(_ maxParallelism: Int) throws(StateError) {
        guard maxParallelism > 0 && maxParallelism <= upperBoundMaxParallelism else {
            throw StateError(
                code: .invalidMaxParallelism,
                message: "max parallelism \(maxParallelism) is not within 1...\(upperBoundMaxParallelism); "
                    + "the default is 128")
        }
    }

    /// Flink's `MathUtils.murmurHash(int)`: one Murmur3 32-bit round over the 4-byte code with
    /// seed 0, the finalizer (`bitMix`), and the result made non-negative
    /// (`Integer.MIN_VALUE` → 0).
    @inlinable
    public static func murmurHash(_ code: Int32) -> Int32 {
        var c = UInt32(bitPattern: code)
        c &*= 0xcc9e_2d51
        c = (c << 15) | (c >> 17)
        c &*= 0x1b87_3593
        c = (c << 13) | (c >> 19)
        c = c &* 5 &+ 0xe654_6b64
        c ^= 4
        let mixed = Int32(bitPattern: bitMix(c))
        if mixed >= 0 { return mixed }
        return mixed == .min ? 0 : -mixed
    }

    /// Murmur3's 32-bit finalizer (Flink's `MathUtils.bitMix`).
    @inlinable
    public static func bitMix(_ value: UInt32) -> UInt32 {
        var h = value
        h ^= h >> 16
        h &*= 0x85eb_ca6b
        h ^= h >> 13
        h &*= 0xc2b2_ae35
        h ^= h >> 16
        return h
    }

    static func roundUpToPowerOfTwo(_ x: Int) -> Int {
        x <= 1 ? 1 : 1 << (Int.bitWidth - (x - 1).leadingZeroBitCount)
    }
}

/// `x % divisor` for 32-bit operands without a division instruction (Lemire's "fastmod",
/// exact for every 32-bit `x` and non-zero 32-bit divisor).
@usableFromInline
struct _FastModulo: Sendable {
    @usableFromInline let divisor: UInt64
    @usableFromInline let multiplier: UInt64

    @usableFromInline
    init(divisor: Int) {
        precondition(divisor > 0 && divisor <= Int(UInt32.max))
        self.divisor = UInt64(divisor)
        self.multiplier = UInt64.max / UInt64(divisor) &+ 1
    }

    @inlinable
    func remainder(_ x: UInt32) -> Int {
        let low = multiplier &* UInt64(x)
        return Int(truncatingIfNeeded: low.multipliedFullWidth(by: divisor).high)
    }
}
