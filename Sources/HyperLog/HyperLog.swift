import CompactEncoding
import HyperCrypto
import LMDBKit

/// A single-writer, append-only log whose blocks are covered by a BLAKE2b Merkle tree signed with Ed25519, byte
/// compatible with Hypercore 11.
///
/// A writable log holds the secret key; a replica (`HyperLog.replica`) holds only the key, stores any subset of
/// blocks, and accepts remote data only through verified proofs (`apply(_:)`, `fetch(_:from:)`).
/// All methods are synchronous and thread-safe; none holds a storage transaction across `await`.
public final class HyperLog: @unchecked Sendable {
    /// Mutable state; only touched under `lock`.
    struct State {
        var header: LogHeader
        var identity: LogIdentity
        var roots: [TreeNode]
        var bitfield: Bitfield
        /// (fork after the truncation, length truncated to), for snapshot validity.
        var truncations: [(fork: UInt64, length: UInt64)] = []
    }

    let storage: any LogStorage
    let lock = Lock()
    private let eventBroadcaster = Broadcaster<LogEvent>(buffer: 4096)
    // Invariant: `state` is only touched under `lock`.
    var state: State
    /// The key pair of a writable log.
    public let keyPair: Ed25519KeyPair?

    init(storage: any LogStorage, header: LogHeader, keyPair: Ed25519KeyPair?) throws {
        self.storage = storage
        self.keyPair = keyPair
        let roots: [TreeNode] = try storage.read { r in
            try FlatTree.fullRoots(2 * header.length).map { i in
                guard let n = try Self.readNode(r, i) else { throw HyperLogError.corrupt("missing root node \(i)") }
                return n
            }
        }
        var bitfield = Bitfield()
        try storage.read { r in
            try r.scan(.bitfield, from: nil) { k, v in
                guard let page = LogKeys.decodeU64(k), bitfield.load(page: page, bytes: v) else {
                    throw HyperLogError.corrupt("bitfield page of \(v.count) bytes")
                }
                return true
            }
        }
        state = State(header: header, identity: header.identity, roots: roots, bitfield: bitfield)
    }

    // MARK: Opening

    /// Creates a writable log in `storage`, or reopens the one already there (which must have the same key).
    public static func create(
        in storage: any LogStorage, keyPair: Ed25519KeyPair, mode: SigningMode = .manifest
    ) throws -> HyperLog {
        let identity = LogIdentity(publicKey: keyPair.publicKey, mode: mode)
        if let existing = try readHeader(storage) {
            guard existing.key == identity.key else {
                throw HyperLogError.keyMismatch(expected: identity.key.hex, found: existing.key.hex)
            }
            return try HyperLog(storage: storage, header: existing, keyPair: keyPair)
        }
        let header = LogHeader(identity: identity, manifestKnown: true)
        var batch = LogWriteBatch()
        batch.put(.meta, LogKeys.header, header.compactEncoded)
        batch.put(.meta, LogKeys.secretKey, keyPair.secretKey)
        try storage.write(batch)
        return try HyperLog(storage: storage, header: header, keyPair: keyPair)
    }

    /// Opens the log stored in `storage` (writable when its secret key is stored there).
    public static func open(_ storage: any LogStorage) throws -> HyperLog {
        guard let header = try readHeader(storage) else { throw HyperLogError.noLog }
        var keyPair: Ed25519KeyPair?
        if let sk = try storage.read({ try $0.get(.meta, LogKeys.secretKey) }) {
            guard let kp = try? Ed25519KeyPair(secretKey: sk) else { throw HyperLogError.corrupt("bad secret key") }
            keyPair = kp
        }
        return try HyperLog(storage: storage, header: header, keyPair: keyPair)
    }

