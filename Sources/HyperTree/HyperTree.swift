// HyperTree: a Hyperbee-2-compatible B-tree over an append-only log (a HyperLog or any `TreeLog`).
//
// Every write appends one block (or one block per entry of a batch, in a single atomic append) in the exact
// Hyperbee 2 format. Reads go through a memory-bounded cache of decoded blocks and, on a sparse log, fetch only
// the blocks the query touches.

/// One write of an atomic batch, for `HyperTree.apply(_:)`.
public enum TreeOperation: Sendable, Equatable {
    case put(key: [UInt8], value: [UInt8]?)
    case del(key: [UInt8])
}

/// What a read fetches ahead when the log is sparse (`TreeLog.isSparse`: blocks missing locally come from a peer).
/// Complete logs ignore it.
public enum SparsePrefetch: Sendable, Hashable {
    /// Fetch only the blocks the read needs, one at a time: fewest blocks, but one round trip per missing key block
    /// of every binary-search step plus one per node block.
    case off
    /// When a search enters a node with key blocks that are not local, fetch all of them at once: one round trip
    /// for the keys and one for the node block, per tree level.
    case keys
    /// As `keys`, and fetch the node's child node blocks in the same batch, so the next level's node is already
    /// local: at most one round trip per tree level plus one for the root block, for about twice the blocks.
    case keysAndChildren
}

/// An ordered key-value store in Hyperbee 2 format.
public final class HyperTree: Sendable {
    /// Tuning options.
    public struct Options: Sendable {
        /// Memory bound of the decoded-block cache, in bytes.
        public var cacheBytes: Int = 64 << 20
        /// Metadata written into the header block when this tree creates it.
        public var metadata: HeaderMetadata? = nil
        /// What a read on a sparse log fetches ahead, trading bandwidth for round trips (see `SparsePrefetch`).
        public var prefetch: SparsePrefetch = .keysAndChildren

        public init(
            cacheBytes: Int = 64 << 20, metadata: HeaderMetadata? = nil, prefetch: SparsePrefetch = .keysAndChildren
        ) {
            self.cacheBytes = cacheBytes
            self.metadata = metadata
            self.prefetch = prefetch
        }
    }

    let store: TreeStore
    let options: Options
    let timings = CommitTimingsBox()
    /// Pinned version for checkouts and snapshots; nil follows the log.
    let pinned: UInt64?

    /// A tree over `log`. A writable empty log gets its header on the first write (or on `ready()`).
    public init(log: any TreeLog, options: Options = Options()) {
        self.store = TreeStore(log: log, cacheBytes: options.cacheBytes, prefetch: options.prefetch)
        self.options = options
        self.pinned = nil
    }

    private init(store: TreeStore, options: Options, pinned: UInt64) {
        self.store = store
        self.options = options
        self.pinned = pinned
    }

    /// The underlying log.
    public var log: any TreeLog { store.log }

    /// The tree's version: the log length it reads (at least 1, as in Hyperbee).
    public var version: UInt64 { max(1, pinned ?? store.log.length) }

    /// Whether this is a checkout or snapshot (read-only, pinned to a version).
    public var isCheckout: Bool { pinned != nil }

    /// Decoded blocks and search nodes currently cached, and their accounted bytes (bounded by `cacheBytes`).
    public var cacheStats: (blocks: Int, nodes: Int, bytes: Int) {
        (store.cache.count, store.nodes.count, store.cachedBytes)
    }

    /// Appends the header block if the log is writable and empty.
    public nonisolated(nonsending) func ready() async throws {
        guard pinned == nil, store.log.isWritable else { return }
        await store.writeLock.lock()
        do {
            try await appendHeaderIfEmpty()
            await store.writeLock.unlock()
        } catch {
            await store.writeLock.unlock()
            throw error
        }
    }

    private nonisolated(nonsending) func appendHeaderIfEmpty() async throws {
        if store.log.length == 0 {
            _ = try await store.log.append([TreeHeader(metadata: options.metadata).encoded()])
        }
    }

    /// The header block (block 0), or nil for an empty log.
    public nonisolated(nonsending) func header() async throws -> TreeHeader? {
        guard store.log.length > 0 else { return nil }
        var raw = try store.log.localBlock(at: 0)
        if raw == nil { raw = try await store.log.block(at: 0) }
        return try TreeHeader.decode(raw!)
    }

    /// A read-only view pinned at `version` (a past state of the tree).
    public func checkout(_ version: UInt64) throws -> HyperTree {
        let length = store.log.length
        guard version <= length else { throw TreeError.versionOutOfRange(requested: version, length: length) }
        return HyperTree(store: store, options: options, pinned: version)
    }

    /// A read-only view pinned at the current version: reads stay consistent while writes continue.
    public func snapshot() -> HyperTree {
        HyperTree(store: store, options: options, pinned: version)
    }

    // MARK: reads

