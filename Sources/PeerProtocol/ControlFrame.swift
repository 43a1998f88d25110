import HyperCrypto

/// A signed control frame from a gateway to its peers (token-revoked, reassign, pause-replication, ...).
///
/// Wire format (all integers little-endian, every field fixed or length-prefixed, so the encoding is canonical:
/// one frame has exactly one byte string):
///
/// ```
/// magic      4 bytes  "HTCF"
/// version    1 byte   1
/// typeLen    1 byte   1...64
/// type       typeLen bytes of [a-z0-9-]
/// gatewayKey 32 bytes Ed25519 public key of the signing gateway
/// sequence   8 bytes  u64, strictly increasing per gateway
/// timestamp  8 bytes  u64, Unix milliseconds at signing
/// payloadLen 4 bytes  u32, 0...maxPayloadSize
/// payload    payloadLen bytes (JSON of the typed payload for known types)
/// signature  64 bytes Ed25519 over domainSeparator || every preceding byte
/// ```
public struct ControlFrame: Sendable, Equatable {
    /// Frame type, e.g. `token-revoked`.
    public let type: String
    /// Opaque payload bytes (JSON for the types in `ControlFrameType`).
    public let payload: [UInt8]
    /// 32-byte public key of the gateway that signed the frame.
    public let gatewayKey: [UInt8]
    /// Strictly increasing per gateway.
    public let sequence: UInt64
    /// Unix time in milliseconds when the frame was signed.
    public let timestamp: UInt64
    /// 64-byte Ed25519 signature over `signable`.
    public let signature: [UInt8]

    /// Magic prefix of every frame.
    public static let magic: [UInt8] = Array("HTCF".utf8)
    /// Current wire version.
    public static let wireVersion: UInt8 = 1
    /// Largest payload accepted.
    public static let maxPayloadSize = 64 * 1024
    /// Longest type name.
    public static let maxTypeLength = 64
    /// Bytes prepended to the signed message so a frame signature can never be mistaken for another signature
    /// made with the same gateway key (tokens, discovery announcements, log entries).
    public static let domainSeparator: [UInt8] = Array("hypertuna/control-frame/v1\0".utf8)
    /// Size of a frame with an empty payload and a one-byte type.
    public static let minimumSize = 4 + 1 + 1 + 1 + 32 + 8 + 8 + 4 + 64

    /// Builds and signs a frame. Throws if the type or payload is out of bounds.
    public static func sign(
        type: String, payload: [UInt8], sequence: UInt64, timestamp: UInt64, keyPair: Ed25519KeyPair
    ) throws(ControlFrameDecodingError) -> ControlFrame {
        try checkType(type)
        guard payload.count <= maxPayloadSize else { throw .payloadTooLarge(payload.count) }
        let body = encodeBody(
            type: type, payload: payload, gatewayKey: keyPair.publicKey, sequence: sequence, timestamp: timestamp)
        let signature = keyPair.sign(domainSeparator + body)
        return ControlFrame(
            type: type, payload: payload, gatewayKey: keyPair.publicKey, sequence: sequence, timestamp: timestamp,
            signature: signature)
    }

    /// The bytes covered by the signature (domain separator followed by the encoded frame without its signature).
    public var signable: [UInt8] {
        Self.domainSeparator
            + Self.encodeBody(
                type: type, payload: payload, gatewayKey: gatewayKey, sequence: sequence, timestamp: timestamp)
    }

    /// Whether the signature is valid for `gatewayKey`. Says nothing about whether that key is trusted.
    public var hasValidSignature: Bool {
        Ed25519.verify(signature: signature, message: signable, publicKey: gatewayKey)
    }

    /// The wire bytes.
    public func encoded() -> [UInt8] {
        Self.encodeBody(type: type, payload: payload, gatewayKey: gatewayKey, sequence: sequence, timestamp: timestamp)
            + signature
    }