    /// Opens (creating when absent) a read-only sparse replica of the log with core key `key`.
    ///
    /// Pass the `manifest` for a manifest-mode log if known; otherwise the log is treated as compat
    /// (key = public key) until a proof carries a manifest whose hash is `key`.
    public static func replica(in storage: any LogStorage, key: [UInt8], manifest: Manifest? = nil) throws
        -> HyperLog
    {
        guard key.count == 32 else { throw HyperLogError.invalidArgument("key must be 32 bytes, got \(key.count)") }
        if let existing = try readHeader(storage) {
            guard existing.key == key else {
                throw HyperLogError.keyMismatch(expected: key.hex, found: existing.key.hex)
            }
            return try HyperLog(storage: storage, header: existing, keyPair: nil)
        }
        let header: LogHeader
        if let manifest {
            guard manifest.manifestHash == key else {
                throw HyperLogError.invalidArgument("manifest hash does not match the key")
            }
            header = LogHeader(identity: LogIdentity(manifest: manifest), manifestKnown: true)
        } else {
            header = LogHeader(identity: LogIdentity(publicKey: key, mode: .compat), manifestKnown: false)
        }
        var batch = LogWriteBatch()
        batch.put(.meta, LogKeys.header, header.compactEncoded)
        try storage.write(batch)
        return try HyperLog(storage: storage, header: header, keyPair: nil)
    }

    static func readHeader(_ storage: any LogStorage) throws -> LogHeader? {
        guard let bytes = try storage.read({ try $0.get(.meta, LogKeys.header) }) else { return nil }
        do { return try LogHeader(compactEncoded: bytes) } catch {
            throw HyperLogError.corrupt("header: \(error)")
        }
    }

    static func readNode(_ r: any LogStorageReader, _ index: UInt64) throws -> TreeNode? {
        try NodePages.read(r, index)
    }

    // MARK: Properties

    /// The core key (public key in compat mode, manifest hash in manifest mode).
    public var key: [UInt8] { lock.withLock { state.identity.key } }
    /// Keyed BLAKE2b of the key: the topic peers announce.
    public var discoveryKey: [UInt8] { lock.withLock { state.identity.discoveryKey } }
    /// Key, manifest and signing mode.
    public var identity: LogIdentity { lock.withLock { state.identity } }
    /// Whether this log can append (holds the secret key).
    public var isWritable: Bool { keyPair != nil }
    /// Number of blocks (for a replica: the longest verified length).
    public var length: UInt64 { lock.withLock { state.header.length } }
    /// Total bytes of all blocks.
    public var byteLength: UInt64 { lock.withLock { state.header.byteLength } }
    /// Fork id, incremented by every truncation.
    public var fork: UInt64 { lock.withLock { state.header.fork } }
    /// Current Merkle roots.
    public var roots: [TreeNode] { lock.withLock { state.roots } }
    /// Hash of the current roots (what is signed).
    public var treeHash: [UInt8] { lock.withLock { HypercoreCrypto.treeHash(state.roots) } }
    /// Signature of the current tree (raw 64 bytes in compat mode, multisig container otherwise); empty at length 0.
    public var signature: [UInt8] { lock.withLock { state.header.signature } }
    /// Number of blocks from 0 that are all stored locally.
    public var contiguousLength: UInt64 { lock.withLock { state.header.contiguousLength } }
    /// A copy of the bitfield of locally stored blocks.
    public var bitfield: Bitfield { lock.withLock { state.bitfield } }

    /// Whether block `index` is stored locally.
    public func has(_ index: UInt64) -> Bool { lock.withLock { state.bitfield.get(index) } }

    // MARK: Reading

    /// The block at `index`; throws `outOfRange` past the length and `blockNotAvailable` if not stored locally.
    public func get(_ index: UInt64) throws -> [UInt8] {
        let length = self.length
        guard index < length else { throw HyperLogError.outOfRange(index: index, length: length) }
        guard let v = try storage.read({ try $0.get(.blocks, LogKeys.u64(index)) }) else {
            throw HyperLogError.blockNotAvailable(index)
        }
        return v
    }

