#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One key-value entry of the tree: the seq of the block that wrote it, its key and value.
public struct TreeEntry: Sendable, Equatable, Hashable {
    public let seq: UInt64
    public let key: [UInt8]
    public let value: [UInt8]?

    public init(seq: UInt64, key: [UInt8], value: [UInt8]?) {
        self.seq = seq
        self.key = key
        self.value = value
    }
}

/// Byte-wise lexicographic comparison (the order Hyperbee sorts keys in).
@inline(__always) func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    let n = min(a.count, b.count)
    let c = a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in n == 0 ? 0 : memcmp(pa.baseAddress!, pb.baseAddress!, n) }
    }
    if c != 0 { return c < 0 ? -1 : 1 }
    return a.count < b.count ? -1 : (a.count > b.count ? 1 : 0)
}

/// Shared read machinery: block loading through the decoded-block cache, pointer validation, point lookups.
final class TreeStore: Sendable {
    /// No real tree is this deep (with at least 5 children per inner node it would hold over 5^62 keys).
    static let maxDepth = 64

    let log: any TreeLog
    let cache: BlockCache
    let writeLock = AsyncLock()

    init(log: any TreeLog, cacheBytes: Int) {
        self.log = log
        self.cache = BlockCache(maxBytes: cacheBytes)
    }

    /// Block `seq` of a tree at `version`; validates that the seq is a node block inside that version.
    @inline(__always)
    func block(_ seq: UInt64, version: UInt64, trace: QueryTrace?) async throws -> DecodedBlock {
        guard seq >= 1, seq < version else {
            throw TreeError.badPointer(seq: seq, reason: "seq \(seq) outside 1..<\(version)")
        }
        if let b = cache.get(seq) {
            trace?.touch(seq)
            return b
        }
        return try await load(seq, trace: trace)
    }

    /// Synchronous variant that only succeeds from the cache (used by hot loops before falling back to `block`).
    @inline(__always) func cachedBlock(_ seq: UInt64, version: UInt64) -> DecodedBlock? {
        guard seq >= 1, seq < version else { return nil }
        return cache.get(seq)
    }

    private func load(_ seq: UInt64, trace: QueryTrace?) async throws -> DecodedBlock {
        trace?.touch(seq)
        var raw = try log.localBlock(at: seq)
        if raw == nil {
            raw = try await log.block(at: seq)
            trace?.fetchedOne()
        }
        let b = DecodedBlock(seq: seq, message: try NodeMessage.decode(raw!, seq: seq))
        cache.put(b)
        return b
    }

    /// The index level `offset` of block `seq`, reached from a parent in block `parentSeq`.
    func node(seq: UInt64, offset: UInt64, parentSeq: UInt64, version: UInt64, trace: QueryTrace?) async throws
        -> (DecodedBlock, IndexLevel)
    {
        guard seq <= parentSeq else {
            throw TreeError.badPointer(seq: parentSeq, reason: "child points forward to block \(seq)")
        }
        let b = try await block(seq, version: version, trace: trace)
        guard offset < UInt64(b.levels.count) else {
            throw TreeError.badPointer(
                seq: parentSeq, reason: "child offset \(offset) but block \(seq) has \(b.levels.count) levels")
        }
        return (b, b.levels[Int(offset)])
    }

    /// The root node at `version`, or nil for an empty tree.
    func root(version: UInt64, trace: QueryTrace?) async throws -> (DecodedBlock, IndexLevel)? {
        guard version >= 2 else { return nil }
        let b = try await block(version - 1, version: version, trace: trace)
        guard let first = b.levels.first else { throw TreeError.noRootAt(version: version) }
        return (b, first)
    }

    /// Key bytes of key `i` of a node stored in `owner`.
    @inline(__always)
    func key(_ i: Int, of level: IndexLevel, owner: DecodedBlock, version: UInt64, trace: QueryTrace?) async throws
        -> [UInt8]
    {
        let ks = level.keys[i]
        if ks == owner.seq { return owner.key }
        guard ks <= owner.seq else {
            throw TreeError.badPointer(seq: owner.seq, reason: "key points forward to block \(ks)")
        }
        return try await block(ks, version: version, trace: trace).key
    }

    /// Point lookup at `version`.
    func get(_ key: [UInt8], version: UInt64, trace: QueryTrace?) async throws -> TreeEntry? {
        guard var (owner, level) = try await root(version: version, trace: trace) else { return nil }
        for _ in 0..<TreeStore.maxDepth {
            var s = 0
            var e = level.keys.count
            while s < e {
                let mid = (s + e) >> 1
                let c = compareBytes(
                    key, try await self.key(mid, of: level, owner: owner, version: version, trace: trace))
                if c == 0 {
                    return try await block(level.keys[mid], version: version, trace: trace).entry
                }
                if c < 0 { e = mid } else { s = mid + 1 }
            }
            if level.isLeaf { return nil }
            (owner, level) = try await node(
                seq: level.children[2 * s], offset: level.children[2 * s + 1], parentSeq: owner.seq,
                version: version, trace: trace)
        }
        throw TreeError.tooDeep(limit: TreeStore.maxDepth)
    }
}

/// A FIFO async mutex serialising writers (never blocks a thread).
actor AsyncLock {
    private var locked = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func lock() async {
        if !locked {
            locked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func unlock() {
        if waiters.isEmpty {
            locked = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
