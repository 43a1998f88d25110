import CSodium
import HyperCrypto
import HyperLog

/// Failures of the secret-stream layer; each one ends the connection.
public enum SecretStreamError: Error, Equatable, CustomStringConvertible {
    case handshake(NoiseError)
    case invalidHeaderLength(Int)
    case invalidStreamID
    case frameTooShort(Int)
    case decryptionFailed
    case frameTooLarge(size: Int, limit: Int)
    case notEstablished

    public var description: String {
        switch self {
        case .handshake(let e): return "secret-stream handshake failed: \(e)"
        case .invalidHeaderLength(let n): return "secret-stream: header message has \(n) bytes, expected 56"
        case .invalidStreamID: return "secret-stream: remote stream id does not match the handshake"
        case .frameTooShort(let n): return "secret-stream: encrypted frame of \(n) bytes is shorter than 17"
        case .decryptionFailed: return "secret-stream: frame failed authentication"
        case .frameTooLarge(let size, let limit): return "secret-stream: frame of \(size) bytes exceeds limit \(limit)"
        case .notEstablished: return "secret-stream: not established yet"
        }
    }
}

/// Hyperswarm secret-stream framing: every frame is a 3-byte little-endian length followed by that many bytes.
public struct FrameDecoder: Sendable {
    /// Largest accepted frame payload (at most 2^24 - 1).
    public let maxFrameSize: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(maxFrameSize: Int = SecretStream.maxFrameSize) {
        self.maxFrameSize = min(maxFrameSize, SecretStream.maxFrameSize)
    }

    /// Appends received bytes.
    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame payload, nil when more bytes are needed.
    public mutating func next() throws(SecretStreamError) -> [UInt8]? {
        guard buffer.count - start >= 3 else { return nil }
        let len = Int(buffer[start]) | Int(buffer[start + 1]) << 8 | Int(buffer[start + 2]) << 16
        guard len <= maxFrameSize else { throw .frameTooLarge(size: len, limit: maxFrameSize) }
        guard buffer.count - start - 3 >= len else { return nil }
        let frame = Array(buffer[(start + 3)..<(start + 3 + len)])
        start += 3 + len
        if start > 65536 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return frame
    }

    /// Prefixes `payload` with its 3-byte little-endian length.
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(payload.count + 3)
        out.append(UInt8(payload.count & 0xff))
        out.append(UInt8((payload.count >> 8) & 0xff))
        out.append(UInt8((payload.count >> 16) & 0xff))
        out += payload
        return out
    }
}

/// One direction of `crypto_secretstream_xchacha20poly1305` with a caller-chosen header (so vectors can be replayed).
struct SecretStreamCipher: Sendable {
    static let headerBytes = Int(crypto_secretstream_xchacha20poly1305_HEADERBYTES)  // 24
    static let aBytes = Int(crypto_secretstream_xchacha20poly1305_ABYTES)  // 17
    private var state = crypto_secretstream_xchacha20poly1305_state()

    /// Initialises from a 32-byte key and 24-byte header. Push and pull states derived from the same header are equal,
    /// so `init_pull` also sets up a pusher with a known header.
    init(key: [UInt8], header: [UInt8]) {
        _ = crypto_secretstream_xchacha20poly1305_init_pull(&state, header, key)
    }

    /// Encrypts `plaintext` into `out` (which must hold `plaintext.count + 17` bytes) with TAG_MESSAGE.
    mutating func push(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        _ = crypto_secretstream_xchacha20poly1305_push(
            &state, out.baseAddress!.assumingMemoryBound(to: UInt8.self), nil,
            plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count), nil, 0,
            UInt8(crypto_secretstream_xchacha20poly1305_TAG_MESSAGE))
    }

    /// Decrypts `ciphertext` into `out` (which must hold `ciphertext.count - 17` bytes).
    mutating func pull(_ ciphertext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Bool {
        var tag: UInt8 = 0
        let rc = crypto_secretstream_xchacha20poly1305_pull(
            &state, out.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafeMutablePointer(bitPattern: 1),
            nil, &tag, ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count), nil, 0)
        return rc == 0
    }
}

/// Sans-IO Hyperswarm secret-stream: Noise XX handshake, stream-id + header exchange, then encrypted frames.
///
/// Feed each received frame payload to `receive(frame:)`; write every byte string it asks you to send, in order.
public struct SecretStream: Sendable {
    /// Largest frame payload representable by the 3-byte length prefix.
    public static let maxFrameSize = 0xFF_FFFF
    /// Bytes added to each plaintext message (secretstream tag + MAC).
    public static let overhead = SecretStreamCipher.aBytes
    static let idHeaderBytes = 32 + SecretStreamCipher.headerBytes

    /// hypercore-crypto `namespace('hyperswarm/secret-stream', 2)`: the initiator's and the responder's.
    static let namespaces = HypercoreCrypto.namespace("hyperswarm/secret-stream", count: 2)

    /// The 32-byte id a side announces after the handshake: BLAKE2b-256(namespace(side), key: handshakeHash).
    public static func streamID(handshakeHash: [UInt8], isInitiator: Bool) -> [UInt8] {
        BLAKE2b.hash(isInitiator ? namespaces[0] : namespaces[1], key: handshakeHash)
    }

