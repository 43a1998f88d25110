import HyperLog
import LMDBKit

/// Wraps a `ProofSource` (e.g. the swarm `Replicator`) and measures how a reader uses it: requests sent, and round
/// trips, where a round trip starts each time a request is sent while no other request is outstanding (requests
/// sent together share one). Used by tests and benchmarks to check that a sparse tree read batches its fetches.
public final class CountingProofSource: ProofSource, @unchecked Sendable {
    // Invariant: `inflight`, `sent` and `waves` are only touched under `lock`.
    private let lock = Lock()
    private var inflight = 0
    private var sent = 0
    private var waves = 0
    public let base: any ProofSource

    public init(_ base: any ProofSource) { self.base = base }

    /// Proof requests forwarded so far.
    public var requests: Int { lock.withLock { sent } }
    /// Round trips so far (waves of concurrent requests).
    public var roundTrips: Int { lock.withLock { waves } }

    public func remoteLength() async throws -> UInt64 { try await base.remoteLength() }
    public func remoteFork() async throws -> UInt64? { try await base.remoteFork() }

    public func proof(for request: ProofRequest) async throws -> Proof {
        lock.withLock {
            if inflight == 0 { waves += 1 }
            inflight += 1
            sent += 1
        }
        defer { lock.withLock { inflight -= 1 } }
        return try await base.proof(for: request)
    }
}
