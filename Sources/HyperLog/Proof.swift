import CompactEncoding

/// What a peer asks for (the body of a `hypercore/alpha` `request` message, lib/messages.js `wire.request`).
public struct ProofRequest: Sendable, Hashable {
    /// A block (or hash) and how many of its ancestors the requester lacks (`HyperLog.missingNodes`).
    public struct Block: Sendable, Hashable {
        public var index: UInt64
        public var nodes: UInt64
        public init(index: UInt64, nodes: UInt64) {
            self.index = index
            self.nodes = nodes
        }
    }
    public struct Seek: Sendable, Hashable {
        public var bytes: UInt64
        public var padding: UInt64
        public init(bytes: UInt64, padding: UInt64 = 0) {
            self.bytes = bytes
            self.padding = padding
        }
    }
    /// Extend the requester's tree from `start` (its length) by `length` blocks.
    public struct Upgrade: Sendable, Hashable {
        public var start: UInt64
        public var length: UInt64
        public init(start: UInt64, length: UInt64) {
            self.start = start
            self.length = length
        }
    }

    public var fork: UInt64
    public var block: Block?
    public var hash: Block?
    public var seek: Seek?
    public var upgrade: Upgrade?
    /// Ask for the manifest too.
    public var manifest: Bool
    public var priority: UInt64

    public init(
        fork: UInt64, block: Block? = nil, hash: Block? = nil, seek: Seek? = nil, upgrade: Upgrade? = nil,
        manifest: Bool = false, priority: UInt64 = 0
    ) {
        self.fork = fork
        self.block = block
        self.hash = hash
        self.seek = seek
        self.upgrade = upgrade
        self.manifest = manifest
        self.priority = priority
    }

    /// `wire.request` bytes: flags, id, fork, then the present parts.
    public func encodeRequestMessage(id: UInt64) -> [UInt8] {
        var w = CompactWriter()
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
        return w.bytes
    }

    /// Decodes `wire.request` bytes. Trailing bytes are an error unless `ignoringTrailingBytes` (a peer on the wire
    /// must skip optional fields a newer Hypercore appends).
    public static func decodeRequestMessage(_ bytes: [UInt8], ignoringTrailingBytes: Bool = false) throws -> (
        id: UInt64, request: ProofRequest
    ) {
        do {
            var r = CompactReader(bytes)
            let flags = try r.uint()
            let id = try r.uint()
            var q = ProofRequest(fork: try r.uint())
            if flags & 1 != 0 { q.block = Block(index: try r.uint(), nodes: try r.uint()) }
            if flags & 2 != 0 { q.hash = Block(index: try r.uint(), nodes: try r.uint()) }
            if flags & 4 != 0 { q.seek = Seek(bytes: try r.uint(), padding: try r.uint()) }
            if flags & 8 != 0 { q.upgrade = Upgrade(start: try r.uint(), length: try r.uint()) }
            q.manifest = flags & 16 != 0
            if flags & 32 != 0 { q.priority = try r.uint() }
            guard r.isAtEnd || ignoringTrailingBytes else {
                throw CompactDecodingError.invalid("\(r.remaining) trailing bytes")
            }
            return (id, q)
        } catch let e as CompactDecodingError {
            throw HyperLogError.malformed("request: \(e)")
        }
    }
}

/// A Merkle proof as Hypercore sends it (the body of a `hypercore/alpha` `data` message, lib/messages.js
/// `wire.data`): an optional block with the sibling nodes up to a node the receiver trusts, and an optional upgrade
/// with the nodes that build the new roots plus the signature of the sender's head.
public struct Proof: Sendable, Hashable {
    public struct Block: Sendable, Hashable {
        public var index: UInt64
        public var value: [UInt8]
        public var nodes: [TreeNode]
        public init(index: UInt64, value: [UInt8], nodes: [TreeNode]) {
            self.index = index
            self.value = value
            self.nodes = nodes
        }
    }
    public struct Hash: Sendable, Hashable {
        public var index: UInt64
        public var nodes: [TreeNode]
        public init(index: UInt64, nodes: [TreeNode]) {
            self.index = index
            self.nodes = nodes
        }
    }
    public struct Seek: Sendable, Hashable {
        public var bytes: UInt64
        public var nodes: [TreeNode]
        public init(bytes: UInt64, nodes: [TreeNode]) {
            self.bytes = bytes
            self.nodes = nodes
        }
    }
    public struct Upgrade: Sendable, Hashable {
        public var start: UInt64
        public var length: UInt64
        public var nodes: [TreeNode]
        public var additionalNodes: [TreeNode]
        public var signature: [UInt8]
        public init(start: UInt64, length: UInt64, nodes: [TreeNode], additionalNodes: [TreeNode], signature: [UInt8]) {
            self.start = start
            self.length = length
            self.nodes = nodes
            self.additionalNodes = additionalNodes
            self.signature = signature
        }
    }

