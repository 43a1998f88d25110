import CompactEncoding
import HyperCrypto
import HyperLog

/// `hypercore/alpha` wire messages (hypercore lib/messages.js `wire.*`), in channel message-type order.
public enum Wire {
    /// The protomux protocol name of Hypercore replication.
    public static let protocolName = "hypercore/alpha"

    /// Message type numbers on a `hypercore/alpha` channel.
    public enum MessageType: UInt64, Sendable {
        case sync = 0, request, cancel, data, noData, want, unwant, bitfield, range, `extension`
    }

    /// Decodes a message body, ignoring bytes after the fields we know: newer Hypercore versions append optional
    /// fields (Hypercore 11: noData `reason`, want/unwant `any`) and read them only when bytes remain, so a peer must
    /// accept a message with trailing fields it does not know. A truncated body still throws.
    public static func decode<M: CompactDecodable>(_ type: M.Type, _ bytes: [UInt8]) throws -> M {
        var r = CompactReader(bytes)
        return try M(from: &r)
    }

    /// Hypercore's replication capability: BLAKE2b-256(REPLICATE_{INITIATOR,RESPONDER} || key, key: handshakeHash).
    /// The channel id of a log's replication is its discovery key (`HypercoreCrypto.discoveryKey`).
    public static func capability(isInitiator: Bool, key: [UInt8], handshakeHash: [UInt8]) -> [UInt8] {
        BLAKE2b.hash(isInitiator ? Caps.replicateInitiator : Caps.replicateResponder, key, key: handshakeHash)
    }
}

/// The channel-open handshake of `hypercore/alpha`.
public struct WireHandshake: Sendable, Equatable, CompactCodable {
    public var seeks: Bool
    public var capability: [UInt8]

    public init(seeks: Bool = true, capability: [UInt8]) {
        self.seeks = seeks
        self.capability = capability
    }

    public func encode(to w: inout CompactWriter) {
        w.uint(UInt64(seeks ? 1 : 0))
        w.fixed32(capability)
    }

    public init(from r: inout CompactReader) throws {
        seeks = (try r.uint() & 1) != 0
        capability = try r.fixed32()
    }
}

public struct SyncMessage: Sendable, Equatable, CompactCodable {
    public var fork: UInt64 = 0
    public var length: UInt64 = 0
    public var remoteLength: UInt64 = 0
    public var canUpgrade = false
    public var uploading = false
    public var downloading = false
    public var hasManifest = false
    public var allowPush = false

    public init(
        fork: UInt64 = 0, length: UInt64, remoteLength: UInt64, canUpgrade: Bool = true, uploading: Bool = true,
        downloading: Bool = true, hasManifest: Bool = false, allowPush: Bool = false
    ) {
        self.fork = fork
        self.length = length
        self.remoteLength = remoteLength
        self.canUpgrade = canUpgrade
        self.uploading = uploading
        self.downloading = downloading
        self.hasManifest = hasManifest
        self.allowPush = allowPush
    }

    public func encode(to w: inout CompactWriter) {
        var flags: UInt64 = 0
        if canUpgrade { flags |= 1 }
        if uploading { flags |= 2 }
        if downloading { flags |= 4 }
        if hasManifest { flags |= 8 }
        if allowPush { flags |= 16 }
        w.uint(flags)
        w.uint(fork)
        w.uint(length)
        w.uint(remoteLength)
    }

    public init(from r: inout CompactReader) throws {
        let flags = try r.uint()
        fork = try r.uint()
        length = try r.uint()
        remoteLength = try r.uint()
        canUpgrade = flags & 1 != 0
        uploading = flags & 2 != 0
        downloading = flags & 4 != 0
        hasManifest = flags & 8 != 0
        allowPush = flags & 16 != 0
    }
}

// `request` and `data` bodies are HyperLog's `ProofRequest.encodeRequestMessage` / `Proof.encodeDataMessage`:
// one codec for the proofs the log builds and verifies.

