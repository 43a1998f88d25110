/// Why a token was refused, or an operation on it could not proceed. Every case is distinct so callers,
/// logs and metrics can tell them apart.
public enum TokenError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not a well-formed compact JWS / claim set.
    case malformed(String)
    /// Header `alg` is not `EdDSA` (e.g. `none`, `HS256`).
    case unsupportedAlgorithm(String)
    /// Signature does not verify under the gateway key.
    case badSignature
    /// Signed by this key but claims another issuer.
    case wrongIssuer(String)
    /// `exp` is not after now.
    case expired(expiredAt: UInt64, now: UInt64)
    /// `iat` lies further in the future than the allowed clock skew.
    case notYetValid(issuedAt: UInt64, now: UInt64)
    /// The token id was revoked.
    case revoked(tokenId: String)
    /// A newer token has been issued to this peer for this relay.
    case staleSequence(presented: UInt64, current: UInt64)
    /// Issued for another relay.
    case wrongRelay(expected: String, actual: String)
    /// Issued to another peer.
    case wrongPeer(expected: String, actual: String)
    /// No token was ever issued to this peer for this relay (or the store does not know this token).
    case unknownToken
    /// Too many consecutive failed refreshes: the peer is quarantined until an operator lifts it.
    case quarantined(peer: String)
    /// Refresh asked before the refresh window opened.
    case refreshTooEarly(opensAt: UInt64, now: UInt64)
    /// A key argument was not 32 bytes.
    case invalidKey(String)
    /// Persisting failed (LMDB error text).
    case storage(String)

    /// Short machine-readable reason (log field `reason`, metric dimension `reason`).
    public var reason: String {
        switch self {
        case .malformed: return "malformed"
        case .unsupportedAlgorithm: return "unsupported_algorithm"
        case .badSignature: return "bad_signature"
        case .wrongIssuer: return "wrong_issuer"
        case .expired: return "expired"
        case .notYetValid: return "not_yet_valid"
        case .revoked: return "revoked"
        case .staleSequence: return "stale_sequence"
        case .wrongRelay: return "wrong_relay"
        case .wrongPeer: return "wrong_peer"
        case .unknownToken: return "unknown_token"
        case .quarantined: return "quarantined"
        case .refreshTooEarly: return "refresh_too_early"
        case .invalidKey: return "invalid_key"
        case .storage: return "storage"
        }
    }

    public var description: String {
        switch self {
        case .malformed(let why): return "malformed token: \(why)"
        case .unsupportedAlgorithm(let alg): return "token algorithm \"\(alg)\" refused: only EdDSA is accepted"
        case .badSignature: return "token signature does not verify under the gateway key"
        case .wrongIssuer(let iss): return "token issuer \(iss) is not this gateway"
        case .expired(let exp, let now): return "token expired at \(exp) (now \(now))"
        case .notYetValid(let iat, let now): return "token issued in the future (iat \(iat), now \(now))"
        case .revoked(let id): return "token \(id) was revoked"
        case .staleSequence(let p, let c): return "token sequence \(p) is stale (current \(c))"
        case .wrongRelay(let e, let a): return "token is for relay \(a), not \(e)"
        case .wrongPeer(let e, let a): return "token belongs to peer \(a), not \(e)"
        case .unknownToken: return "no such token was issued to this peer for this relay"
        case .quarantined(let p): return "peer \(p) is quarantined after repeated failed refreshes"
        case .refreshTooEarly(let opens, let now): return "refresh window opens at \(opens) (now \(now))"
        case .invalidKey(let why): return "invalid key: \(why)"
        case .storage(let why): return "token store failure: \(why)"
        }
    }
}