    public var fork: UInt64
    public var block: Block?
    public var hash: Hash?
    public var seek: Seek?
    public var upgrade: Upgrade?
    public var manifest: Manifest?

    public init(
        fork: UInt64, block: Block? = nil, hash: Hash? = nil, seek: Seek? = nil, upgrade: Upgrade? = nil,
        manifest: Manifest? = nil
    ) {
        self.fork = fork
        self.block = block
        self.hash = hash
        self.seek = seek
        self.upgrade = upgrade
        self.manifest = manifest
    }

    /// `wire.data` bytes: flags, request id, fork, then block / hash / seek / upgrade / manifest when present.
    public func encodeDataMessage(request: UInt64) -> [UInt8] {
        var w = CompactWriter()
        var flags: UInt64 = 0
        if block != nil { flags |= 1 }
        if hash != nil { flags |= 2 }
        if seek != nil { flags |= 4 }
        if upgrade != nil { flags |= 8 }
        if manifest != nil { flags |= 16 }
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
        if let m = manifest { m.encode(to: &w) }
        return w.bytes
    }

    /// Decodes `wire.data` bytes; truncated or trailing bytes throw `HyperLogError.malformed`.
    public static func decodeDataMessage(_ bytes: [UInt8]) throws -> (request: UInt64, proof: Proof) {
        try decodeDataMessage(bytes, from: 0)
    }

    /// `decodeDataMessage(_:)` for a message that starts at `bytes[offset]` (a transport frame with its header in
    /// front), so the message is not copied out of the frame first. Only the block value is copied.
    /// `ignoringTrailingBytes`: see `ProofRequest.decodeRequestMessage`.
    public static func decodeDataMessage(_ bytes: [UInt8], from offset: Int, ignoringTrailingBytes: Bool = false) throws
        -> (request: UInt64, proof: Proof)
    {
        guard offset >= 0, offset <= bytes.count else { throw HyperLogError.malformed("data: offset out of range") }
        do {
            var r = CompactReader(bytes, start: offset)
            let flags = try r.uint()
            let request = try r.uint()
            var p = Proof(fork: try r.uint())
            if flags & 1 != 0 {
                p.block = Block(index: try r.uint(), value: try r.buffer(), nodes: try r.array(of: TreeNode.self))
            }
            if flags & 2 != 0 { p.hash = Hash(index: try r.uint(), nodes: try r.array(of: TreeNode.self)) }
            if flags & 4 != 0 { p.seek = Seek(bytes: try r.uint(), nodes: try r.array(of: TreeNode.self)) }
            if flags & 8 != 0 {
                p.upgrade = Upgrade(
                    start: try r.uint(), length: try r.uint(), nodes: try r.array(of: TreeNode.self),
                    additionalNodes: try r.array(of: TreeNode.self), signature: try r.buffer())
            }
            if flags & 16 != 0 { p.manifest = try Manifest(from: &r) }
            guard r.isAtEnd || ignoringTrailingBytes else {
                throw CompactDecodingError.invalid("\(r.remaining) trailing bytes")
            }
            return (request, p)
        } catch let e as CompactDecodingError {
            throw HyperLogError.malformed("data: \(e)")
        }
    }
}

/// Anything that answers proof requests for a log: a remote peer (SwarmTransport) or a local log.
public protocol ProofSource: Sendable {
    /// The newest length the source can prove (0 when unknown).
    func remoteLength() async throws -> UInt64
    /// Answers `request` as a Hypercore peer answers a `request` message.
    func proof(for request: ProofRequest) async throws -> Proof
    /// The source's fork id, if known (from `sync` messages); a higher fork than ours triggers a reorg in `update`.
    func remoteFork() async throws -> UInt64?
}

extension ProofSource {
    /// Default: the fork is unknown.
    public func remoteFork() async throws -> UInt64? { nil }
}