    /// Borrows the block at `index` without copying it out of storage.
    public func withBlock<T>(_ index: UInt64, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        let length = self.length
        guard index < length else { throw HyperLogError.outOfRange(index: index, length: length) }
        return try storage.read { r in
            try r.withValue(.blocks, LogKeys.u64(index)) { v in
                guard let v else { throw HyperLogError.blockNotAvailable(index) }
                return try body(v)
            }
        }
    }

    /// A stored tree node, or nil.
    public func node(_ index: UInt64) throws -> TreeNode? {
        try storage.read { try Self.readNode($0, index) }
    }

    // MARK: Writing

    /// Appends `blocks` atomically (one storage transaction, one signature) and returns the new length.
    @discardableResult
    public func append(_ blocks: [[UInt8]]) throws -> UInt64 {
        guard let keyPair else { throw HyperLogError.notWritable }
        let (length, byteLength): (UInt64, UInt64) = try lock.withLock {
            if blocks.isEmpty { return (state.header.length, state.header.byteLength) }
            var header = state.header
            // Leaf hashing runs on helper threads while the storage writes the blocks; the tree shape and the node
            // pages it touches are known before any hash.
            let job = LeafHashJob(blocks)
            job.start()
            let sizes = blocks.map { UInt64($0.count) }
            var plan = AppendTree.Plan(roots: state.roots, firstBlock: header.length, sizes: sizes)
            var nodeWriter = NodeWriter(storage: storage)
            try nodeWriter.load(plan.newIndices)
            var head = LogWriteBatch()
            for (k, block) in blocks.enumerated() {
                head.put(.blocks, LogKeys.u64(header.length + UInt64(k)), block)
                header.byteLength += sizes[k]
            }
            header.length += UInt64(blocks.count)
            var roots: [TreeNode] = []
            var bitfield = state.bitfield
            try storage.write(head) {
                let built = plan.finish(leafHashes: job.finish())
                roots = built.roots
                var batch = LogWriteBatch()
                for n in built.nodes { try nodeWriter.put(n) }
                nodeWriter.flush(into: &batch)
                bitfield.setRange(state.header.length, header.length, true)
                if header.contiguousLength == state.header.length {
                    header.contiguousLength = bitfield.firstUnset(from: header.contiguousLength)
                }
                bitfield.flush(into: &batch)
                header.signature = state.identity.sign(
                    treeHash: HypercoreCrypto.treeHash(roots), length: header.length, fork: header.fork,
                    keyPair: keyPair)
                batch.put(.meta, LogKeys.header, header.compactEncoded)
                return batch
            }
            state.header = header
            state.roots = roots
            state.bitfield = bitfield
            return (header.length, header.byteLength)
        }
        if !blocks.isEmpty { emit(.appended(length: length, byteLength: byteLength)) }
        return length
    }

    /// Appends one block; returns the new length.
    @discardableResult
    public func append(_ block: [UInt8]) throws -> UInt64 { try append([block]) }

    /// Truncates to `newLength` blocks, removing later blocks and nodes, bumping the fork id and re-signing.
    public func truncate(to newLength: UInt64) throws {
        guard let keyPair else { throw HyperLogError.notWritable }
        let fork: UInt64 = try lock.withLock {
            var header = state.header
            guard newLength <= header.length else {
                throw HyperLogError.outOfRange(index: newLength, length: header.length)
            }
            let roots: [TreeNode] = try storage.read { r in
                try FlatTree.fullRoots(2 * newLength).map { i in
                    guard let n = try Self.readNode(r, i) else { throw HyperLogError.corrupt("missing node \(i)") }
                    return n
                }
            }
            var batch = LogWriteBatch()
            batch.deleteRange(.blocks, from: LogKeys.u64(newLength), to: nil)
            var nodeWriter = NodeWriter(storage: storage)
            try nodeWriter.removeAll(from: 2 * newLength)
            // Ancestors of the first removed leaf that sit below 2 * newLength also cover removed blocks.
            var i = 2 * newLength
            while FlatTree.depth(i) < 62 && FlatTree.leftSpan(i) < 2 * header.length {
                i = FlatTree.parent(i)
                if i < 2 * newLength { try nodeWriter.remove(i) }
            }
            nodeWriter.flush(into: &batch)
            var bitfield = state.bitfield
            bitfield.setRange(newLength, header.length, false)
            bitfield.flush(into: &batch)
            header.fork += 1
            header.length = newLength
            header.byteLength = roots.reduce(0) { $0 + $1.size }
            header.contiguousLength = min(header.contiguousLength, newLength)
            header.signature =
                newLength == 0
                ? []
                : state.identity.sign(
                    treeHash: HypercoreCrypto.treeHash(roots), length: newLength, fork: header.fork, keyPair: keyPair)
            batch.put(.meta, LogKeys.header, header.compactEncoded)
            try storage.write(batch)
            state.header = header
            state.roots = roots
            state.bitfield = bitfield
            state.truncations.append((header.fork, newLength))
            return header.fork
        }
        emit(.truncated(length: newLength, fork: fork))
    }