    /// What the caller must do after feeding input.
    public enum Event: Sendable, Equatable {
        /// Write these bytes (already framed) to the transport.
        case send([UInt8])
        /// The handshake finished (emitted once).
        case handshake(NoiseResult)
        /// A decrypted application message (empty messages are keep-alives and are not reported).
        case message([UInt8])
    }

    public let isInitiator: Bool
    private var noise: NoiseHandshake
    private var encryptor: SecretStreamCipher?
    private var decryptor: SecretStreamCipher?
    private var headerRandom: [UInt8]?
    /// The finished handshake, once available.
    public private(set) var session: NoiseResult?
    private var started = false

    /// - Parameters:
    ///   - ephemeralSeed / header: deterministic randomness for replaying vectors; nil draws fresh randomness.
    public init(
        isInitiator: Bool, keyPair: Ed25519KeyPair, ephemeralSeed: [UInt8]? = nil, header: [UInt8]? = nil
    ) {
        self.isInitiator = isInitiator
        noise = NoiseHandshake(isInitiator: isInitiator, staticKeyPair: keyPair, ephemeralSeed: ephemeralSeed)
        headerRandom = header
    }

    /// True once both our header and the remote header are set: messages can flow both ways.
    public var isEstablished: Bool { encryptor != nil && decryptor != nil }

    /// True once we can encrypt (our header has been produced).
    public var canSend: Bool { encryptor != nil }

    /// Starts the handshake: the initiator's first message (framed), nothing for the responder.
    public mutating func start() throws(SecretStreamError) -> [Event] {
        guard !started else { return [] }
        started = true
        guard isInitiator else { return [] }
        do {
            return [.send(FrameDecoder.frame(try noise.send()))]
        } catch { throw .handshake(error) }
    }

    /// Handles one received frame payload.
    public mutating func receive(frame: [UInt8]) throws(SecretStreamError) -> [Event] {
        if session == nil {
            var events: [Event] = []
            do {
                try noise.receive(frame)
                if !noise.isComplete { events.append(.send(FrameDecoder.frame(try noise.send()))) }
            } catch { throw .handshake(error) }
            if let r = noise.result {
                events.append(contentsOf: setUp(r))
            }
            return events
        }
        guard decryptor != nil else {
            guard frame.count == Self.idHeaderBytes else { throw .invalidHeaderLength(frame.count) }
            let expected = Self.streamID(handshakeHash: session!.handshakeHash, isInitiator: !isInitiator)
            guard constantTimeEquals(Array(frame[0..<32]), expected) else { throw .invalidStreamID }
            decryptor = SecretStreamCipher(key: session!.rx, header: Array(frame[32...]))
            return []
        }
        let plain = try open(frame)
        return plain.isEmpty ? [] : [.message(plain)]
    }

    private mutating func setUp(_ r: NoiseResult) -> [Event] {
        session = r
        let header = headerRandom ?? randomBytes(SecretStreamCipher.headerBytes)
        headerRandom = nil
        encryptor = SecretStreamCipher(key: r.tx, header: header)
        let id = Self.streamID(handshakeHash: r.handshakeHash, isInitiator: isInitiator)
        return [.send(FrameDecoder.frame(id + header)), .handshake(r)]
    }

    /// Encrypts one message and returns the framed ciphertext. An empty message is a keep-alive.
    public mutating func seal(_ plaintext: [UInt8]) throws(SecretStreamError) -> [UInt8] {
        guard encryptor != nil else { throw .notEstablished }
        let size = plaintext.count + Self.overhead
        guard size <= Self.maxFrameSize else { throw .frameTooLarge(size: size, limit: Self.maxFrameSize) }
        var out = [UInt8](repeating: 0, count: size + 3)
        out[0] = UInt8(size & 0xff)
        out[1] = UInt8((size >> 8) & 0xff)
        out[2] = UInt8((size >> 16) & 0xff)
        plaintext.withUnsafeBytes { p in
            out.withUnsafeMutableBytes { o in
                encryptor!.push(p, into: UnsafeMutableRawBufferPointer(rebasing: o[3...]))
            }
        }
        return out
    }

    /// Encrypts `plaintext` into `out`, which must hold exactly `plaintext.count + overhead` bytes (no length prefix).
    public mutating func seal(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer)
        throws(SecretStreamError)
    {
        guard encryptor != nil else { throw .notEstablished }
        encryptor!.push(plaintext, into: out)
    }

    /// Decrypts one frame payload (no length prefix).
    public mutating func open(_ frame: [UInt8]) throws(SecretStreamError) -> [UInt8] {
        guard decryptor != nil else { throw .notEstablished }
        guard frame.count >= Self.overhead else { throw .frameTooShort(frame.count) }
        var out = [UInt8](repeating: 0, count: frame.count - Self.overhead)
        let ok = frame.withUnsafeBytes { f in out.withUnsafeMutableBytes { o in decryptor!.pull(f, into: o) } }
        guard ok else { throw .decryptionFailed }
        return out
    }

    /// Decrypts `frame` into `out` (`frame.count - overhead` bytes) in place where possible.
    public mutating func open(_ frame: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer)
        throws(SecretStreamError)
    {
        guard decryptor != nil else { throw .notEstablished }
        guard frame.count >= Self.overhead else { throw .frameTooShort(frame.count) }
        guard decryptor!.pull(frame, into: out) else { throw .decryptionFailed }
    }
}
