import Foundation
import HyperCrypto
import PeerProtocol

/// Claims of a peer token (JWT payload).
///
/// ```json
/// {"iss":"<gateway key hex>","sub":"<peer key hex>","relay":"<relay key hex>","scope":"relay-access",
///  "iat":1767225600,"exp":1767229200,"seq":3,"jti":"<16 random bytes hex>"}
/// ```
public struct TokenClaims: Codable, Sendable, Equatable {
    /// Issuer: the gateway's Ed25519 public key, hex.
    public var iss: String
    /// Subject: the peer's swarm public key, hex.
    public var sub: String
    /// Relay key the token grants access to, hex.
    public var relay: String
    /// Granted scope (`relay-access`).
    public var scope: String
    /// Issued at, Unix seconds.
    public var iat: UInt64
    /// Expires at, Unix seconds.
    public var exp: UInt64
    /// Sequence, strictly increasing per peer and relay; a refresh bumps it.
    public var seq: UInt64
    /// Token id (16 random bytes, hex): the revocation handle.
    public var jti: String

    /// Checks field shapes (hex keys, bounded strings, exp after iat).
    func check() throws(TokenError) {
        do {
            try Check.hexKey(iss, at: "iss")
            try Check.hexKey(sub, at: "sub")
            try Check.hexKey(relay, at: "relay")
            try Check.identifier(scope, max: 64, at: "scope")
            try Check.hexKey(jti, bytes: 16, at: "jti")
            try Check.range(seq, 1...UInt64.max, at: "seq")
        } catch let e as PayloadValidationError {
            throw .malformed("claim \(e.path): \(e.reason)")
        } catch {
            throw .malformed("claims: \(error)")
        }
        guard exp > iat else { throw .malformed("claim exp must be after iat") }
    }
}

/// Stateless token checks any holder of the gateway public key can run (workers, other gateways): algorithm,
/// signature, issuer, subject, relay and time. Revocation and sequence need the gateway's store
/// (`TokenService.verify`).
public struct TokenVerifier: Sendable {
    /// Gateway Ed25519 public key.
    public let gatewayKey: [UInt8]
    /// Seconds an `iat` may lie in the future (clock skew between machines).
    public let clockSkewSeconds: UInt64

    public init(gatewayKey: [UInt8], clockSkewSeconds: UInt64 = 30) {
        self.gatewayKey = gatewayKey
        self.clockSkewSeconds = clockSkewSeconds
    }

    /// Verifies `token` for `peer` on `relay` at `nowSeconds`; returns its claims.
    public func verify(_ token: String, peer: [UInt8], relay: [UInt8], nowSeconds: UInt64) throws(TokenError)
        -> TokenClaims
    {
        let claims = try decodeVerified(token)
        guard claims.sub.lowercased() == peer.hex else { throw .wrongPeer(expected: peer.hex, actual: claims.sub) }
        guard claims.relay.lowercased() == relay.hex else {
            throw .wrongRelay(expected: relay.hex, actual: claims.relay)
        }
        guard nowSeconds < claims.exp else { throw .expired(expiredAt: claims.exp, now: nowSeconds) }
        guard claims.iat <= nowSeconds + clockSkewSeconds else {
            throw .notYetValid(issuedAt: claims.iat, now: nowSeconds)
        }
        return claims
    }

    /// Checks algorithm, signature, claim shapes and issuer only.
    public func decodeVerified(_ token: String) throws(TokenError) -> TokenClaims {
        let jws = try EdDSAJWS.verify(token, publicKey: gatewayKey)
        let claims: TokenClaims
        do {
            claims = try JSONDecoder().decode(TokenClaims.self, from: Data(jws.payload))
        } catch {
            throw .malformed("claims are not a valid token claim set")
        }
        try claims.check()
        guard claims.iss.lowercased() == gatewayKey.hex else { throw .wrongIssuer(claims.iss) }
        return claims
    }
}
