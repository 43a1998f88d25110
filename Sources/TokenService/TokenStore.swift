import Foundation

/// What the gateway remembers about one peer.
public struct PeerRegistrationRecord: Codable, Sendable, Equatable {
    /// Peer swarm public key, hex.
    public var peerKey: String
    /// Relays (hex keys) the peer holds tokens for.
    public var relayKeys: [String]
    /// Unix seconds of the first registration.
    public var firstRegisteredAt: UInt64
    /// Unix seconds of the latest registration.
    public var lastRegisteredAt: UInt64
}

/// Token metadata for one (peer, relay): the current token and the sequence counter.
public struct TokenState: Codable, Sendable, Equatable {
    public var peerKey: String
    public var relayKey: String
    public var scope: String
    /// Sequence of the current token; never decreases, survives revocation.
    public var sequence: UInt64
    /// `jti` of the current token.
    public var tokenId: String
    public var issuedAt: UInt64
    public var expiresAt: UInt64
    /// Failed refresh attempts since the last success.
    public var consecutiveFailedRefreshes: Int
    /// Unix seconds when quarantined, nil when not.
    public var quarantinedAt: UInt64?
}

/// A revoked token, kept at least until that token would have expired.
public struct RevocationRecord: Codable, Sendable, Equatable {
    public var tokenId: String
    public var peerKey: String
    public var relayKey: String
    public var sequence: UInt64
    /// The revoked token's `exp` (Unix seconds).
    public var expiresAt: UInt64
    public var revokedAt: UInt64
    public var reason: String
}

/// Changes written together (atomically) by `TokenStore.commit`.
public struct TokenStoreBatch: Sendable {
    public var registrations: [PeerRegistrationRecord] = []
    public var states: [TokenState] = []
    public var revocations: [RevocationRecord] = []

    public init(
        registrations: [PeerRegistrationRecord] = [], states: [TokenState] = [], revocations: [RevocationRecord] = []
    ) {
        self.registrations = registrations
        self.states = states
        self.revocations = revocations
    }
}

/// Hands out the gateway's control-frame sequence numbers: strictly increasing, persisted before returned.
public protocol ControlFrameSequenceCounter: Sendable {
    /// The next sequence (the first is 1).
    func nextControlFrameSequence() throws -> UInt64
}

/// Persistence of registrations, token metadata and sequence counters, revocations and the control-frame
/// sequence. Every method is atomic on its own; `commit` applies a whole batch or nothing.
public protocol TokenStore: ControlFrameSequenceCounter {
    func registration(peerKey: String) throws -> PeerRegistrationRecord?
    func tokenState(peerKey: String, relayKey: String) throws -> TokenState?
    func revocation(tokenId: String) throws -> RevocationRecord?
    func revocations() throws -> [RevocationRecord]
    func commit(_ batch: TokenStoreBatch) throws
    /// Deletes revocations whose `expiresAt` is before `cutoff`; returns how many.
    func purgeRevocations(expiringBefore cutoff: UInt64) throws -> Int
}

/// In-memory store for tests.
public final class InMemoryTokenStore: TokenStore, @unchecked Sendable {
    // Invariant: all four maps and `frameSequence` are accessed only while `lock` is held.
    private let lock = NSLock()
    private var registrations: [String: PeerRegistrationRecord] = [:]
    private var states: [String: TokenState] = [:]
    private var revoked: [String: RevocationRecord] = [:]
    private var frameSequence: UInt64 = 0

    public init() {}

    public func registration(peerKey: String) throws -> PeerRegistrationRecord? {
        lock.withLock { registrations[peerKey] }
    }

    public func tokenState(peerKey: String, relayKey: String) throws -> TokenState? {
        lock.withLock { states[peerKey + ":" + relayKey] }
    }

    public func revocation(tokenId: String) throws -> RevocationRecord? { lock.withLock { revoked[tokenId] } }

    public func revocations() throws -> [RevocationRecord] {
        lock.withLock { revoked.values.sorted { $0.tokenId < $1.tokenId } }
    }

    public func commit(_ batch: TokenStoreBatch) throws {
        lock.withLock {
            for r in batch.registrations { registrations[r.peerKey] = r }
            for s in batch.states { states[s.peerKey + ":" + s.relayKey] = s }
            for r in batch.revocations { revoked[r.tokenId] = r }
        }
    }

    public func purgeRevocations(expiringBefore cutoff: UInt64) throws -> Int {
        lock.withLock {
            let doomed = revoked.values.filter { $0.expiresAt < cutoff }.map(\.tokenId)
            for id in doomed { revoked[id] = nil }
            return doomed.count
        }
    }

    public func nextControlFrameSequence() throws -> UInt64 {
        lock.withLock {
            frameSequence += 1
            return frameSequence
        }
    }
}