    /// Parses wire bytes. Strict: wrong magic, version, lengths, type characters or trailing bytes are errors.
    /// Does not check the signature (see `ControlFrameGuard`).
    public static func decode(_ bytes: [UInt8]) throws(ControlFrameDecodingError) -> ControlFrame {
        var r = ByteReader(bytes)
        guard bytes.count >= minimumSize else { throw .truncated(needed: minimumSize, got: bytes.count) }
        let m = try r.take(4)
        guard m.elementsEqual(magic) else { throw .badMagic }
        let v = try r.byte()
        guard v == wireVersion else { throw .unsupportedVersion(v) }
        let typeLength = Int(try r.byte())
        guard typeLength >= 1 && typeLength <= maxTypeLength else { throw .badTypeLength(typeLength) }
        let typeBytes = try r.take(typeLength)
        guard typeBytes.allSatisfy(isTypeCharacter) else { throw .badTypeCharacters }
        let type = String(decoding: typeBytes, as: UTF8.self)
        let gatewayKey = Array(try r.take(32))
        let sequence = try r.uint64()
        let timestamp = try r.uint64()
        let payloadLength = Int(try r.uint32())
        guard payloadLength <= maxPayloadSize else { throw .payloadTooLarge(payloadLength) }
        let payload = Array(try r.take(payloadLength))
        let signature = Array(try r.take(64))
        guard r.remaining == 0 else { throw .trailingBytes(r.remaining) }
        return ControlFrame(
            type: type, payload: payload, gatewayKey: gatewayKey, sequence: sequence, timestamp: timestamp,
            signature: signature)
    }

    static func checkType(_ type: String) throws(ControlFrameDecodingError) {
        let utf8 = Array(type.utf8)
        guard utf8.count >= 1 && utf8.count <= maxTypeLength else { throw .badTypeLength(utf8.count) }
        guard utf8.allSatisfy(isTypeCharacter) else { throw .badTypeCharacters }
    }

    private static func isTypeCharacter(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2d
    }

    private static func encodeBody(
        type: String, payload: [UInt8], gatewayKey: [UInt8], sequence: UInt64, timestamp: UInt64
    ) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(minimumSize + type.utf8.count + payload.count)
        out += magic
        out.append(wireVersion)
        out.append(UInt8(truncatingIfNeeded: type.utf8.count))
        out += type.utf8
        out += gatewayKey
        appendLE(&out, sequence)
        appendLE(&out, timestamp)
        appendLE(&out, UInt32(truncatingIfNeeded: payload.count))
        out += payload
        return out
    }

    private static func appendLE<T: FixedWidthInteger>(_ out: inout [UInt8], _ v: T) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }
}

/// Why frame bytes could not be parsed.
public enum ControlFrameDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    case truncated(needed: Int, got: Int)
    case badMagic
    case unsupportedVersion(UInt8)
    case badTypeLength(Int)
    case badTypeCharacters
    case payloadTooLarge(Int)
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .truncated(let needed, let got): return "control frame truncated: needed \(needed) bytes, got \(got)"
        case .badMagic: return "not a control frame (bad magic)"
        case .unsupportedVersion(let v): return "unsupported control frame version \(v)"
        case .badTypeLength(let n):
            return "control frame type length \(n) out of range 1...\(ControlFrame.maxTypeLength)"
        case .badTypeCharacters: return "control frame type may only contain a-z 0-9 -"
        case .payloadTooLarge(let n):
            return "control frame payload of \(n) bytes exceeds \(ControlFrame.maxPayloadSize)"
        case .trailingBytes(let n): return "\(n) unexpected bytes after the control frame signature"
        }
    }
}

/// Bounds-checked little-endian reader.
struct ByteReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ n: Int) throws(ControlFrameDecodingError) -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw .truncated(needed: offset + n, got: bytes.count) }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    mutating func byte() throws(ControlFrameDecodingError) -> UInt8 { try take(1).first! }

    mutating func uint32() throws(ControlFrameDecodingError) -> UInt32 {
        try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func uint64() throws(ControlFrameDecodingError) -> UInt64 {
        try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}
