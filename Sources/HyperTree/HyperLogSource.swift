import HyperLog

/// Makes a `HyperLog` usable as a tree's log. A writable HyperLog backs a writable tree; a sparse replica backs a
/// read-only tree whose missing blocks are fetched (and Merkle-verified) from `remote` on demand.
public final class HyperLogSource: TreeLog, @unchecked Sendable {
    // Invariant: all state is immutable; HyperLog is itself thread-safe.
    public let hyperLog: HyperLog
    public let remote: (any ProofSource)?

    public init(_ log: HyperLog, remote: (any ProofSource)? = nil) {
        self.hyperLog = log
        self.remote = remote
    }

    public var length: UInt64 { hyperLog.length }
    public var isWritable: Bool { hyperLog.isWritable }
    /// True for a replica with a remote: its reads batch their fetches.
    public var isSparse: Bool { remote != nil && !hyperLog.isWritable }

    public func localBlock(at seq: UInt64) throws -> [UInt8]? {
        guard hyperLog.has(seq) else { return nil }
        do {
            return try hyperLog.get(seq)
        } catch HyperLogError.blockNotAvailable {
            return nil  // cleared between the check and the read
        } catch {
            throw TreeError.blockUnavailable(seq: seq, reason: "\(error)")
        }
    }

    public func block(at seq: UInt64) async throws -> [UInt8] {
        if let b = try localBlock(at: seq) { return b }
        guard let remote else { throw TreeError.blockUnavailable(seq: seq, reason: "not stored and no remote") }
        do {
            return try await hyperLog.fetch(seq, from: remote)
        } catch {
            throw TreeError.blockUnavailable(seq: seq, reason: "\(error)")
        }
    }

    /// Fetches every missing block concurrently (the transport keeps them in flight together, so the batch costs
    /// one round trip), each verified against the Merkle tree as it arrives.
    public func prefetch(_ seqs: [UInt64]) async -> Int {
        guard let remote else { return 0 }
        let length = hyperLog.length
        let missing = Array(Set(seqs.filter { $0 < length && !hyperLog.has($0) }))
        guard !missing.isEmpty else { return 0 }
        let log = hyperLog
        return await withTaskGroup(of: Bool.self) { group in
            for seq in missing { group.addTask { (try? await log.fetch(seq, from: remote)) != nil } }
            var n = 0
            for await ok in group where ok { n += 1 }
            return n
        }
    }

    public func append(_ blocks: [[UInt8]]) async throws -> UInt64 {
        guard hyperLog.isWritable else { throw TreeError.readOnly }
        return try hyperLog.append(blocks)
    }

    /// Lengths after appends and verified upgrades (downloads and clears do not change the tree version).
    public func lengthUpdates() -> AsyncStream<UInt64> {
        let events = hyperLog.events()
        let (stream, cont) = AsyncStream<UInt64>.makeStream(bufferingPolicy: .bufferingNewest(64))
        let task = Task {
            for await e in events {
                switch e {
                case .appended(let length, _): cont.yield(length)
                case .truncated(let length, _): cont.yield(length)
                default: break
                }
            }
            cont.finish()
        }
        cont.onTermination = { _ in task.cancel() }
        return stream
    }

    /// For a replica: learns the newest signed length from `remote` (verified). Returns the new length.
    @discardableResult
    public func update() async throws -> UInt64 {
        guard let remote else { return hyperLog.length }
        return try await hyperLog.update(from: remote)
    }
}
