import Foundation
import HyperCrypto
import Logging
import PeerProtocol

/// The gateway's `TokenAuthority` over a `TokenStore`. Mutations are serialised (one lock), so two refreshes
/// racing with the same token cannot both succeed: the second sees a stale sequence.
public final class TokenService: TokenAuthority, @unchecked Sendable {
    // Invariant: `lock` serialises issue/refresh/revoke/liftQuarantine/purge so read-modify-write cycles on the
    // store never interleave; all stored properties are immutable after init.
    private let lock = NSLock()
    private let keyPair: Ed25519KeyPair
    private let store: any TokenStore
    private let clock: any TokenClock
    private let audit: TokenAudit
    private let frames: ControlFrameSigner
    /// Lifetimes and quarantine rule.
    public let policy: TokenPolicy
    /// Stateless checks with this gateway's key.
    public let verifier: TokenVerifier

    public var gatewayKey: [UInt8] { keyPair.publicKey }

    public init(
        keyPair: Ed25519KeyPair, store: any TokenStore, policy: TokenPolicy = .standard,
        clock: any TokenClock = SystemClock(), audit: TokenAudit = TokenAudit()
    ) {
        self.keyPair = keyPair
        self.store = store
        self.policy = policy
        self.clock = clock
        self.audit = audit
        self.verifier = TokenVerifier(gatewayKey: keyPair.publicKey, clockSkewSeconds: policy.clockSkewSeconds)
        self.frames = ControlFrameSigner(keyPair: keyPair, counter: store, clock: clock)
    }

