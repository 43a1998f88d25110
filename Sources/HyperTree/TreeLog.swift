import HyperLog
import LMDBKit

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What HyperTree needs from an append-only log (a HyperLog, or the in-memory logs below).
///
/// Blocks are immutable once appended, so any prefix of the log is a consistent snapshot of the tree.
public protocol TreeLog: AnyObject, Sendable {
    /// Number of blocks in the log (the tree version).
    var length: UInt64 { get }
    /// Whether this process may append.
    var isWritable: Bool { get }
    /// The block if it is held locally, `nil` if it would have to come from a peer. Never does I/O to peers.
    func localBlock(at seq: UInt64) throws -> [UInt8]?
    /// The block, awaiting it from a peer when it is not local.
    func block(at seq: UInt64) async throws -> [UInt8]
    /// Appends all blocks atomically (all or none) and returns the new length.
    func append(_ blocks: [[UInt8]]) async throws -> UInt64
    /// A stream of new lengths, yielded after every append or remote update.
    func lengthUpdates() -> AsyncStream<UInt64>
    /// Makes the blocks at `seqs` local, requesting every missing one together so that they cost one round trip
    /// to a peer, not one each. A hint: a block that cannot be fetched is skipped (the read that needs it reports
    /// the error). Returns how many blocks were fetched. The default fetches the missing blocks one after another.
    func prefetch(_ seqs: [UInt64]) async -> Int
    /// Whether missing blocks may be fetched from a peer (reads then batch their fetches). Default: false.
    var isSparse: Bool { get }
}

extension TreeLog {
    public var isSparse: Bool { false }

    public func prefetch(_ seqs: [UInt64]) async -> Int {
        var fetched = 0
        for seq in seqs {
            let local = (try? localBlock(at: seq)) ?? nil
            guard local == nil else { continue }
            if (try? await block(at: seq)) != nil { fetched += 1 }
        }
        return fetched
    }
}

/// An in-memory, writable log: the reference implementation used by tests.
public final class MemoryTreeLog: TreeLog, @unchecked Sendable {
    // Invariant: `blocks` is only touched under `lock`.
    private let lock = Lock()
    private var blocks: [[UInt8]] = []
    private let broadcaster = Broadcaster<UInt64>(buffer: 64)

    public init(blocks: [[UInt8]] = []) { self.blocks = blocks }

    public var length: UInt64 { lock.withLock { UInt64(blocks.count) } }
    public var isWritable: Bool { true }

    public func localBlock(at seq: UInt64) throws -> [UInt8]? {
        try lock.withLock {
            guard seq < UInt64(blocks.count) else {
                throw TreeError.blockUnavailable(seq: seq, reason: "beyond length \(blocks.count)")
            }
            return blocks[Int(seq)]
        }
    }

    public func block(at seq: UInt64) async throws -> [UInt8] {
        guard let b = try localBlock(at: seq) else { throw TreeError.blockUnavailable(seq: seq, reason: "missing") }
        return b
    }

    public func append(_ newBlocks: [[UInt8]]) async throws -> UInt64 {
        let n = lock.withLock { () -> UInt64 in
            blocks.append(contentsOf: newBlocks)
            return UInt64(blocks.count)
        }
        broadcaster.publish(n)
        return n
    }

    public func lengthUpdates() -> AsyncStream<UInt64> { broadcaster.stream() }

    /// A copy of every block (for tests and replication fixtures).
    public var allBlocks: [[UInt8]] { lock.withLock { blocks } }
}

/// A read-only sparse replica of another log: it starts with no blocks and fetches each missing block from its
/// source on demand, counting what it fetched (the stand-in for a peer replicating a HyperLog sparsely).
public final class SparseTreeLog: TreeLog, @unchecked Sendable {
    // Invariant: `held`, `fetchCount` and `waves` are only touched under `lock`.
    private let lock = Lock()
    private let source: any TreeLog
    private var held: [UInt64: [UInt8]] = [:]
    private var fetchCount = 0
    private var waves = 0

    public init(source: any TreeLog) { self.source = source }

    public var length: UInt64 { source.length }
    public var isWritable: Bool { false }
    public var isSparse: Bool { true }

    /// How many blocks were fetched from the source so far.
    public var fetchedBlocks: Int { lock.withLock { fetchCount } }
    /// Seqs held locally.
    public var heldSeqs: Set<UInt64> { lock.withLock { Set(held.keys) } }
    /// Fetch waves so far: each `block(at:)` that went to the source, and each `prefetch` that fetched anything
    /// (its blocks are requested together). Over a network each wave is one round trip.
    public var roundTrips: Int { lock.withLock { waves } }

    public func localBlock(at seq: UInt64) throws -> [UInt8]? { lock.withLock { held[seq] } }

    public func block(at seq: UInt64) async throws -> [UInt8] {
        if let b = lock.withLock({ held[seq] }) { return b }
        lock.withLock { waves += 1 }
        return try await fetch(seq)
    }

    /// Fetches the missing blocks concurrently, as one wave.
    public func prefetch(_ seqs: [UInt64]) async -> Int {
        let missing = lock.withLock { Array(Set(seqs.filter { held[$0] == nil })) }
        guard !missing.isEmpty else { return 0 }
        lock.withLock { waves += 1 }
        return await withTaskGroup(of: Bool.self) { group in
            for seq in missing { group.addTask { (try? await self.fetch(seq)) != nil } }
            var n = 0
            for await ok in group where ok { n += 1 }
            return n
        }
    }

    private func fetch(_ seq: UInt64) async throws -> [UInt8] {
        let b = try await source.block(at: seq)
        lock.withLock {
            if held.updateValue(b, forKey: seq) == nil { fetchCount += 1 }
        }
        return b
    }

    public func append(_ blocks: [[UInt8]]) async throws -> UInt64 { throw TreeError.readOnly }

    public func lengthUpdates() -> AsyncStream<UInt64> { source.lengthUpdates() }
}
