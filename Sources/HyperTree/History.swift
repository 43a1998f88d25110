/// One write in the log's history: a put (with its value) or a delete.
public struct HistoryEntry: Sendable, Equatable {
    public let seq: UInt64
    public let key: [UInt8]
    public let value: [UInt8]?
    /// Hyperbee marks a delete by a node block without a value.
    public var isDelete: Bool { value == nil }
}

extension HyperTree {
    /// The writes with seq in `[gte, lt)` (defaults: from block 1 to the current version), oldest first unless
    /// `reverse`, at most `limit`.
    public nonisolated(nonsending) func history(
        gte: UInt64 = 1, lt: UInt64? = nil, reverse: Bool = false, limit: Int? = nil
    ) async throws
        -> [HistoryEntry]
    {
        let v = version
        let start = max(1, gte)
        let end = min(lt ?? v, v)
        guard start < end else { return [] }
        var seqs = Array(start..<end)
        if reverse { seqs.reverse() }
        if let limit { seqs = Array(seqs.prefix(max(0, limit))) }
        var out: [HistoryEntry] = []
        out.reserveCapacity(seqs.count)
        for s in seqs {
            let blk = try await store.block(s, version: v, trace: nil)
            out.append(HistoryEntry(seq: s, key: blk.key, value: blk.value))
        }
        return out
    }
}
