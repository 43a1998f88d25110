import Foundation
import HyperTree

/// Where the time of one `IndexedEventStore.insert` (one group commit) went; logged at debug level per commit.
public struct InsertStages: Sendable {
    /// Events in the group.
    public var events: Int
    /// The per-event checks (duplicate id, deletion markers, replaceable/addressable versions), store reads
    /// included, index key building excluded.
    public var checks: Duration = .zero
    /// The part of `checks` spent in store reads (reads answered by the group's own pending writes excluded).
    public var lookups: Duration = .zero
    /// Store reads made by the checks.
    public var lookupCount = 0
    /// Building body and index keys and values for stored and removed events.
    public var indexKeys: Duration = .zero
    /// Key-value operations of the group.
    public var operations = 0
    /// The key-value store's atomic apply of those operations (for the HyperTree store: tree batch plus log append).
    public var apply: Duration = .zero
    /// The HyperTree commit's own breakdown, when the store is a `HyperTreeKV`.
    public var tree: CommitTimings?

    public init(events: Int) { self.events = events }

    /// Log metadata, in milliseconds with one decimal.
    var metadata: [String: String] {
        func ms(_ d: Duration) -> String { String(format: "%.1f", Double(d / .microseconds(1)) / 1000) }
        var m = [
            "checks_ms": ms(checks), "lookups_ms": ms(lookups), "lookups": "\(lookupCount)",
            "keys_ms": ms(indexKeys), "ops": "\(operations)", "apply_ms": ms(apply),
        ]
        if let tree {
            m["tree_ops_ms"] = ms(tree.operations)
            m["encode_ms"] = ms(tree.encode)
            m["append_ms"] = ms(tree.append)
            m["cache_ms"] = ms(tree.cacheWarm)
            m["blocks"] = "\(tree.blocks)"
        }
        return m
    }
}

/// Accumulates read time across the awaits of one group commit (used by one task at a time).
final class LookupMeter {
    private(set) var total: Duration = .zero
    private(set) var count = 0

    func add(_ d: Duration) {
        total += d
        count += 1
    }
}
