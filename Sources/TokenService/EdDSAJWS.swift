import Foundation
import HyperCrypto

/// Compact JWS with `alg: EdDSA` over Ed25519 (RFC 7515 + RFC 8037), built on libsodium.
public enum EdDSAJWS {
    /// Longest compact token accepted.
    public static let maxTokenLength = 4096

    /// Signs `payload` under `protectedHeader` (which must declare `"alg":"EdDSA"`); returns the compact form.
    /// The header and payload bytes are used verbatim (base64url-encoded).
    public static func sign(protectedHeader: [UInt8], payload: [UInt8], keyPair: Ed25519KeyPair) -> String {
        let signingInput = Base64URL.encode(protectedHeader) + "." + Base64URL.encode(payload)
        let signature = keyPair.sign(Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }

    /// A parsed compact JWS whose signature has been checked.
    public struct Verified: Sendable {
        /// Decoded protected header JSON bytes.
        public let header: [UInt8]
        /// Decoded payload bytes.
        public let payload: [UInt8]
    }

    /// Parses a compact JWS, requires `alg` to be exactly `EdDSA` (no `crit` extensions), and checks the
    /// signature against `publicKey`.
    public static func verify(_ compact: String, publicKey: [UInt8]) throws(TokenError) -> Verified {
        guard compact.utf8.count <= maxTokenLength else {
            throw .malformed("token of \(compact.utf8.count) bytes exceeds \(maxTokenLength)")
        }
        let parts = compact.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("expected 3 dot-separated parts, got \(parts.count)") }
        guard let header = Base64URL.decode(parts[0]) else { throw .malformed("header is not base64url") }
        guard let payload = Base64URL.decode(parts[1]) else { throw .malformed("payload is not base64url") }
        guard let signature = Base64URL.decode(parts[2]) else { throw .malformed("signature is not base64url") }
        let fields: [String: Any]
        do {
            guard let obj = try JSONSerialization.jsonObject(with: Data(header)) as? [String: Any] else {
                throw TokenError.malformed("header is not a JSON object")
            }
            fields = obj
        } catch let e as TokenError {
            throw e
        } catch {
            throw .malformed("header is not JSON")
        }
        guard let alg = fields["alg"] as? String else { throw .malformed("header has no string alg") }
        guard alg == "EdDSA" else { throw .unsupportedAlgorithm(String(alg.prefix(32))) }
        if fields["crit"] != nil { throw .malformed("header carries crit extensions, none are supported") }
        guard signature.count == 64 else { throw .badSignature }
        let signingInput = Array(compact.utf8[..<parts[1].endIndex])
        guard Ed25519.verify(signature: signature, message: signingInput, publicKey: publicKey) else {
            throw .badSignature
        }
        return Verified(header: header, payload: payload)
    }
}

/// Public-key helpers for operators (JWK export and RFC 7638 thumbprint used as `kid`).
public enum EdDSAKey {
    /// Public JWK of an Ed25519 key: `{"crv":"Ed25519","kty":"OKP","x":...}` (RFC 8037 §2).
    public static func publicJWK(_ publicKey: [UInt8]) -> String {
        #"{"crv":"Ed25519","kty":"OKP","x":"\#(Base64URL.encode(publicKey))"}"#
    }

    /// RFC 7638 JWK thumbprint (SHA-256 of the canonical public JWK, base64url), used as the token `kid`.
    public static func thumbprint(_ publicKey: [UInt8]) -> String {
        Base64URL.encode(SHA256.hash(Array(publicJWK(publicKey).utf8)))
    }

    /// PEM (SPKI) form of the public key, for `openssl` and JWT tools that want PEM.
    public static func publicPEM(_ publicKey: [UInt8]) -> String {
        let spki: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00] + publicKey
        let b64 = Data(spki).base64EncodedString()
        return "-----BEGIN PUBLIC KEY-----\n\(b64)\n-----END PUBLIC KEY-----\n"
    }
}