    /// The entry for `key`, or nil. Pass a `QueryTrace` to learn which blocks the lookup touched.
    public nonisolated(nonsending) func get(_ key: [UInt8], trace: QueryTrace? = nil) async throws -> TreeEntry? {
        try await store.get(key, version: version, trace: trace)
    }

    /// Streams entries in key order within `options` (bounds, reverse, limit). The version is fixed when the
    /// sequence is created.
    public func range(_ options: RangeOptions = RangeOptions(), trace: QueryTrace? = nil) -> TreeRange {
        TreeRange(store: store, version: version, options: options, trace: trace)
    }

    /// The first entry of a range (or nil).
    public nonisolated(nonsending) func peek(_ options: RangeOptions = RangeOptions()) async throws -> TreeEntry? {
        var o = options
        o.limit = 1
        var it = range(o).makeAsyncIterator()
        return try await it.next()
    }

    // MARK: writes

    /// Runs `body` as one atomic batch: all its writes are appended in a single log append when it returns;
    /// nothing is written if it throws. Writers are serialised.
    public nonisolated(nonsending) func batch<T>(_ body: nonisolated(nonsending) (TreeBatch) async throws -> T)
        async throws -> T
    {
        guard pinned == nil else { throw TreeError.readOnly }
        guard store.log.isWritable else { throw TreeError.readOnly }
        await store.writeLock.lock()
        do {
            try await appendHeaderIfEmpty()
            let b = TreeBatch(store: store, baseLength: store.log.length)
            if let r = store.retained.take(version: b.baseLength) { b.adopt(root: r.root, writtenFrom: r.writtenFrom) }
            let started = ContinuousClock.now
            let result: T
            do { result = try await body(b) } catch {
                b.closed = true
                throw error
            }
            try await commit(b, operationsTime: ContinuousClock.now - started)
            await store.writeLock.unlock()
            return result
        } catch {
            await store.writeLock.unlock()
            throw error
        }
    }

    private nonisolated(nonsending) func commit(_ b: TreeBatch, operationsTime: Duration) async throws {
        b.closed = true
        guard b.count > 0 else {
            // Nothing changed: keep what the batch started from (its reads may have linked more nodes).
            if let root = b.takeNodes().root {
                store.retained.keep(root, version: b.baseLength, writtenFrom: b.adoptedFrom ?? b.baseLength)
            }
            return
        }
        let clock = ContinuousClock()
        var t = CommitTimings()
        t.operations = operationsTime
        var mark = clock.now
        let (raw, levels) = b.encode()
        t.encode = clock.now - mark
        t.blocks = raw.count
        let expected = b.baseLength + UInt64(raw.count)
        mark = clock.now
        let newLength = try await store.log.append(raw)
        t.append = clock.now - mark
        guard newLength == expected else {
            throw TreeError.blockUnavailable(
                seq: b.baseLength, reason: "log length \(newLength) after append, expected \(expected)")
        }
        // Warm the caches only now: a failed append leaves nothing behind. (Warming beside the append, on another
        // thread, measured no faster on 2 shared cores and cost more CPU.)
        mark = clock.now
        store.cache.put(contentsOf: (0..<raw.count).lazy.map { (b.baseLength + UInt64($0), b.decodedBlock($0)) })
        store.indexes.put(
            contentsOf: levels.indices.lazy.map { (b.baseLength + UInt64($0), BlockIndex(levels: levels[$0])) })
        t.cacheWarm = clock.now - mark
        timings.set(t)
        // Keep the nodes this batch wrote for the next batch. (The rest of the batch is freed here, on the writer:
        // freeing it on another thread measured no faster on a busy 2-core machine.)
        if let root = b.takeNodes().root { store.retained.keep(root, version: newLength, writtenFrom: b.baseLength) }
    }

    /// Timings of this tree object's most recent non-empty batch commit, nil before the first one.
    public var lastCommitTimings: CommitTimings? { timings.get() }

    /// Inserts or replaces `key`. With `cas`, writes only if `cas(previous, next)` is true. Returns whether it wrote.
    @discardableResult
    public nonisolated(nonsending) func put(
        _ key: [UInt8], _ value: [UInt8]?, cas: ((TreeEntry?, TreeEntry) -> Bool)? = nil
    ) async throws
        -> Bool
    {
        try await batch { try await $0.put(key, value, cas: cas) }
    }

    /// Removes `key`. With `cas`, removes only if `cas(previous)` is true. Returns whether it wrote.
    @discardableResult
    public nonisolated(nonsending) func del(_ key: [UInt8], cas: ((TreeEntry) -> Bool)? = nil) async throws -> Bool {
        try await batch { try await $0.del(key, cas: cas) }
    }

    /// Applies puts and deletes atomically (one append). Deletes of absent keys add no block.
    public nonisolated(nonsending) func apply(_ operations: [TreeOperation]) async throws {
        try await batch { b in
            for op in operations {
                switch op {
                case .put(let k, let v): try await b.put(k, v)
                case .del(let k): try await b.del(k)
                }
            }
        }
    }
}
