/// The in-flight windows of one key of a merging (session) window operator, each mapped to
/// its *state window*: the namespace its contents and state live in (Flink's
/// `MergingWindowSet`). When windows merge, one of their state windows is kept for the result,
/// so merging moves only the other windows' state.
@usableFromInline
struct _MergingWindowSet<W: Window> {
    /// In-flight window → state window.
    @usableFromInline var mapping: [W: W]
    /// Whether `mapping` differs from what was loaded.
    @usableFromInline var changed = false

    @inlinable
    init(mapping: [W: W]) { self.mapping = mapping }

    /// The state window of the in-flight `window`, `nil` if it is not in flight.
    @inlinable
    func stateWindow(_ window: W) -> W? { mapping[window] }

    /// Removes `window` from the in-flight windows.
    @inlinable
    mutating func retireWindow(_ window: W) throws {
        guard mapping.removeValue(forKey: window) != nil else {
            throw RillError(.internalError, "window \(window) is not in the in-flight window set")
        }
        changed = true
    }

    /// Adds `newWindow`, merging it with in-flight windows as `mergeWindows` decides, and
    /// returns the window it ended up in (itself, or a merged window).
    ///
    /// For every merge, `merge(mergeResult, mergedWindows, stateWindowResult, mergedStateWindows)`
    /// is called before this returns: `mergedWindows` are the in-flight windows that became
    /// `mergeResult` (without `newWindow`, which never had state), and the caller must move the
    /// state of `mergedStateWindows` into `stateWindowResult`.
    ///
    /// - Complexity: O(n log n) for n in-flight windows (the assigner sorts them).
    @inlinable
    mutating func addWindow(
        _ newWindow: W,
        mergeWindows: ([W], ([W], W) throws -> Void) throws -> Void,
        merge: (_ mergeResult: W, _ mergedWindows: [W], _ stateWindowResult: W, _ mergedStateWindows: [W]) throws -> Void
    ) throws -> W {
        var windows = Array(mapping.keys)
        windows.append(newWindow)
        var results: [(result: W, merged: [W])] = []
        try mergeWindows(windows) { toBeMerged, mergeResult in results.append((mergeResult, toBeMerged)) }

        var resultWindow = newWindow
        var mergedNewWindow = false
        for (mergeResult, group) in results {
            var mergedWindows = group
            if let index = mergedWindows.firstIndex(of: newWindow) {
                mergedWindows.remove(at: index)
                mergedNewWindow = true
                resultWindow = mergeResult
            }
            guard let first = mergedWindows.first, let mergedStateWindow = mapping[first] else { continue }
            var mergedStateWindows: [W] = []
            for window in mergedWindows {
                if let stateWindow = mapping.removeValue(forKey: window) { mergedStateWindows.append(stateWindow) }
            }
            mapping[mergeResult] = mergedStateWindow
            changed = true
            if let index = mergedStateWindows.firstIndex(of: mergedStateWindow) { mergedStateWindows.remove(at: index) }
            // Merging one in-flight window with a new window it already covers changes nothing.
            if !(mergedWindows.count == 1 && mergedWindows[0] == mergeResult) {
                try merge(mergeResult, mergedWindows, mergedStateWindow, mergedStateWindows)
            }
        }

        // A new, self-contained window. (Flink would also re-map a window already in flight to
        // itself here, orphaning its state window; keeping the existing mapping is the fix.)
        if results.isEmpty || (resultWindow == newWindow && !mergedNewWindow) {
            if mapping[resultWindow] == nil {
                mapping[resultWindow] = resultWindow
                changed = true
            }
        }
        return resultWindow
    }
}
