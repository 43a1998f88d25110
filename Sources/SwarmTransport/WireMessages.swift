import CompactEncoding
import HyperCrypto

/// `hypercore/alpha` wire messages (hypercore lib/messages.js `wire.*`), in channel message-type order.
public enum Wire {
    /// The protomux protocol name of Hypercore replication.
    public static let protocolName = "hypercore/alpha"

    /// Message type numbers on a `hypercore/alpha` channel.
    public enum MessageType: UInt64, Sendable {
        case sync = 0, request, cancel, data, noData, want, unwant, bitfield, range, `extension`
    }

    static let namespaces: [[UInt8]] = {
        let ns = BLAKE2b.hash(Array("hypercore".utf8))
        return (0..<6).map { BLAKE2b.hash(ns, [UInt8($0)]) }
    }()

    /// Hypercore's replication capability: BLAKE2b-256(REPLICATE_{INITIATOR,RESPONDER} || key, key: handshakeHash).
    public static func capability(isInitiator: Bool, key: [UInt8], handshakeHash: [UInt8]) -> [UInt8] {
        BLAKE2b.hash(isInitiator ? namespaces[1] : namespaces[2], key, key: handshakeHash)
    }

    /// Discovery key of a log: BLAKE2b-256("hypercore", key: publicKey); the channel id of its replication.
    public static func discoveryKey(_ publicKey: [UInt8]) -> [UInt8] {
        BLAKE2b.hash(Array("hypercore".utf8), key: publicKey)
    }
}

/// A Merkle tree node as carried in proofs.
public struct WireNode: Sendable, Equatable, CompactCodable {
    public var index: UInt64
    public var size: UInt64
    public var hash: [UInt8]

    public init(index: UInt64, size: UInt64, hash: [UInt8]) {
        self.index = index
        self.size = size
        self.hash = hash
    }

    public func encode(to w: inout CompactWriter) {
        w.uint(index)
        w.uint(size)
        w.fixed32(hash)
    }

