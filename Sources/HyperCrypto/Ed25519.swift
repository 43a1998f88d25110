import CSodium

/// Ed25519 signing keys (libsodium `crypto_sign`): 32-byte public key, 64-byte secret key (seed || public key).
public struct Ed25519KeyPair: Sendable, Equatable {
    /// 32-byte public key.
    public let publicKey: [UInt8]
    /// 64-byte libsodium secret key (seed followed by the public key).
    public let secretKey: [UInt8]

    /// Errors for malformed key material.
    public enum KeyError: Error, Equatable, CustomStringConvertible {
        case badSeedLength(Int)
        case badSecretKeyLength(Int)
        case inconsistentSecretKey

        public var description: String {
            switch self {
            case .badSeedLength(let n): return "Ed25519 seed must be 32 bytes, got \(n)"
            case .badSecretKeyLength(let n): return "Ed25519 secret key must be 64 bytes, got \(n)"
            case .inconsistentSecretKey: return "Ed25519 secret key does not match its embedded public key"
            }
        }
    }

    /// Deterministic key pair from a 32-byte seed (as `hypercore-crypto.keyPair(seed)`).
    public init(seed: [UInt8]) throws {
        Sodium.ensureReady()
        guard seed.count == 32 else { throw KeyError.badSeedLength(seed.count) }
        var pk = [UInt8](repeating: 0, count: 32)
        var sk = [UInt8](repeating: 0, count: 64)
        _ = crypto_sign_seed_keypair(&pk, &sk, seed)
        publicKey = pk
        secretKey = sk
    }

    /// Restores a key pair from a 64-byte secret key, checking that its public half matches.
    public init(secretKey: [UInt8]) throws {
        guard secretKey.count == 64 else { throw KeyError.badSecretKeyLength(secretKey.count) }
        let derived = try Ed25519KeyPair(seed: Array(secretKey[0..<32]))
        guard derived.publicKey == Array(secretKey[32..<64]) else { throw KeyError.inconsistentSecretKey }
        self = derived
    }

    /// A fresh random key pair.
    public static func generate() -> Ed25519KeyPair {
        // A 32-byte seed is always valid.
        try! Ed25519KeyPair(seed: randomBytes(32))
    }

    /// The 32-byte seed this key pair derives from.
    public var seed: [UInt8] { Array(secretKey[0..<32]) }

    /// Detached 64-byte signature of `message`.
    public func sign(_ message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { Ed25519.sign($0, secretKey: secretKey) }
    }
}

/// Stateless Ed25519 operations.
public enum Ed25519 {
    /// Detached signature with a 64-byte secret key.
    public static func sign(_ message: UnsafeRawBufferPointer, secretKey: [UInt8]) -> [UInt8] {
        Sodium.ensureReady()
        precondition(secretKey.count == 64, "Ed25519 secret key must be 64 bytes")
        var sig = [UInt8](repeating: 0, count: 64)
        _ = crypto_sign_detached(
            &sig, nil, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count), secretKey)
        return sig
    }

    /// Verifies a detached signature; false for any malformed input.
    public static func verify(signature: [UInt8], message: UnsafeRawBufferPointer, publicKey: [UInt8]) -> Bool {
        Sodium.ensureReady()
        guard signature.count == 64, publicKey.count == 32 else { return false }
        return crypto_sign_verify_detached(
            signature, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count), publicKey)
            == 0
    }

    /// Verifies a detached signature over a byte array.
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        message.withUnsafeBytes { verify(signature: signature, message: $0, publicKey: publicKey) }
    }
}
