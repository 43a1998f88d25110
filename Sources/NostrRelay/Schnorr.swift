import CSecp256k1
import HyperCrypto

/// The libsecp256k1 context (immutable after creation and randomisation; safe to share across threads).
private final class SecpContext: @unchecked Sendable {
    // Invariant: created once, randomised once in init, then only passed to const-context API calls
    // (verify, parse, keypair_create, sign32), which libsecp256k1 documents as thread-safe.
    let pointer: OpaquePointer

    init() {
        pointer = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE))!
        var seed = randomBytes(32)
        _ = secp256k1_context_randomize(pointer, &seed)
    }
}

/// BIP-340 Schnorr signatures over secp256k1 (libsecp256k1).
public enum Schnorr {
    private static let context = SecpContext()

    /// Verifies a 64-byte signature of a 32-byte message by an x-only public key (all hex).
    public static func verify(signatureHex: String, messageHex: String, publicKeyHex: String) -> Bool {
        guard let sig = [UInt8](hex: signatureHex), sig.count == 64,
            let msg = [UInt8](hex: messageHex), msg.count == 32,
            let pub = [UInt8](hex: publicKeyHex), pub.count == 32
        else { return false }
        return verify(signature: sig, message: msg, publicKey: pub)
    }

    /// Verifies a 64-byte signature of a 32-byte message by a 32-byte x-only public key.
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, message.count == 32, publicKey.count == 32 else { return false }
        var xonly = secp256k1_xonly_pubkey()
        guard secp256k1_xonly_pubkey_parse(context.pointer, &xonly, publicKey) == 1 else { return false }
        return secp256k1_schnorrsig_verify(context.pointer, signature, message, 32, &xonly) == 1
    }

    /// The x-only public key of a 32-byte secret key, or nil if the key is invalid.
    public static func publicKey(secretKey: [UInt8]) -> [UInt8]? {
        guard secretKey.count == 32 else { return nil }
        var keypair = secp256k1_keypair()
        guard secp256k1_keypair_create(context.pointer, &keypair, secretKey) == 1 else { return nil }
        var xonly = secp256k1_xonly_pubkey()
        guard secp256k1_keypair_xonly_pub(context.pointer, &xonly, nil, &keypair) == 1 else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        guard secp256k1_xonly_pubkey_serialize(context.pointer, &out, &xonly) == 1 else { return nil }
        return out
    }

    /// Signs a 32-byte message (BIP-340, fresh auxiliary randomness).
    public static func sign(message: [UInt8], secretKey: [UInt8]) -> [UInt8]? {
        guard message.count == 32, secretKey.count == 32 else { return nil }
        var keypair = secp256k1_keypair()
        guard secp256k1_keypair_create(context.pointer, &keypair, secretKey) == 1 else { return nil }
        var sig = [UInt8](repeating: 0, count: 64)
        let aux = randomBytes(32)
        guard secp256k1_schnorrsig_sign32(context.pointer, &sig, message, &keypair, aux) == 1 else { return nil }
        return sig
    }
}
