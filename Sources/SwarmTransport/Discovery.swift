import HyperCrypto

/// Where a peer can be dialled.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// The peer's static public key when known (lets dialers avoid duplicate connections).
    public var publicKey: [UInt8]?

    public init(host: String, port: Int, publicKey: [UInt8]? = nil) {
        self.host = host
        self.port = port
        self.publicKey = publicKey
    }

    public var description: String { "\(host):\(port)" + (publicKey.map { "/" + $0.hex.prefix(8) } ?? "") }
}

/// Finds peers for a 32-byte topic. The first implementations are a rendezvous directory (kept by the gateway, which
/// knows its registered peers) and static bootstrap addresses; a DHT can replace them behind this protocol.
public protocol Discovery: Sendable {
    /// Makes `address` findable under `topic`.
    func announce(topic: [UInt8], address: PeerAddress) async throws
    /// Stops announcing the peer `publicKey` under `topic`.
    func leave(topic: [UInt8], publicKey: [UInt8]) async
    /// Peers currently known for `topic`.
    func lookup(topic: [UInt8]) async throws -> [PeerAddress]
}

/// Fixed bootstrap addresses, returned for every topic; announcing is a no-op.
public struct StaticDiscovery: Discovery {
    public let addresses: [PeerAddress]
    public init(_ addresses: [PeerAddress]) { self.addresses = addresses }
    public func announce(topic: [UInt8], address: PeerAddress) async throws {}
    public func leave(topic: [UInt8], publicKey: [UInt8]) async {}
    public func lookup(topic: [UInt8]) async throws -> [PeerAddress] { addresses }
}

/// Errors of discovery.
public enum DiscoveryError: Error, Equatable, CustomStringConvertible {
    case invalidTopic(Int)
    case missingPublicKey

    public var description: String {
        switch self {
        case .invalidTopic(let n): return "discovery: topic must be 32 bytes, got \(n)"
        case .missingPublicKey: return "discovery: an announced address needs the peer's public key"
        }
    }
}

/// The gateway-side rendezvous directory: topic -> announced peers, each entry expiring after `ttl` seconds unless
/// re-announced. In process it is itself a `Discovery`; the gateway exposes the same operations to remote peers.
public actor RendezvousDirectory: Discovery {
    private struct Entry {
        var address: PeerAddress
        var expires: ContinuousClock.Instant
    }

    public let ttl: Duration
    private var topics: [[UInt8]: [[UInt8]: Entry]] = [:]

    public init(ttl: Duration = .seconds(300)) { self.ttl = ttl }

    public func announce(topic: [UInt8], address: PeerAddress) async throws {
        guard topic.count == 32 else { throw DiscoveryError.invalidTopic(topic.count) }
        guard let pk = address.publicKey else { throw DiscoveryError.missingPublicKey }
        topics[topic, default: [:]][pk] = Entry(address: address, expires: .now + ttl)
    }

    public func leave(topic: [UInt8], publicKey: [UInt8]) async {
        topics[topic]?[publicKey] = nil
        if topics[topic]?.isEmpty == true { topics[topic] = nil }
    }

    public func lookup(topic: [UInt8]) async throws -> [PeerAddress] {
        guard topic.count == 32 else { throw DiscoveryError.invalidTopic(topic.count) }
        let now = ContinuousClock.Instant.now
        topics[topic] = topics[topic]?.filter { $0.value.expires > now }
        return (topics[topic] ?? [:]).values.map(\.address).sorted { $0.description < $1.description }
    }
}

/// Rendezvous first, then static bootstrap addresses (deduplicated).
public struct RendezvousDiscovery: Discovery {
    public let directory: any Discovery
    public let bootstrap: [PeerAddress]

    public init(directory: any Discovery, bootstrap: [PeerAddress] = []) {
        self.directory = directory
        self.bootstrap = bootstrap
    }

    public func announce(topic: [UInt8], address: PeerAddress) async throws {
        try await directory.announce(topic: topic, address: address)
    }

    public func leave(topic: [UInt8], publicKey: [UInt8]) async {
        await directory.leave(topic: topic, publicKey: publicKey)
    }

    public func lookup(topic: [UInt8]) async throws -> [PeerAddress] {
        var seen = Set<PeerAddress>()
        var out: [PeerAddress] = []
        for a in try await directory.lookup(topic: topic) + bootstrap where seen.insert(a).inserted { out.append(a) }
        return out
    }
}