    /// Deletes the local copies of blocks in `range` (the tree and the signature stay, so the log still verifies
    /// and can re-fetch them). The storage pages of the removed blocks are freed for reuse.
    public func clear(_ range: Range<UInt64>) throws {
        let cleared: Range<UInt64>? = try lock.withLock {
            let end = min(range.upperBound, state.header.length)
            guard range.lowerBound < end else { return nil }
            var batch = LogWriteBatch()
            batch.deleteRange(.blocks, from: LogKeys.u64(range.lowerBound), to: LogKeys.u64(end))
            var bitfield = state.bitfield
            bitfield.setRange(range.lowerBound, end, false)
            bitfield.flush(into: &batch)
            var header = state.header
            header.contiguousLength = min(header.contiguousLength, range.lowerBound)
            batch.put(.meta, LogKeys.header, header.compactEncoded)
            try storage.write(batch)
            state.header = header
            state.bitfield = bitfield
            return range.lowerBound..<end
        }
        if let cleared { emit(.cleared(start: cleared.lowerBound, end: cleared.upperBound)) }
    }

    // MARK: Snapshots

    /// A read view fixed at the current length: later appends are invisible to it; a later truncation below an
    /// index makes reads of that index throw `snapshotInvalidated`.
    public func snapshot() -> HyperLogSnapshot {
        lock.withLock {
            HyperLogSnapshot(
                log: self, length: state.header.length, byteLength: state.header.byteLength, fork: state.header.fork,
                treeHash: HypercoreCrypto.treeHash(state.roots), signature: state.header.signature)
        }
    }

    /// The smallest length any truncation after `fork` cut the log to (nil if none).
    func truncatedLength(after fork: UInt64) -> UInt64? {
        lock.withLock { state.truncations.filter { $0.fork > fork }.map(\.length).min() }
    }

    // MARK: Events

    /// A stream of changes (appends, verified upgrades, downloads, truncations, clears) from now on.
    public func events() -> AsyncStream<LogEvent> { eventBroadcaster.stream() }

    func emit(_ event: LogEvent) { eventBroadcaster.publish(event) }

    /// Finishes every event stream (the storage is owned by its store).
    public func close() { eventBroadcaster.finish() }
}

/// A read view of a log at a fixed length (see `HyperLog.snapshot()`).
public struct HyperLogSnapshot: Sendable {
    public let log: HyperLog
    public let length: UInt64
    public let byteLength: UInt64
    public let fork: UInt64
    public let treeHash: [UInt8]
    public let signature: [UInt8]

    /// The block at `index` as of this snapshot.
    public func get(_ index: UInt64) throws -> [UInt8] {
        guard index < length else { throw HyperLogError.outOfRange(index: index, length: length) }
        if let cut = log.truncatedLength(after: fork), index >= cut {
            throw HyperLogError.snapshotInvalidated(length: length, truncatedTo: cut)
        }
        return try log.get(index)
    }
}
