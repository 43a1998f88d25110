import HyperCrypto
import PeerProtocol

/// The gateway's token contract: per-peer tokens (keyed to the peer's swarm public key, scoped to one relay),
/// signed with the gateway's Ed25519 key as EdDSA JWTs.
///
/// `peer` is always the key the transport authenticated (the Noise static key of the swarm connection), never a
/// key taken from the request body.
public protocol TokenAuthority: Sendable {
    /// The gateway public key tokens and control frames are signed with.
    var gatewayKey: [UInt8] { get }
    /// Issues a fresh token (sequence + 1) to `peer` for `relay`, recording the registration.
    func issue(peer: [UInt8], relay: [UInt8]) throws(TokenError) -> IssuedToken
    /// Exchanges the current token, inside the refresh window, for a new one with the next sequence.
    func refresh(_ token: String, peer: [UInt8], relay: [UInt8]) throws(TokenError) -> IssuedToken
    /// Revokes the peer's current token for `relay`; returns the signed `token-revoked` control frame to send.
    func revoke(peer: [UInt8], relay: [UInt8], reason: String) throws(TokenError) -> ControlFrame
    /// Full verification: signature, alg, issuer, peer, relay, expiry, revocation, sequence, quarantine.
    func verify(_ token: String, peer: [UInt8], relay: [UInt8]) throws(TokenError) -> TokenClaims
}
