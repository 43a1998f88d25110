/// A decoded Node block: key, value and the index levels it carries. Immutable and shared between readers.
public final class DecodedBlock: Sendable {
    public let seq: UInt64
    public let key: [UInt8]
    public let value: [UInt8]?
    public let link: Bool
    public let levels: [IndexLevel]

    init(seq: UInt64, message: NodeMessage) {
        self.seq = seq
        self.key = message.key
        self.value = message.value
        self.link = message.link ?? false
        self.levels = message.levels
    }

    /// Rough heap footprint, used for the cache's memory bound.
    var approximateBytes: Int {
        var n = 160 + key.count + (value?.count ?? 0)
        for l in levels { n += 64 + 8 * (l.keys.count + l.children.count) }
        return n
    }

    var entry: TreeEntry { TreeEntry(seq: seq, key: key, value: value) }
}

/// A memory-bounded cache of decoded blocks (two generations: a hit in the old generation is promoted; when the
/// young generation reaches half the bound it becomes the old one and the previous old one is dropped). O(1), close
/// to LRU, and never above `maxBytes` plus one block.
final class BlockCache: @unchecked Sendable {
    // Invariant: all mutable state below is only touched under `lock`.
    private let lock = TreeMutex()
    private var young: [UInt64: DecodedBlock] = [:]
    private var old: [UInt64: DecodedBlock] = [:]
    private var youngBytes = 0
    private var oldBytes = 0
    let maxBytes: Int

    init(maxBytes: Int) { self.maxBytes = max(maxBytes, 4096) }

    @inline(__always) func get(_ seq: UInt64) -> DecodedBlock? {
        lock.withLock {
            if let b = young[seq] { return b }
            guard let b = old.removeValue(forKey: seq) else { return nil }
            let size = b.approximateBytes
            oldBytes -= size
            insertLocked(b, size: size)
            return b
        }
    }

    func put(_ b: DecodedBlock) {
        lock.withLock {
            guard young[b.seq] == nil else { return }
            insertLocked(b, size: b.approximateBytes)
        }
    }

    private func insertLocked(_ b: DecodedBlock, size: Int) {
        if youngBytes + size > maxBytes / 2 {
            old = young
            oldBytes = youngBytes
            young = [:]
            young.reserveCapacity(old.count)
            youngBytes = 0
        }
        young[b.seq] = b
        youngBytes += size
    }

    /// Bytes currently accounted for.
    var bytes: Int { lock.withLock { youngBytes + oldBytes } }
    var count: Int { lock.withLock { young.count + old.count } }

    func removeAll() {
        lock.withLock {
            young = [:]
            old = [:]
            youngBytes = 0
            oldBytes = 0
        }
    }
}

/// Records which blocks one query touched and how many of them had to be fetched from a peer.
public final class QueryTrace: @unchecked Sendable {
    // Invariant: `seqs` and `fetched` are only touched under `lock`.
    private let lock = TreeMutex()
    private var seqs: Set<UInt64> = []
    private var fetched = 0

    public init() {}

    /// Distinct blocks the query read (from cache, local storage or a peer).
    public var blocksTouched: Int { lock.withLock { seqs.count } }
    /// The seqs touched, for inspection.
    public var touchedSeqs: Set<UInt64> { lock.withLock { seqs } }
    /// Blocks that were not local and had to be awaited from the log's remote source.
    public var blocksFetched: Int { lock.withLock { fetched } }

    func touch(_ seq: UInt64) { _ = lock.withLock { seqs.insert(seq) } }
    func fetchedOne() { lock.withLock { fetched += 1 } }
}