    /// Protected header of every token: alg, typ, and the RFC 7638 thumbprint of the gateway key as kid.
    public var tokenHeader: [UInt8] {
        Array(#"{"alg":"EdDSA","kid":"\#(EdDSAKey.thumbprint(keyPair.publicKey))","typ":"JWT"}"#.utf8)
    }

    // MARK: issue

    public func issue(peer: [UInt8], relay: [UInt8]) throws(TokenError) -> IssuedToken {
        try Self.checkKeys(peer: peer, relay: relay)
        return try locked { () throws(TokenError) -> IssuedToken in
            let now = clock.nowSeconds()
            let previous = try storage { try store.tokenState(peerKey: peer.hex, relayKey: relay.hex) }
            if let previous, previous.quarantinedAt != nil {
                audit.rejected(
                    operation: "issue", peer: peer.hex, relay: relay.hex, error: .quarantined(peer: peer.hex))
                throw .quarantined(peer: peer.hex)
            }
            var registration =
                try storage { try store.registration(peerKey: peer.hex) }
                ?? PeerRegistrationRecord(
                    peerKey: peer.hex, relayKeys: [], firstRegisteredAt: now, lastRegisteredAt: now)
            registration.lastRegisteredAt = now
            if !registration.relayKeys.contains(relay.hex) { registration.relayKeys.append(relay.hex) }
            let state = TokenState(
                peerKey: peer.hex, relayKey: relay.hex, scope: policy.scope, sequence: (previous?.sequence ?? 0) + 1,
                tokenId: randomBytes(16).hex, issuedAt: now, expiresAt: now + policy.ttlSeconds,
                consecutiveFailedRefreshes: 0, quarantinedAt: nil)
            let token = sign(state)
            try storage { try store.commit(TokenStoreBatch(registrations: [registration], states: [state])) }
            audit.issued(state)
            return token
        }
    }

    // MARK: refresh

    public func refresh(_ token: String, peer: [UInt8], relay: [UInt8]) throws(TokenError) -> IssuedToken {
        try Self.checkKeys(peer: peer, relay: relay)
        return try locked { () throws(TokenError) -> IssuedToken in
            let now = clock.nowSeconds()
            guard var state = try storage({ try store.tokenState(peerKey: peer.hex, relayKey: relay.hex) }) else {
                audit.rejected(operation: "refresh", peer: peer.hex, relay: relay.hex, error: .unknownToken)
                throw .unknownToken
            }
            do throws(TokenError) {
                if state.quarantinedAt != nil { throw TokenError.quarantined(peer: peer.hex) }
                let claims = try verifyLocked(token, peer: peer, relay: relay, state: state, now: now)
                let opensAt = claims.exp - min(policy.refreshWindowSeconds, claims.exp)
                guard now >= opensAt else { throw TokenError.refreshTooEarly(opensAt: opensAt, now: now) }
            } catch {
                audit.rejected(operation: "refresh", peer: peer.hex, relay: relay.hex, error: error)
                if case .quarantined = error { throw error }
                state.consecutiveFailedRefreshes += 1
                if state.consecutiveFailedRefreshes >= policy.quarantineThreshold { state.quarantinedAt = now }
                let failed = state
                try storage { try store.commit(TokenStoreBatch(states: [failed])) }
                if failed.quarantinedAt != nil { audit.quarantined(failed) }
                throw error
            }
            state.sequence += 1
            state.tokenId = randomBytes(16).hex
            state.issuedAt = now
            state.expiresAt = now + policy.ttlSeconds
            state.consecutiveFailedRefreshes = 0
            let fresh = state
            let issued = sign(fresh)
            try storage { try store.commit(TokenStoreBatch(states: [fresh])) }
            audit.refreshed(fresh)
            return issued
        }
    }

    // MARK: revoke

    public func revoke(peer: [UInt8], relay: [UInt8], reason: String) throws(TokenError) -> ControlFrame {
        try Self.checkKeys(peer: peer, relay: relay)
        let reason = Self.sanitizedReason(reason)
        return try locked { () throws(TokenError) -> ControlFrame in
            let now = clock.nowSeconds()
            guard let state = try storage({ try store.tokenState(peerKey: peer.hex, relayKey: relay.hex) }) else {
                throw .unknownToken
            }
            let record = RevocationRecord(
                tokenId: state.tokenId, peerKey: state.peerKey, relayKey: state.relayKey, sequence: state.sequence,
                expiresAt: state.expiresAt, revokedAt: now, reason: reason)
            try storage { try store.commit(TokenStoreBatch(revocations: [record])) }
            let notice = TokenRevokedNotice(
                peerKey: state.peerKey, relayKey: state.relayKey, tokenId: state.tokenId, sequence: state.sequence,
                reason: reason)
            let frame = try storage { try frames.sign(.tokenRevoked, payload: notice) }
            audit.revoked(record, frameSequence: frame.sequence)
            return frame
        }
    }

    // MARK: verify

    public func verify(_ token: String, peer: [UInt8], relay: [UInt8]) throws(TokenError) -> TokenClaims {
        do throws(TokenError) {
            try Self.checkKeys(peer: peer, relay: relay)
            let state = try storage { try store.tokenState(peerKey: peer.hex, relayKey: relay.hex) }
            return try verifyLocked(token, peer: peer, relay: relay, state: state, now: clock.nowSeconds())
        } catch {
            audit.rejected(operation: "verify", peer: peer.hex, relay: relay.hex, error: error)
            throw error
        }
    }

    private func verifyLocked(_ token: String, peer: [UInt8], relay: [UInt8], state: TokenState?, now: UInt64)
        throws(TokenError) -> TokenClaims
    {
        let claims = try verifier.verify(token, peer: peer, relay: relay, nowSeconds: now)
        if try storage({ try store.revocation(tokenId: claims.jti.lowercased()) }) != nil {
            throw .revoked(tokenId: claims.jti)
        }
        guard let state else { throw .unknownToken }
        if state.quarantinedAt != nil { throw .quarantined(peer: peer.hex) }
        if claims.seq < state.sequence { throw .staleSequence(presented: claims.seq, current: state.sequence) }
        guard claims.seq == state.sequence, claims.jti.lowercased() == state.tokenId else { throw .unknownToken }
        return claims
    }

    // MARK: administration

    /// Clears a quarantine (operator action); the peer must then get a new token through `issue`.
    public func liftQuarantine(peer: [UInt8], relay: [UInt8]) throws(TokenError) {
        try Self.checkKeys(peer: peer, relay: relay)
        try locked { () throws(TokenError) in
            guard var state = try storage({ try store.tokenState(peerKey: peer.hex, relayKey: relay.hex) }) else {
                throw .unknownToken
            }
            state.quarantinedAt = nil
            state.consecutiveFailedRefreshes = 0
            let cleared = state
            try storage { try store.commit(TokenStoreBatch(states: [cleared])) }
            audit.quarantineLifted(cleared)
        }
    }

    /// Current metadata for a peer and relay (admin API).
    public func state(peer: [UInt8], relay: [UInt8]) throws(TokenError) -> TokenState? {
        try storage { try store.tokenState(peerKey: peer.hex, relayKey: relay.hex) }
    }

    /// Forgets revocations whose token expired more than the clock skew ago (they can no longer verify).
    /// Returns how many were removed. Run periodically.
    @discardableResult
    public func purgeExpiredRevocations() throws(TokenError) -> Int {
        try locked { () throws(TokenError) -> Int in
            let now = clock.nowSeconds()
            guard now > policy.clockSkewSeconds else { return 0 }
            return try storage { try store.purgeRevocations(expiringBefore: now - policy.clockSkewSeconds) }
        }
    }

    /// Signs an arbitrary control frame (reassign, pause-replication, ...) with the next persisted sequence.
    public func signControlFrame<P: PeerPayload>(_ type: ControlFrameType, payload: P) throws(TokenError)
        -> ControlFrame
    {
        try locked { () throws(TokenError) -> ControlFrame in try storage { try frames.sign(type, payload: payload) } }
    }

    // MARK: helpers

    private func sign(_ s: TokenState) -> IssuedToken {
        let claims = TokenClaims(
            iss: keyPair.publicKey.hex, sub: s.peerKey, relay: s.relayKey, scope: s.scope, iat: s.issuedAt,
            exp: s.expiresAt, seq: s.sequence, jti: s.tokenId)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding a struct of strings and integers cannot fail.
        let payload = Array(try! encoder.encode(claims))
        let compact = EdDSAJWS.sign(protectedHeader: tokenHeader, payload: payload, keyPair: keyPair)
        return IssuedToken(
            token: compact, sequence: s.sequence, issuedAt: s.issuedAt, expiresAt: s.expiresAt,
            refreshAfter: s.expiresAt - min(policy.refreshWindowSeconds, s.expiresAt - s.issuedAt))
    }

    /// Operator text made safe for the frame payload: control characters become spaces, at most 256 UTF-8 bytes
    /// (cut on a character boundary).
    static func sanitizedReason(_ text: String) -> String {
        var out = ""
        var bytes = 0
        for scalar in text.unicodeScalars {
            let s: Unicode.Scalar = (scalar.value < 0x20 || scalar.value == 0x7f) ? " " : scalar
            let n = String(s).utf8.count
            if bytes + n > 256 { break }
            out.unicodeScalars.append(s)
            bytes += n
        }
        return out
    }

    private static func checkKeys(peer: [UInt8], relay: [UInt8]) throws(TokenError) {
        guard peer.count == 32 else { throw .invalidKey("peer key must be 32 bytes, got \(peer.count)") }
        guard relay.count == 32 else { throw .invalidKey("relay key must be 32 bytes, got \(relay.count)") }
    }

    private func locked<T>(_ body: () throws(TokenError) -> T) throws(TokenError) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func storage<T>(_ body: () throws -> T) throws(TokenError) -> T {
        do {
            return try body()
        } catch let e as TokenError {
            throw e
        } catch {
            throw .storage("\(error)")
        }
    }
}