/// A request id, used by cancel.
public struct RequestRef: Sendable, Equatable, CompactCodable {
    public var request: UInt64
    public init(request: UInt64) { self.request = request }
    public func encode(to w: inout CompactWriter) { w.uint(request) }
    public init(from r: inout CompactReader) throws { request = try r.uint() }
}

/// noData: the sender cannot answer a request. Hypercore 11 (since 11.13) appends a flags uint and, when its bit 0
/// is set, a `reason` (1: not available, 2: invalid request); both are read only when bytes remain.
public struct NoDataMessage: Sendable, Equatable, CompactCodable {
    public var request: UInt64
    /// 0 when the sender gave none (Hypercore 10 never does).
    public var reason: UInt64
    public init(request: UInt64, reason: UInt64 = 0) {
        self.request = request
        self.reason = reason
    }
    public func encode(to w: inout CompactWriter) {
        w.uint(request)
        // Without a reason, the Hypercore 10 form (no flags), which every version reads.
        if reason != 0 {
            w.uint(1)
            w.uint(reason)
        }
    }
    public init(from r: inout CompactReader) throws {
        request = try r.uint()
        let flags = r.isAtEnd ? 0 : try r.uint()
        reason = flags & 1 != 0 ? try r.uint() : 0
    }
}

/// want / unwant: a range of blocks. Hypercore 11 (since 11.23) appends a flags uint when it is not zero; bit 0 is
/// `any` (the sender needs any one block of the range, answered with a single `range`).
public struct RangeRef: Sendable, Equatable, CompactCodable {
    public var start: UInt64
    public var length: UInt64
    public var any: Bool
    public init(start: UInt64, length: UInt64, any: Bool = false) {
        self.start = start
        self.length = length
        self.any = any
    }
    public func encode(to w: inout CompactWriter) {
        w.uint(start)
        w.uint(length)
        if any { w.uint(1) }
    }
    public init(from r: inout CompactReader) throws {
        start = try r.uint()
        length = try r.uint()
        let flags = r.isAtEnd ? 0 : try r.uint()
        any = flags & 1 != 0
    }
}

public struct BitfieldMessage: Sendable, Equatable, CompactCodable {
    public var start: UInt64
    public var bitfield: [UInt32]
    public init(start: UInt64, bitfield: [UInt32]) {
        self.start = start
        self.bitfield = bitfield
    }
    public func encode(to w: inout CompactWriter) {
        w.uint(start)
        w.uint32Array(bitfield)
    }
    public init(from r: inout CompactReader) throws {
        start = try r.uint()
        bitfield = try r.uint32Array()
    }
}

/// range: the sender has (or dropped) a contiguous run of blocks.
public struct RangeMessage: Sendable, Equatable, CompactCodable {
    public var drop: Bool
    public var start: UInt64
    public var length: UInt64
    public init(drop: Bool = false, start: UInt64, length: UInt64) {
        self.drop = drop
        self.start = start
        self.length = length
    }
    public func encode(to w: inout CompactWriter) {
        w.uint(UInt64((drop ? 1 : 0) | (length == 1 ? 2 : 0)))
        w.uint(start)
        if length != 1 { w.uint(length) }
    }
    public init(from r: inout CompactReader) throws {
        let flags = try r.uint()
        drop = flags & 1 != 0
        start = try r.uint()
        length = flags & 2 != 0 ? 1 : try r.uint()
    }
}

public struct ExtensionMessage: Sendable, Equatable, CompactCodable {
    public var name: String
    public var message: [UInt8]
    public init(name: String, message: [UInt8]) {
        self.name = name
        self.message = message
    }
    public func encode(to w: inout CompactWriter) {
        w.string(name)
        w.raw(message)
    }
    public init(from r: inout CompactReader) throws {
        name = try r.string()
        message = r.rest()
    }
}
