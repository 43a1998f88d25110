import HyperCrypto
import HyperLog
import HyperTree

/// `OrderedKeyValueStore` over a HyperTree: every `apply` is one HyperTree batch, hence one log append and
/// one signature for a whole group of events.
public final class HyperTreeKV: OrderedKeyValueStore {
    public let tree: HyperTree
    private let onClose: @Sendable () -> Void
    private let closed = Locked(false)

    /// Wraps `tree`; `onClose` releases what owns the log (e.g. the LMDB store).
    public init(tree: HyperTree, onClose: @escaping @Sendable () -> Void = {}) {
        self.tree = tree
        self.onClose = onClose
    }

    private func checkOpen() throws {
        if closed.withLock({ $0 }) { throw EventStoreError.closed }
    }

    public func get(_ key: [UInt8]) async throws -> [UInt8]? {
        try checkOpen()
        guard let entry = try await tree.get(key) else { return nil }
        return entry.value ?? []
    }

    public func apply(_ operations: [KVOperation]) async throws {
        try checkOpen()
        guard !operations.isEmpty else { return }
        try await tree.apply(
            operations.map { op in
                switch op {
                case .put(let key, let value): return .put(key: key, value: value)
                case .delete(let key): return .del(key: key)
                }
            })
    }

    public func range(_ range: KVRange) async throws -> [KVEntry] {
        try checkOpen()
        guard range.limit > 0 else { return [] }
        let options = RangeOptions(
            gt: range.gt, gte: range.gte, lt: range.lt, lte: range.lte, reverse: range.reverse,
            limit: range.limit == .max ? nil : range.limit)
        var out: [KVEntry] = []
        for try await entry in tree.range(options) {
            out.append(KVEntry(key: entry.key, value: entry.value ?? []))
            if out.count >= range.limit { break }
        }
        return out
    }

    public func close() async throws {
        let first = closed.withLock { c -> Bool in
            defer { c = true }
            return !c
        }
        if first { onClose() }
    }
}

extension IndexedEventStore {
    /// Default memory bound of the relay tree's block cache (256 MiB).
    public static let defaultTreeCacheBytes = 256 << 20

    /// Name of the relay's log inside its LMDB log store (`hypertuna-gateway log` reads it).
    public static let relayLogName = "relay"

    /// The durable relay store: a writable HyperLog named `logName` in the LMDB directory `path` (created on
    /// first use, signed by `keyPair`), a HyperTree on top, and the relay index scheme in it. Every group of
    /// events is one fsynced LMDB transaction and one signed log append. `close()` closes the directory.
    /// `cacheBytes` bounds the tree's decoded-block cache: a relay's duplicate checks and index inserts touch
    /// random paths of a tree of ~10 blocks per event, so the default is sized to keep the hot part of a
    /// million-block tree in memory (see Docs/gateway.md "Benchmark figures").
    public static func durable(
        path: String, keyPair: Ed25519KeyPair, logName: String = IndexedEventStore.relayLogName, durable: Bool = true,
        cacheBytes: Int = defaultTreeCacheBytes
    ) throws -> (store: IndexedEventStore, log: HyperLog) {
        let lmdb = try LMDBLogStore(path: path, durable: durable)
        let log = try HyperLog.create(in: try lmdb.open(name: logName), keyPair: keyPair)
        let tree = HyperTree(log: HyperLogSource(log), options: HyperTree.Options(cacheBytes: cacheBytes))
        let kv = HyperTreeKV(tree: tree) {
            log.close()
            lmdb.close()
        }
        return (IndexedEventStore(kv: kv), log)
    }
}