    public init(from r: inout CompactReader) throws {
        index = try r.uint()
        size = try r.uint()
        hash = try r.fixed32()
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

/// Block or hash part of a request: the index and the number of tree nodes the requester already has.
public struct RequestBlock: Sendable, Equatable {
    public var index: UInt64
    public var nodes: UInt64
    public init(index: UInt64, nodes: UInt64) {
        self.index = index
        self.nodes = nodes
    }
}

public struct RequestSeek: Sendable, Equatable {
    public var bytes: UInt64
    public var padding: UInt64
    public init(bytes: UInt64, padding: UInt64) {
        self.bytes = bytes
        self.padding = padding
    }
}

public struct RequestUpgrade: Sendable, Equatable {
    public var start: UInt64
    public var length: UInt64
    public init(start: UInt64, length: UInt64) {
        self.start = start
        self.length = length
    }
}

public struct RequestMessage: Sendable, Equatable, CompactCodable {
    public var id: UInt64
    public var fork: UInt64 = 0
    public var block: RequestBlock?
    public var hash: RequestBlock?
    public var seek: RequestSeek?
    public var upgrade: RequestUpgrade?
    public var manifest = false
    public var priority: UInt64 = 0

    public init(
        id: UInt64, fork: UInt64 = 0, block: RequestBlock? = nil, hash: RequestBlock? = nil, seek: RequestSeek? = nil,
        upgrade: RequestUpgrade? = nil, manifest: Bool = false, priority: UInt64 = 0
    ) {
        self.id = id
        self.fork = fork
        self.block = block
        self.hash = hash
        self.seek = seek
        self.upgrade = upgrade
        self.manifest = manifest
        self.priority = priority
    }

    public func encode(to w: inout CompactWriter) {
        var flags: UInt64 = 0
        if block != nil { flags |= 1 }
        if hash != nil { flags |= 2 }
        if seek != nil { flags |= 4 }
        if upgrade != nil { flags |= 8 }
        if manifest { flags |= 16 }
        if priority != 0 { flags |= 32 }
        w.uint(flags)
        w.uint(id)
        w.uint(fork)
        if let b = block {
            w.uint(b.index)
            w.uint(b.nodes)
        }
        if let h = hash {
            w.uint(h.index)
            w.uint(h.nodes)
        }
        if let s = seek {
            w.uint(s.bytes)
            w.uint(s.padding)
        }
        if let u = upgrade {
            w.uint(u.start)
            w.uint(u.length)
        }
        if priority != 0 { w.uint(priority) }
    }

    public init(from r: inout CompactReader) throws {
        let flags = try r.uint()
        id = try r.uint()
        fork = try r.uint()
        block = flags & 1 != 0 ? RequestBlock(index: try r.uint(), nodes: try r.uint()) : nil
        hash = flags & 2 != 0 ? RequestBlock(index: try r.uint(), nodes: try r.uint()) : nil
        seek = flags & 4 != 0 ? RequestSeek(bytes: try r.uint(), padding: try r.uint()) : nil
        upgrade = flags & 8 != 0 ? RequestUpgrade(start: try r.uint(), length: try r.uint()) : nil
        manifest = flags & 16 != 0
        priority = flags & 32 != 0 ? try r.uint() : 0
    }
}

/// A request id, used by cancel and noData.
public struct RequestRef: Sendable, Equatable, CompactCodable {
    public var request: UInt64
    public init(request: UInt64) { self.request = request }
    public func encode(to w: inout CompactWriter) { w.uint(request) }
    public init(from r: inout CompactReader) throws { request = try r.uint() }
}

public struct DataBlock: Sendable, Equatable {
    public var index: UInt64
    public var value: [UInt8]
    public var nodes: [WireNode]
    public init(index: UInt64, value: [UInt8], nodes: [WireNode]) {
        self.index = index
        self.value = value
        self.nodes = nodes
    }
}

public struct DataHash: Sendable, Equatable {
    public var index: UInt64
    public var nodes: [WireNode]
    public init(index: UInt64, nodes: [WireNode]) {
        self.index = index
        self.nodes = nodes
    }
}

public struct DataSeek: Sendable, Equatable {
    public var bytes: UInt64
    public var nodes: [WireNode]
    public init(bytes: UInt64, nodes: [WireNode]) {
        self.bytes = bytes
        self.nodes = nodes
    }
}

public struct DataUpgrade: Sendable, Equatable {
    public var start: UInt64
    public var length: UInt64
    public var nodes: [WireNode]
    public var additionalNodes: [WireNode]
    public var signature: [UInt8]
    public init(start: UInt64, length: UInt64, nodes: [WireNode], additionalNodes: [WireNode], signature: [UInt8]) {
        self.start = start
        self.length = length
        self.nodes = nodes
        self.additionalNodes = additionalNodes
        self.signature = signature
    }
}

/// Data answering a request. Manifests are not carried (our logs are compat-mode: key = public key).
public struct DataMessage: Sendable, Equatable, CompactCodable {
    public var request: UInt64
    public var fork: UInt64 = 0
    public var block: DataBlock?
    public var hash: DataHash?
    public var seek: DataSeek?
    public var upgrade: DataUpgrade?

    public init(
        request: UInt64, fork: UInt64 = 0, block: DataBlock? = nil, hash: DataHash? = nil, seek: DataSeek? = nil,
        upgrade: DataUpgrade? = nil
    ) {
        self.request = request
        self.fork = fork
        self.block = block
        self.hash = hash
        self.seek = seek
        self.upgrade = upgrade
    }

    public func encode(to w: inout CompactWriter) {
        var flags: UInt64 = 0
        if block != nil { flags |= 1 }
        if hash != nil { flags |= 2 }
        if seek != nil { flags |= 4 }
        if upgrade != nil { flags |= 8 }
        w.uint(flags)
        w.uint(request)
        w.uint(fork)
        if let b = block {
            w.uint(b.index)
            w.buffer(b.value)
            w.array(b.nodes)
        }
        if let h = hash {
            w.uint(h.index)
            w.array(h.nodes)
        }
        if let s = seek {
            w.uint(s.bytes)
            w.array(s.nodes)
        }
        if let u = upgrade {
            w.uint(u.start)
            w.uint(u.length)
            w.array(u.nodes)
            w.array(u.additionalNodes)
            w.buffer(u.signature)
        }
    }

    public init(from r: inout CompactReader) throws {
        let flags = try r.uint()
        request = try r.uint()
        fork = try r.uint()
        if flags & 1 != 0 {
            block = DataBlock(index: try r.uint(), value: try r.buffer(), nodes: try r.array(of: WireNode.self))
        }
        if flags & 2 != 0 { hash = DataHash(index: try r.uint(), nodes: try r.array(of: WireNode.self)) }
        if flags & 4 != 0 { seek = DataSeek(bytes: try r.uint(), nodes: try r.array(of: WireNode.self)) }
        if flags & 8 != 0 {
            upgrade = DataUpgrade(
                start: try r.uint(), length: try r.uint(), nodes: try r.array(of: WireNode.self),
                additionalNodes: try r.array(of: WireNode.self), signature: try r.buffer())
        }
        if flags & 16 != 0 { throw CompactDecodingError.invalid("manifest in data message is not supported") }
    }
}

/// want / unwant: a range of blocks.
public struct RangeRef: Sendable, Equatable, CompactCodable {
    public var start: UInt64
    public var length: UInt64
    public init(start: UInt64, length: UInt64) {
        self.start = start
        self.length = length
    }
    public func encode(to w: inout CompactWriter) {
        w.uint(start)
        w.uint(length)
    }
    public init(from r: inout CompactReader) throws {
        start = try r.uint()
        length = try r.uint()
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
