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
    let indexes: GenerationalCache<BlockIndex>
    let nodes: GenerationalCache<ResolvedNode>
    let writeLock = AsyncLock()
    /// Nodes of the last batch, for the next one (only used under `writeLock`).
    let retained = RetainedWriteTree()
    let prefetch: SparsePrefetch
    /// Whether reads batch their fetches (prefetch is on and the log may fetch from a peer). False for complete
    /// logs, so their hot paths pay nothing.
    let batchesFetches: Bool

    /// `cacheBytes` is split: 1/2 entries, 3/8 searchable nodes, 1/8 raw index levels.
    init(log: any TreeLog, cacheBytes: Int, prefetch: SparsePrefetch = .keysAndChildren) {
        self.log = log
        self.prefetch = prefetch
        self.batchesFetches = prefetch != .off && log.isSparse
        self.cache = BlockCache(maxBytes: cacheBytes / 2)
        self.nodes = GenerationalCache(maxBytes: cacheBytes / 8 * 3)
        self.indexes = GenerationalCache(maxBytes: cacheBytes / 8)
    }

    var cachedBytes: Int { cache.bytes + nodes.bytes + indexes.bytes }

    /// Block `seq` with its index levels (validated like `block`).
    nonisolated(nonsending) func indexed(_ seq: UInt64, version: UInt64, trace: QueryTrace?) async throws
        -> (DecodedBlock, [IndexLevel])
    {
        guard seq >= 1, seq < version else {
            throw TreeError.badPointer(seq: seq, reason: "seq \(seq) outside 1..<\(version)")
        }
        if let i = indexes.get(seq), let b = cache.get(seq) {
            trace?.touch(seq)
            return (b, i.levels)
        }
        return try await load(seq, trace: trace)
    }

    /// Block `seq` of a tree at `version`; validates that the seq is a node block inside that version.
    @inline(__always)
    nonisolated(nonsending) func block(_ seq: UInt64, version: UInt64, trace: QueryTrace?) async throws -> DecodedBlock
    {
        guard seq >= 1, seq < version else {
            throw TreeError.badPointer(seq: seq, reason: "seq \(seq) outside 1..<\(version)")
        }
        if let b = cache.get(seq) {
            trace?.touch(seq)
            return b
        }
        return try await load(seq, trace: trace).0
    }

    /// The searchable node at (`seq`, `offset`), reached from a parent stored in block `parentSeq`.
    ///
    /// Without a trace, nodes come from the node cache and their keys are resolved from cached entries when first
    /// built. With a trace, nothing is resolved ahead of need, so the trace counts exactly the blocks a query needs.
    nonisolated(nonsending) func resolvedNode(
        seq: UInt64, offset: UInt64, parentSeq: UInt64, version: UInt64, trace: QueryTrace?
    ) async throws -> ResolvedNode {
        guard seq <= parentSeq else {
            throw TreeError.badPointer(seq: parentSeq, reason: "child points forward to block \(seq)")
        }
        let ck = ResolvedNode.cacheKey(seq: seq, offset: offset)
        if trace == nil, seq >= 1, seq < version, let ck, let n = nodes.get(ck) { return n }
        let (b, levels) = try await indexed(seq, version: version, trace: trace)
        guard offset < UInt64(levels.count) else {
            throw TreeError.badPointer(
                seq: parentSeq, reason: "child offset \(offset) but block \(seq) has \(levels.count) levels")
        }
        let level = levels[Int(offset)]
        var blocks: [DecodedBlock?] = []
        blocks.reserveCapacity(level.keys.count)
        for ks in level.keys {
            guard ks >= 1, ks <= b.seq else {
                throw TreeError.badPointer(seq: b.seq, reason: "key points to block \(ks)")
            }
            if ks == b.seq {
                blocks.append(b)
            } else if trace == nil {
                blocks.append(cache.get(ks))
            } else {
                blocks.append(nil)
            }
        }
        let n = ResolvedNode(
            owner: b, keySeqs: level.keys, children: level.children, keyBlocks: blocks, cacheKey: ck)
        if trace == nil, let ck { nodes.put(ck, n) }
        return n
    }

    /// A fully local version of a node that was cached with some keys unresolved (their blocks were not cached when
    /// it was built): resolves them from the cache or local storage, packs the leaf and replaces it in the node
    /// cache. Returns nil when some key is still not local (a sparse replica), leaving the node as it is.
    func upgradedLeaf(_ node: ResolvedNode) -> ResolvedNode? {
        guard !node.isPacked, node.keyCount > 0, let ck = node.cacheKey else { return nil }
        var blocks: [DecodedBlock?] = []
        blocks.reserveCapacity(node.keyCount)
        for i in 0..<node.keyCount {
            if let b = node.keyBlocks[i] {
                blocks.append(b)
                continue
            }
            let ks = node.keySeqs[i]
            if let b = cache.get(ks) {
                blocks.append(b)
                continue
            }
            guard let raw = try? log.localBlock(at: ks), let msg = try? NodeMessage.decode(raw, seq: ks) else {
                return nil
            }
            let b = DecodedBlock(seq: ks, message: msg)
            cache.put(ks, b)
            blocks.append(b)
        }
        let n = ResolvedNode(
            owner: node.owner, keySeqs: node.keySeqs, children: node.children, keyBlocks: blocks, cacheKey: ck)
        nodes.replace(ck, n)
        return n
    }

    /// The root node at `version`, or nil for an empty tree.
    nonisolated(nonsending) func rootNode(version: UInt64, trace: QueryTrace?) async throws -> ResolvedNode? {
        guard version >= 2 else { return nil }
        if trace == nil, let n = nodes.get((version - 1) << 16) { return n }
        let (_, levels) = try await indexed(version - 1, version: version, trace: trace)
        guard !levels.isEmpty else { throw TreeError.noRootAt(version: version) }
        return try await resolvedNode(
            seq: version - 1, offset: 0, parentSeq: version - 1, version: version, trace: trace)
    }

    /// Child `i` of `node` if it is in the node cache (synchronous fast path; validates like `child`).
    @inline(__always) func cachedChild(_ node: ResolvedNode, _ i: Int) -> ResolvedNode? {
        let seq = node.children[2 * i]
        guard seq >= 1, seq <= node.owner.seq,
            let ck = ResolvedNode.cacheKey(seq: seq, offset: node.children[2 * i + 1])
        else { return nil }
        return nodes.get(ck)
    }

    /// Child `i` of `node`.
    @inline(__always)
    nonisolated(nonsending) func child(_ node: ResolvedNode, _ i: Int, version: UInt64, trace: QueryTrace?) async throws
        -> ResolvedNode
    {
        try await resolvedNode(
            seq: node.children[2 * i], offset: node.children[2 * i + 1], parentSeq: node.owner.seq, version: version,
            trace: trace)
    }

    /// The block holding key `i` of `node`.
    @inline(__always)
    nonisolated(nonsending) func keyBlock(_ node: ResolvedNode, _ i: Int, version: UInt64, trace: QueryTrace?)
        async throws -> DecodedBlock
    {
        if let b = node.keyBlocks[i] {
            trace?.touch(b.seq)
            return b
        }
        return try await block(node.keySeqs[i], version: version, trace: trace)
    }

    /// Whether reading key `i` of `node` would need its block from the log (it is neither resolved nor cached).
    @inline(__always) func keyMissing(_ node: ResolvedNode, _ i: Int, version: UInt64) -> Bool {
        node.keyBlocks[i] == nil && cachedBlock(node.keySeqs[i], version: version) == nil
    }

    /// Called when a search enters `node` (or a scan is about to read a key block that is not cached), on a sparse
    /// log only: asks the log for every uncached key block of the node (and, with `children` and
    /// `.keysAndChildren`, its child node blocks) in one batch, so the level costs one round trip instead of one per
    /// binary-search step, and the next level's node is already local. The blocks are only made local here; they
    /// are validated and decoded when the search reads them.
    nonisolated(nonsending) func prefetchNode(
        _ node: ResolvedNode, children: Bool, version: UInt64, trace: QueryTrace?
    ) async {
        guard batchesFetches else { return }
        var seqs: [UInt64] = []
        seqs.reserveCapacity(node.keyCount + node.children.count / 2)
        for i in 0..<node.keyCount where keyMissing(node, i, version: version) {
            let ks = node.keySeqs[i]
            if ks >= 1, ks <= node.owner.seq { seqs.append(ks) }
        }
        if children, prefetch == .keysAndChildren {
            var i = 0
            while i + 1 < node.children.count {
                let cs = node.children[i]
                if cs >= 1, cs <= node.owner.seq, cs < version, cache.get(cs) == nil { seqs.append(cs) }
                i += 2
            }
        }
        guard !seqs.isEmpty else { return }
        // Not inside `trace?.…(…)`: optional chaining would skip the fetch when there is no trace.
        let fetched = await log.prefetch(seqs)
        trace?.fetchedWave(fetched)
    }

    /// Synchronous variant that only succeeds from the cache (used by hot loops before falling back to `block`).
    @inline(__always) func cachedBlock(_ seq: UInt64, version: UInt64) -> DecodedBlock? {
        guard seq >= 1, seq < version else { return nil }
        return cache.get(seq)
    }

    private nonisolated(nonsending) func load(_ seq: UInt64, trace: QueryTrace?) async throws
        -> (DecodedBlock, [IndexLevel])
    {
        trace?.touch(seq)
        var raw = try log.localBlock(at: seq)
        if raw == nil {
            raw = try await log.block(at: seq)
            trace?.fetchedOne()
        }
        let msg = try NodeMessage.decode(raw!, seq: seq)
        let b = DecodedBlock(seq: seq, message: msg)
        cache.put(seq, b)
        indexes.put(seq, BlockIndex(levels: msg.levels))
        return (b, msg.levels)
    }

    /// The index level `offset` of block `seq`, reached from a parent in block `parentSeq`.
    nonisolated(nonsending) func node(
        seq: UInt64, offset: UInt64, parentSeq: UInt64, version: UInt64, trace: QueryTrace?
    ) async throws
        -> (DecodedBlock, IndexLevel)
    {
        guard seq <= parentSeq else {
            throw TreeError.badPointer(seq: parentSeq, reason: "child points forward to block \(seq)")
        }
        let (b, levels) = try await indexed(seq, version: version, trace: trace)
        guard offset < UInt64(levels.count) else {
            throw TreeError.badPointer(
                seq: parentSeq, reason: "child offset \(offset) but block \(seq) has \(levels.count) levels")
        }
        return (b, levels[Int(offset)])
    }

    /// The root node at `version`, or nil for an empty tree.
    nonisolated(nonsending) func root(version: UInt64, trace: QueryTrace?) async throws -> (DecodedBlock, IndexLevel)? {
        guard version >= 2 else { return nil }
        let (b, levels) = try await indexed(version - 1, version: version, trace: trace)
        guard let first = levels.first else { throw TreeError.noRootAt(version: version) }
        return (b, first)
    }

    /// Key bytes of key `i` of a node stored in `owner`.
    @inline(__always)
    nonisolated(nonsending) func key(
        _ i: Int, of level: IndexLevel, owner: DecodedBlock, version: UInt64, trace: QueryTrace?
    ) async throws
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
    nonisolated(nonsending) func get(_ key: [UInt8], version: UInt64, trace: QueryTrace?) async throws -> TreeEntry? {
        guard var node = try await rootNode(version: version, trace: trace) else { return nil }
        for _ in 0..<TreeStore.maxDepth {
            if batchesFetches { await prefetchNode(node, children: !node.isLeaf, version: version, trace: trace) }
            var s = 0
            var e = node.keyCount
            if trace == nil, node.isPacked {
                while s < e {
                    let mid = (s + e) >> 1
                    let c = node.comparePacked(key, mid)
                    if c == 0 { return node.packedEntry(mid) }
                    if c < 0 { e = mid } else { s = mid + 1 }
                }
            }
            while s < e {
                let mid = (s + e) >> 1
                let kb: DecodedBlock
                if trace == nil, let hit = node.keyBlocks[mid] {
                    kb = hit
                } else {
                    kb = try await keyBlock(node, mid, version: version, trace: trace)
                }
                let c = compareBytes(key, kb.key)
                if c == 0 { return kb.entry }
                if c < 0 { e = mid } else { s = mid + 1 }
            }
            if node.isLeaf { return nil }
            if trace == nil, let hit = cachedChild(node, s) {
                node = hit
            } else {
                node = try await child(node, s, version: version, trace: trace)
            }
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
