import CSodium
import HyperCrypto

/// Cryptographic primitives of `Noise_XX_Ed25519_ChaChaPoly_BLAKE2b` as used by Hyperswarm's secret-stream.
///
/// - Hash: BLAKE2b-512 (HASHLEN 64).
/// - HMAC: RFC 2104 over BLAKE2b-512 with a 128-byte block.
/// - HKDF: extract + expand to two 64-byte outputs, empty info.
/// - Cipher: ChaCha20-Poly1305 IETF; nonce = 4 zero bytes, then the 32-bit counter little-endian, then 4 zero bytes.
/// - DH: `crypto_scalarmult_ed25519_noclamp(clamp(SHA-512(seed)[0..<32]), remoteEd25519PublicKey)`.
enum NoiseCrypto {
    static let hashLength = 64
    static let blockLength = 128
    static let macLength = 16

    /// BLAKE2b-512 of the concatenation of `parts`.
    static func hash(_ parts: [UInt8]...) -> [UInt8] {
        var h = BLAKE2b(outputLength: hashLength)
        for p in parts { h.update(p) }
        return h.finalize()
    }

    /// HMAC-BLAKE2b-512.
    static func hmac(key: [UInt8], _ parts: [UInt8]...) -> [UInt8] {
        var k = key.count > blockLength ? hash(key) : key
        k += [UInt8](repeating: 0, count: blockLength - k.count)
        var inner = BLAKE2b(outputLength: hashLength)
        inner.update(k.map { $0 ^ 0x36 })
        for p in parts { inner.update(p) }
        let innerDigest = inner.finalize()
        var outer = BLAKE2b(outputLength: hashLength)
        outer.update(k.map { $0 ^ 0x5c })
        outer.update(innerDigest)
        return outer.finalize()
    }

    /// HKDF with empty info producing two 64-byte keys.
    static func hkdf(salt: [UInt8], inputKeyMaterial: [UInt8]) -> ([UInt8], [UInt8]) {
        let prk = hmac(key: salt, inputKeyMaterial)
        let t1 = hmac(key: prk, [1])
        let t2 = hmac(key: prk, t1, [2])
        return (t1, t2)
    }

    static func nonce(_ counter: UInt64) -> [UInt8] {
        var n = [UInt8](repeating: 0, count: 12)
        let c = UInt32(truncatingIfNeeded: counter)
        n[4] = UInt8(c & 0xff)
        n[5] = UInt8((c >> 8) & 0xff)
        n[6] = UInt8((c >> 16) & 0xff)
        n[7] = UInt8(c >> 24)
        return n
    }

    static func encrypt(key: [UInt8], counter: UInt64, ad: [UInt8], plaintext: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plaintext.count + macLength)
        var outLen: UInt64 = 0
        let n = nonce(counter)
        _ = crypto_aead_chacha20poly1305_ietf_encrypt(
            &out, &outLen, plaintext, UInt64(plaintext.count), ad, UInt64(ad.count), nil, n, key)
        return out
    }

    static func decrypt(key: [UInt8], counter: UInt64, ad: [UInt8], ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard ciphertext.count >= macLength else { throw .decryptionFailed }
        var out = [UInt8](repeating: 0, count: ciphertext.count - macLength)
        var outLen: UInt64 = 0
        let n = nonce(counter)
        let rc = crypto_aead_chacha20poly1305_ietf_decrypt(
            &out, &outLen, nil, ciphertext, UInt64(ciphertext.count), ad, UInt64(ad.count), n, key)
        guard rc == 0 else { throw .decryptionFailed }
        return out
    }

    /// The clamped Ed25519 scalar derived from a 32-byte seed (as libsodium does for signing keys).
    static func scalar(fromSeed seed: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 64)
        _ = crypto_hash_sha512(&digest, seed, UInt64(seed.count))
        digest[0] &= 248
        digest[31] &= 127
        digest[31] |= 64
        return Array(digest[0..<32])
    }

    /// Ed25519 Diffie-Hellman: `scalar * remotePublicKey` without clamping; rejects invalid or small-order points.
    static func dh(secretSeed: [UInt8], remotePublicKey: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard remotePublicKey.count == 32 else { throw .invalidPublicKey }
        let n = scalar(fromSeed: secretSeed)
        var out = [UInt8](repeating: 0, count: 32)
        let rc = crypto_scalarmult_ed25519_noclamp(&out, n, remotePublicKey)
        guard rc == 0 else { throw .invalidPublicKey }
        return out
    }
}

/// Failures of the Noise handshake.
public enum NoiseError: Error, Equatable, CustomStringConvertible {
    case decryptionFailed
    case invalidPublicKey
    case truncatedMessage(expected: Int, got: Int)
    case unexpectedMessage
    case handshakeComplete

    public var description: String {
        switch self {
        case .decryptionFailed: return "Noise: authentication of handshake ciphertext failed"
        case .invalidPublicKey: return "Noise: remote public key is not a valid Ed25519 point"
        case .truncatedMessage(let e, let g): return "Noise: handshake message too short (need \(e) bytes, got \(g))"
        case .unexpectedMessage: return "Noise: handshake message out of turn"
        case .handshakeComplete: return "Noise: handshake already complete"
        }
    }
}
