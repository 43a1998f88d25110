import HyperCrypto

/// A peer's HTTP request to the gateway (`POST /gateway/register`, `POST /token/refresh`) signed with its swarm
/// key, for peers that talk HTTP instead of the swarm channel. Headers:
/// - `x-hypertuna-peer`: the peer's swarm public key (hex)
/// - `x-hypertuna-timestamp`: Unix milliseconds when signed (the gateway accepts a window around its clock)
/// - `x-hypertuna-nonce`: 16 random bytes (hex), refused when seen before inside the window
/// - `x-hypertuna-signature`: Ed25519 (hex) over `domainSeparator`, then method, path, peer, timestamp, nonce and
///   the SHA-256 of the body, each as a `CanonicalWriter` string.
public enum SignedHTTPRequest {
    public static let peerHeader = "x-hypertuna-peer"
    public static let timestampHeader = "x-hypertuna-timestamp"
    public static let nonceHeader = "x-hypertuna-nonce"
    public static let signatureHeader = "x-hypertuna-signature"
    public static let domainSeparator: [UInt8] = Array("hypertuna/signed-http-request/v1\0".utf8)

    /// The bytes signed.
    public static func signable(
        method: String, path: String, peer: String, timestamp: UInt64, nonce: String, body: [UInt8]
    ) -> [UInt8] {
        var w = CanonicalWriter(domainSeparator)
        w.append(method.uppercased())
        w.append(path)
        w.append(peer.lowercased())
        w.append(String(timestamp))
        w.append(nonce.lowercased())
        w.append(SHA256.hash(body).hex)
        return w.bytes
    }

    /// The four headers for a request signed by `keyPair` at `timestamp` (Unix ms).
    public static func headers(
        method: String, path: String, body: [UInt8], keyPair: Ed25519KeyPair, timestamp: UInt64,
        nonce: String = randomBytes(16).hex
    ) -> [String: String] {
        let peer = keyPair.publicKey.hex
        let sig = keyPair.sign(
            signable(method: method, path: path, peer: peer, timestamp: timestamp, nonce: nonce, body: body))
        return [
            peerHeader: peer, timestampHeader: String(timestamp), nonceHeader: nonce, signatureHeader: sig.hex,
        ]
    }

    /// What a verified request proves.
    public struct Verified: Sendable, Equatable {
        public let peerKey: [UInt8]
        public let timestamp: UInt64
        public let nonce: String
    }

    /// Why a signed request is refused.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        case missingHeader(String)
        case malformedHeader(String)
        case outsideWindow(timestamp: UInt64, now: UInt64, windowSeconds: UInt64)
        case badSignature

        public var description: String {
            switch self {
            case .missingHeader(let h): return "missing header \(h)"
            case .malformedHeader(let h): return "malformed header \(h)"
            case .outsideWindow(let ts, let now, let w):
                return "timestamp \(ts) is more than \(w) s away from the gateway's clock (\(now))"
            case .badSignature: return "signature does not verify under the peer key"
            }
        }
    }

    /// Checks headers, window and signature (not the nonce's novelty: the caller keeps the replay guard).
    /// `headers` keys must be lower case.
    public static func verify(
        method: String, path: String, body: [UInt8], headers: [String: String], nowMilliseconds: UInt64,
        windowSeconds: UInt64
    ) throws(Failure) -> Verified {
        func header(_ name: String) throws(Failure) -> String {
            guard let v = headers[name], !v.isEmpty else { throw .missingHeader(name) }
            return v
        }
        let peer = try header(peerHeader)
        guard peer.utf8.count == 64, let key = [UInt8](hex: peer) else { throw .malformedHeader(peerHeader) }
        guard let timestamp = UInt64(try header(timestampHeader)) else { throw .malformedHeader(timestampHeader) }
        let nonce = try header(nonceHeader)
        guard nonce.utf8.count == 32, [UInt8](hex: nonce) != nil else { throw .malformedHeader(nonceHeader) }
        guard let sig = [UInt8](hex: try header(signatureHeader)), sig.count == 64 else {
            throw .malformedHeader(signatureHeader)
        }
        let window = windowSeconds * 1000
        let distance = timestamp > nowMilliseconds ? timestamp - nowMilliseconds : nowMilliseconds - timestamp
        guard distance <= window else {
            throw .outsideWindow(timestamp: timestamp, now: nowMilliseconds, windowSeconds: windowSeconds)
        }
        let message = signable(
            method: method, path: path, peer: peer, timestamp: timestamp, nonce: nonce, body: body)
        guard Ed25519.verify(signature: sig, message: message, publicKey: key) else { throw .badSignature }
        return Verified(peerKey: key, timestamp: timestamp, nonce: nonce.lowercased())
    }
}

/// Worker -> gateway `POST /token/refresh` body.
public struct TokenRefreshRequest: PeerPayload {
    public static let supportedVersion = 1
    public var version: Int
    /// The current token (compact JWS).
    public var token: String

    public init(token: String) {
        version = Self.supportedVersion
        self.token = token
    }

    enum CodingKeys: String, CodingKey { case version, token }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? Self.supportedVersion
        token = try c.decode(String.self, forKey: .token)
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        try Check.text(token, length: 5...4096, at: Check.join(path, "token"))
    }
}
