import HyperCrypto

/// The result of a finished Noise XX handshake.
public struct NoiseResult: Sendable, Equatable {
    /// 32-byte key for frames we send.
    public let tx: [UInt8]
    /// 32-byte key for frames we receive.
    public let rx: [UInt8]
    /// 64-byte handshake hash (identical on both sides; binds capabilities to this session).
    public let handshakeHash: [UInt8]
    /// The remote's static Ed25519 public key, authenticated by the handshake.
    public let remotePublicKey: [UInt8]
}

/// Noise XX (`Noise_XX_Ed25519_ChaChaPoly_BLAKE2b`) state machine, byte-compatible with noise-handshake + noise-curve-ed.
///
/// Messages: `-> e`, `<- e, ee, s, es`, `-> s, se`, each followed by an (encrypted when keyed) empty payload.
public struct NoiseHandshake: Sendable {
    public static let protocolName = "Noise_XX_Ed25519_ChaChaPoly_BLAKE2b"

    private enum Token { case e, s, ee, es, se }
    private static let pattern: [[Token]] = [[.e], [.e, .ee, .s, .es], [.s, .se]]

    public let isInitiator: Bool
    private let staticSeed: [UInt8]
    private let staticPublicKey: [UInt8]
    private var ephemeral: Ed25519KeyPair?
    private var remoteEphemeral: [UInt8]?
    private var remoteStatic: [UInt8]?
    private var digest: [UInt8]
    private var chainingKey: [UInt8]
    private var key: [UInt8]?
    private var nonce: UInt64 = 0
    private var step = 0
    /// Set once the third message has been sent or received.
    public private(set) var result: NoiseResult?

    /// - Parameters:
    ///   - ephemeralSeed: seed of the ephemeral key pair; nil draws a random one (tests pass a fixed seed to replay vectors).
    public init(isInitiator: Bool, staticKeyPair: Ed25519KeyPair, prologue: [UInt8] = [], ephemeralSeed: [UInt8]? = nil)
    {
        self.isInitiator = isInitiator
        staticSeed = staticKeyPair.seed
        staticPublicKey = staticKeyPair.publicKey
        let eSeed = ephemeralSeed ?? randomBytes(32)
        ephemeral = try? Ed25519KeyPair(seed: eSeed)
        let name = Array(Self.protocolName.utf8)
        if name.count <= NoiseCrypto.hashLength {
            digest = name + [UInt8](repeating: 0, count: NoiseCrypto.hashLength - name.count)
        } else {
            digest = NoiseCrypto.hash(name)
        }
        chainingKey = digest
        mixHash(prologue)
    }

    /// True when it is our turn to produce a handshake message.
    public var isOurTurn: Bool {
        result == nil && (step % 2 == 0) == isInitiator
    }

    public var isComplete: Bool { result != nil }

    private mutating func mixHash(_ data: [UInt8]) {
        digest = NoiseCrypto.hash(digest, data)
    }

    private mutating func mixKey(seed: [UInt8], remote: [UInt8]) throws(NoiseError) {
        let shared = try NoiseCrypto.dh(secretSeed: seed, remotePublicKey: remote)
        let (ck, k) = NoiseCrypto.hkdf(salt: chainingKey, inputKeyMaterial: shared)
        chainingKey = ck
        key = Array(k[0..<32])
        nonce = 0
    }

    private mutating func encryptAndHash(_ plaintext: [UInt8]) -> [UInt8] {
        var out = plaintext
        if let key {
            out = NoiseCrypto.encrypt(key: key, counter: nonce, ad: digest, plaintext: plaintext)
            nonce += 1
        }
        mixHash(out)
        return out
    }

    private mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        var out = ciphertext
        if let key {
            out = try NoiseCrypto.decrypt(key: key, counter: nonce, ad: digest, ciphertext: ciphertext)
            nonce += 1
        }
        mixHash(ciphertext)
        return out
    }

    /// Our key for a DH token: (local seed, remote public key).
    private func dhInputs(_ t: Token) throws(NoiseError) -> ([UInt8], [UInt8]) {
        let localStatic: Bool
        let remoteStaticKey: Bool
        switch t {
        case .ee: (localStatic, remoteStaticKey) = (false, false)
        case .es: (localStatic, remoteStaticKey) = (!isInitiator, isInitiator)
        case .se: (localStatic, remoteStaticKey) = (isInitiator, !isInitiator)
        default: throw .unexpectedMessage
        }
        guard let e = ephemeral else { throw .unexpectedMessage }
        let local = localStatic ? staticSeed : e.seed
        guard let remote = remoteStaticKey ? remoteStatic : remoteEphemeral else { throw .unexpectedMessage }
        return (local, remote)
    }

    /// Produces our next handshake message (unframed).
    public mutating func send(payload: [UInt8] = []) throws(NoiseError) -> [UInt8] {
        guard result == nil else { throw .handshakeComplete }
        guard isOurTurn, let e = ephemeral else { throw .unexpectedMessage }
        var out: [UInt8] = []
        for t in Self.pattern[step] {
            switch t {
            case .e:
                mixHash(e.publicKey)
                out += e.publicKey
            case .s:
                out += encryptAndHash(staticPublicKey)
            case .ee, .es, .se:
                let (l, r) = try dhInputs(t)
                try mixKey(seed: l, remote: r)
            }
        }
        out += encryptAndHash(payload)
        step += 1
        if step == Self.pattern.count { finish() }
        return out
    }

    /// Consumes the remote's next handshake message (unframed) and returns its payload.
    @discardableResult
    public mutating func receive(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard result == nil else { throw .handshakeComplete }
        guard !isOurTurn else { throw .unexpectedMessage }
        var offset = 0
        func take(_ n: Int) throws(NoiseError) -> [UInt8] {
            guard message.count - offset >= n else { throw .truncatedMessage(expected: offset + n, got: message.count) }
            defer { offset += n }
            return Array(message[offset..<offset + n])
        }
        for t in Self.pattern[step] {
            switch t {
            case .e:
                let re = try take(32)
                remoteEphemeral = re
                mixHash(re)
            case .s:
                let len = key == nil ? 32 : 32 + NoiseCrypto.macLength
                let rs = try decryptAndHash(try take(len))
                remoteStatic = rs
            case .ee, .es, .se:
                let (l, r) = try dhInputs(t)
                try mixKey(seed: l, remote: r)
            }
        }
        let payload = try decryptAndHash(Array(message[offset...]))
        step += 1
        if step == Self.pattern.count { finish() }
        return payload
    }

    private mutating func finish() {
        let (k1, k2) = NoiseCrypto.hkdf(salt: chainingKey, inputKeyMaterial: [])
        let a = Array(k1[0..<32])
        let b = Array(k2[0..<32])
        result = NoiseResult(
            tx: isInitiator ? a : b, rx: isInitiator ? b : a, handshakeHash: digest,
            remotePublicKey: remoteStatic ?? [])
        ephemeral = nil
        remoteEphemeral = nil
        key = nil
    }
}
