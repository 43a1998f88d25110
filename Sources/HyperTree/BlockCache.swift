import Dispatch
import LMDBKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The entry part of a decoded Node block: seq, key and value. Immutable and shared between readers. (The block's
/// index levels are cached separately, see `BlockIndex`, so caching entries stays cheap.)
public final class DecodedBlock: Sendable {
    public let seq: UInt64
    public let key: [UInt8]
    public let value: [UInt8]?
    public let link: Bool

    init(seq: UInt64, message: NodeMessage) {
        self.seq = seq
        self.key = message.key
        self.value = message.value
        self.link = message.link ?? false
    }

    /// A block this process just encoded (no link flag: the writer never sets it).
    init(seq: UInt64, key: [UInt8], value: [UInt8]?) {
        self.seq = seq
        self.key = key
        self.value = value
        self.link = false
    }

    /// Rough heap footprint (object plus two array buffers), used for the cache's memory bound.
    public var approximateBytes: Int { 112 + key.count + (value?.count ?? 0) }

    var entry: TreeEntry { TreeEntry(seq: seq, key: key, value: value) }
}

/// The index levels (B-tree nodes) a block carries.
final class BlockIndex: Sendable {
    let levels: [IndexLevel]

    init(levels: [IndexLevel]) { self.levels = levels }

    var approximateBytes: Int {
        var n = 48
        for l in levels { n += 80 + 8 * (l.keys.count + l.children.count) }
        return n
    }
}

/// Something a `GenerationalCache` can hold and account for.
protocol CacheCost: AnyObject, Sendable {
    var approximateBytes: Int { get }
}

extension DecodedBlock: CacheCost {}
extension BlockIndex: CacheCost {}

/// A memory-bounded cache keyed by `UInt64` (two generations: a hit in the old generation is promoted; when the
/// young generation reaches half the bound it becomes the old one and the previous old one is dropped). O(1), close
/// to LRU, and never above `maxBytes` plus one entry.
final class GenerationalCache<Value: CacheCost>: @unchecked Sendable {
    // Invariant: all mutable state below is only touched under `lock`.
    private let lock = Lock()
    private var young: [UInt64: Value] = [:]
    private var old: [UInt64: Value] = [:]
    private var youngBytes = 0
    private var oldBytes = 0
    let maxBytes: Int

    init(maxBytes: Int) { self.maxBytes = max(maxBytes, 4096) }

    @inline(__always) func get(_ key: UInt64) -> Value? {
        lock.withLock {
            if let v = young[key] { return v }
            guard let v = old.removeValue(forKey: key) else { return nil }
            let size = v.approximateBytes
            oldBytes -= size
            insertLocked(key, v, size: size)
            return v
        }
    }

    func put(_ key: UInt64, _ v: Value) {
        lock.withLock {
            guard young[key] == nil else { return }
            insertLocked(key, v, size: v.approximateBytes)
        }
    }

    /// Inserts many entries (a batch commit warms thousands at once), taking the lock once per 256 entries so
    /// concurrent readers wait at most one chunk; keys already in the young generation are kept, as in `put`.
    func put<C: Sequence>(contentsOf items: C) where C.Element == (UInt64, Value) {
        var it = items.makeIterator()
        var more = true
        while more {
            lock.withLock {
                for _ in 0..<256 {
                    guard let (key, v) = it.next() else {
                        more = false
                        return
                    }
                    if young[key] == nil { insertLocked(key, v, size: v.approximateBytes) }
                }
            }
        }
    }

    /// Inserts or replaces.
    func replace(_ key: UInt64, _ v: Value) {
        lock.withLock {
            if let y = young.removeValue(forKey: key) { youngBytes -= y.approximateBytes }
            if let o = old.removeValue(forKey: key) { oldBytes -= o.approximateBytes }
            insertLocked(key, v, size: v.approximateBytes)
        }
    }

    private func insertLocked(_ key: UInt64, _ v: Value, size: Int) {
        if youngBytes + size > maxBytes / 2 {
            // Freeing a dropped generation (up to half the bound, often 10^5 objects) takes milliseconds: hand it to a
            // background queue so the read or write that triggered the flip does not pay for it (latency tails).
            let dropped = old
            old = young
            oldBytes = youngBytes
            young = [:]
            young.reserveCapacity(old.count)
            youngBytes = 0
            if !dropped.isEmpty { cacheReleaseQueue.async { withExtendedLifetime(dropped) {} } }
        }
        young[key] = v
        youngBytes += size
    }

    /// Bytes currently accounted for.
    var bytes: Int { lock.withLock { youngBytes + oldBytes } }
    var count: Int { lock.withLock { young.count + old.count } }
}

/// Where dropped cache generations are freed, off the request path.
private let cacheReleaseQueue = DispatchQueue(label: "HyperTree.cache-release", qos: .utility)

/// Decoded blocks by seq.
typealias BlockCache = GenerationalCache<DecodedBlock>

/// A B-tree node ready for searching: its key and child pointers plus, where they were local, the blocks holding
/// its keys (so a search compares in memory and a range reads values without further lookups).
final class ResolvedNode: CacheCost {
    let owner: DecodedBlock
    let keySeqs: [UInt64]
    let children: [UInt64]
    let keyBlocks: [DecodedBlock?]

    /// For a node whose entries are all cached: keys and values copied into one buffer, so a search or a scan reads
    /// contiguous memory instead of chasing one heap object per key. Empty otherwise.
    let packed: [UInt8]
    /// Per key: start of key, start of value (or `UInt32.max` when there is no value), end.
    let bounds: [UInt32]

    /// Key of this node in the node cache (nil when not cacheable).
    let cacheKey: UInt64?

    init(
        owner: DecodedBlock, keySeqs: [UInt64], children: [UInt64], keyBlocks: [DecodedBlock?], cacheKey: UInt64?
    ) {
        self.cacheKey = cacheKey
        self.owner = owner
        self.keySeqs = keySeqs
        self.children = children
        self.keyBlocks = keyBlocks
        var packed: [UInt8] = []
        var bounds: [UInt32] = []
        if !keyBlocks.isEmpty, keyBlocks.allSatisfy({ $0 != nil }) {
            var total = 0
            for b in keyBlocks { total += b!.key.count + (b!.value?.count ?? 0) }
            if total < Int(UInt32.max) {
                packed.reserveCapacity(total)
                bounds.reserveCapacity(keyBlocks.count * 3)
                for b in keyBlocks {
                    bounds.append(UInt32(packed.count))
                    packed.append(contentsOf: b!.key)
                    if let v = b!.value {
                        bounds.append(UInt32(packed.count))
                        packed.append(contentsOf: v)
                    } else {
                        bounds.append(UInt32.max)
                    }
                    bounds.append(UInt32(packed.count))
                }
            }
        }
        self.packed = packed
        self.bounds = bounds
        self.isLeaf = children.isEmpty
        self.keyCount = keySeqs.count
        self.isPacked = !bounds.isEmpty
    }

    // Stored (not computed from the arrays) so hot loops do not dereference three array buffers per step.
    let isLeaf: Bool
    let keyCount: Int
    let isPacked: Bool
    var approximateBytes: Int { 96 + keySeqs.count * 16 + children.count * 8 + packed.count + bounds.count * 4 }

    /// Compares `key` with key `i` of a packed node.
    @inline(__always) func comparePacked(_ key: [UInt8], _ i: Int) -> Int {
        let ks = Int(bounds[3 * i])
        let vs = bounds[3 * i + 1]
        let ke = vs == UInt32.max ? Int(bounds[3 * i + 2]) : Int(vs)
        return key.withUnsafeBufferPointer { a in
            packed.withUnsafeBufferPointer { p in
                let bl = ke - ks
                let n = min(a.count, bl)
                let c = n == 0 ? 0 : memcmp(a.baseAddress!, p.baseAddress! + ks, n)
                if c != 0 { return c < 0 ? -1 : 1 }
                return a.count < bl ? -1 : (a.count > bl ? 1 : 0)
            }
        }
    }

    /// Entry `i` of a packed node.
    @inline(__always) func packedEntry(_ i: Int) -> TreeEntry {
        let ks = Int(bounds[3 * i])
        let vs = bounds[3 * i + 1]
        let end = Int(bounds[3 * i + 2])
        return packed.withUnsafeBufferPointer { p in
            if vs == UInt32.max {
                return TreeEntry(seq: keySeqs[i], key: Array(p[ks..<end]), value: nil)
            }
            return TreeEntry(
                seq: keySeqs[i], key: Array(p[ks..<Int(vs)]), value: Array(p[Int(vs)..<end]))
        }
    }

    static func cacheKey(seq: UInt64, offset: UInt64) -> UInt64? {
        guard offset < 1 << 16, seq < 1 << 47 else { return nil }
        return seq << 16 | offset
    }
}

/// Records which blocks one query touched and how many of them had to be fetched from a peer.
public final class QueryTrace: @unchecked Sendable {
    // Invariant: `seqs`, `fetched` and `waves` are only touched under `lock`.
    private let lock = Lock()
    private var seqs: Set<UInt64> = []
    private var fetched = 0
    private var waves = 0

    public init() {}

    /// Distinct blocks the query read (from cache, local storage or a peer).
    public var blocksTouched: Int { lock.withLock { seqs.count } }
    /// The seqs touched, for inspection.
    public var touchedSeqs: Set<UInt64> { lock.withLock { seqs } }
    /// Blocks that were not local and had to be awaited from the log's remote source (prefetched ones included).
    public var blocksFetched: Int { lock.withLock { fetched } }
    /// Fetch waves the query awaited one after another: a single missing block, or a prefetch batch whose blocks
    /// were requested together. Over the swarm each wave is one round trip.
    public var roundTrips: Int { lock.withLock { waves } }

    func touch(_ seq: UInt64) { _ = lock.withLock { seqs.insert(seq) } }
    func fetchedOne() {
        lock.withLock {
            fetched += 1
            waves += 1
        }
    }
    func fetchedWave(_ count: Int) {
        guard count > 0 else { return }
        lock.withLock {
            fetched += count
            waves += 1
        }
    }
}
