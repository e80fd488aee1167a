/// Combines the watermarks and watermark statuses of a task's input channels into the
/// task's own input watermark and status (Flink's `StatusWatermarkValve`).
///
/// Rules:
/// - The combined watermark is the minimum over channels that are active and *aligned*, and
///   it never goes backwards.
/// - A channel that turns idle is left out. When it turns active again with a watermark
///   below the last combined watermark it is *unaligned*: left out until its own watermark
///   catches up, so it cannot pull event time back.
/// - Watermarks arriving on an idle channel, or not above the channel's previous watermark,
///   are ignored (upstream sends `.active` before resuming watermarks).
/// - When the last active channel turns idle, the maximum watermark over all channels is
///   emitted first if it is above the last combined one (nothing can hold it back anymore),
///   then the combined status becomes idle. Any channel turning active makes it active.
///
/// Not thread-safe: owned by one task thread.
public final class StatusWatermarkValve {
    /// What the task must forward after an input, in this order: first `watermark`, then
    /// `status`.
    public struct Update: Hashable, Sendable {
        /// A combined watermark that advanced.
        public var watermark: Int64?
        /// A change of the combined status.
        public var status: WatermarkStatus?

        public init(watermark: Int64? = nil, status: WatermarkStatus? = nil) {
            self.watermark = watermark
            self.status = status
        }

        /// Nothing to forward.
        public static var unchanged: Update { Update() }
    }

    private var channelWatermarks: [Int64]
    private var channelIsActive: [Bool]
    private var channelIsAligned: [Bool]
    private var activeChannelCount: Int

    /// The last combined watermark handed out; `Int64.min` before the first.
    public private(set) var lastOutputWatermark: Int64 = .min
    /// The combined status last handed out; starts active, as in Flink.
    public private(set) var outputStatus: WatermarkStatus = .active

    /// Number of input channels, fixed at creation.
    public var channelCount: Int { channelWatermarks.count }

    /// All channels start active and aligned with watermark `Int64.min`.
    public init(channelCount: Int) {
        precondition(channelCount > 0, "a valve needs at least one channel")
        channelWatermarks = Array(repeating: .min, count: channelCount)
        channelIsActive = Array(repeating: true, count: channelCount)
        channelIsAligned = Array(repeating: true, count: channelCount)
        activeChannelCount = channelCount
    }

    /// Feeds a watermark received on `channel`.
    /// - Returns: the new combined watermark, if it advanced.
    /// - Complexity: O(channelCount) when the channel's watermark advances, else O(1).
    public func inputWatermark(_ watermark: Int64, channel: Int) -> Int64? {
        guard outputStatus == .active, channelIsActive[channel],
              watermark > channelWatermarks[channel]
        else { return nil }
        channelWatermarks[channel] = watermark
        if !channelIsAligned[channel] && watermark >= lastOutputWatermark {
            channelIsAligned[channel] = true
        }
        return advanceToMinAcrossAlignedChannels()
    }

    /// Feeds a watermark status received on `channel`.
    /// - Complexity: O(channelCount) when the channel's status changes, else O(1).
    public func inputWatermarkStatus(_ status: WatermarkStatus, channel: Int) -> Update {
        switch (status, channelIsActive[channel]) {
        case (.idle, true):
            channelIsActive[channel] = false
            channelIsAligned[channel] = false
            activeChannelCount -= 1
            if activeChannelCount == 0 {
                let flushed = advanceToMaxAcrossAllChannels()
                outputStatus = .idle
                return Update(watermark: flushed, status: .idle)
            }
            return Update(watermark: advanceToMinAcrossAlignedChannels())
        case (.active, false):
            channelIsActive[channel] = true
            activeChannelCount += 1
            if channelWatermarks[channel] >= lastOutputWatermark {
                channelIsAligned[channel] = true
            }
            if outputStatus == .idle {
                outputStatus = .active
                return Update(status: .active)
            }
            return .unchanged
        case (.idle, false), (.active, true):
            return .unchanged
        }
    }

    /// Whether `channel` currently counts towards the combined watermark.
    public func isAligned(channel: Int) -> Bool { channelIsAligned[channel] }

    /// The last watermark accepted from `channel`.
    public func watermark(channel: Int) -> Int64 { channelWatermarks[channel] }

    private func advanceToMinAcrossAlignedChannels() -> Int64? {
        var minimum = Int64.max
        var found = false
        for channel in channelWatermarks.indices where channelIsAligned[channel] {
            found = true
            minimum = min(minimum, channelWatermarks[channel])
        }
        guard found, minimum > lastOutputWatermark else { return nil }
        lastOutputWatermark = minimum
        return minimum
    }

    private func advanceToMaxAcrossAllChannels() -> Int64? {
        let maximum = channelWatermarks.max()!
        guard maximum > lastOutputWatermark else { return nil }
        lastOutputWatermark = maximum
        return maximum
    }
}
