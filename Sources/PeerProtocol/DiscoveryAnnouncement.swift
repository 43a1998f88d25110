import HyperCrypto

/// A gateway's self-signed discovery announcement (published on the discovery topic), valid for `ttl` seconds
/// after `timestamp`. Field names follow the deployed JS announcement.
public struct DiscoveryAnnouncement: PeerPayload {
    public static let supportedVersion = 1
    public var version: Int
    /// The gateway's long-lived Ed25519 public key (hex): the signer.
    public var gatewayId: String
    /// Unix milliseconds when signed.
    public var timestamp: UInt64
    /// Validity in seconds after `timestamp` (1...86400).
    public var ttl: Int
    /// Public HTTP(S) base URL.
    public var publicUrl: String
    /// Public websocket URL.
    public var wsUrl: String
    /// Relay log key (hex).
    public var relayKey: String
    /// Relay log discovery key (hex).
    public var relayDiscoveryKey: String
    /// Replication topic (hex).
    public var relayReplicationTopic: String
    /// Token lifetime in seconds.
    public var defaultTokenTtl: Int
    /// Refresh window in seconds.
    public var tokenRefreshWindowSeconds: Int
    /// Where the gateway's swarm endpoint listens (peers dial it and check its Noise static key). Optional so
    /// announcements of older gateways still decode; signed when present.
    public var swarm: SwarmEndpoint?
    /// Dispatcher knobs the gateway applies; signed when present.
    public var dispatcher: DispatcherPolicy?
    /// Consecutive failed refreshes before quarantine (1...100); signed when present.
    public var tokenQuarantineThreshold: Int?
    /// Whether the gateway refuses replication and writes to peers without a valid token; signed when present.
    public var tokenEnforcement: Bool?
    /// Ed25519 signature (hex, 64 bytes) over `signable`; empty before signing.
    public var signature: String

    /// Domain separator of the signed bytes.
    public static let domainSeparator: [UInt8] = Array("hypertuna/discovery-announcement/v1\0".utf8)

    public init(
        gatewayId: String, timestamp: UInt64, ttl: Int, publicUrl: String, wsUrl: String, relayKey: String,
        relayDiscoveryKey: String, relayReplicationTopic: String, defaultTokenTtl: Int, tokenRefreshWindowSeconds: Int,
        swarm: SwarmEndpoint? = nil, dispatcher: DispatcherPolicy? = nil, tokenQuarantineThreshold: Int? = nil,
        tokenEnforcement: Bool? = nil
    ) {
        version = Self.supportedVersion
        self.gatewayId = gatewayId
        self.timestamp = timestamp
        self.ttl = ttl
        self.publicUrl = publicUrl
        self.wsUrl = wsUrl
        self.relayKey = relayKey
        self.relayDiscoveryKey = relayDiscoveryKey
        self.relayReplicationTopic = relayReplicationTopic
        self.defaultTokenTtl = defaultTokenTtl
        self.tokenRefreshWindowSeconds = tokenRefreshWindowSeconds
        self.swarm = swarm
        self.dispatcher = dispatcher
        self.tokenQuarantineThreshold = tokenQuarantineThreshold
        self.tokenEnforcement = tokenEnforcement
        signature = ""
    }

    /// Canonical signed bytes: the domain separator, then every field but `signature` in declaration order,
    /// strings as u32-LE length + UTF-8 and integers as u64 LE (keys in lowercase hex).
    public var signable: [UInt8] {
        var w = CanonicalWriter(Self.domainSeparator)
        w.append(UInt64(version))
        w.append(gatewayId.lowercased())
        w.append(timestamp)
        w.append(UInt64(clamping: ttl))
        w.append(publicUrl)
        w.append(wsUrl)
        w.append(relayKey.lowercased())
        w.append(relayDiscoveryKey.lowercased())
        w.append(relayReplicationTopic.lowercased())
        w.append(UInt64(clamping: defaultTokenTtl))
        w.append(UInt64(clamping: tokenRefreshWindowSeconds))
        // Optional extensions, each behind a tag byte so an announcement without them signs as before.
        if let swarm {
            w.appendTag(1)
            w.append(swarm.host)
            w.append(UInt64(clamping: swarm.port))
            w.append(swarm.swarmPublicKey.lowercased())
        }
        if let d = dispatcher {
            w.appendTag(2)
            w.append(UInt64(clamping: d.maxConcurrentJobsPerPeer))
            w.append(d.inFlightWeight.bitPattern)
            w.append(d.latencyWeight.bitPattern)
            w.append(d.failureWeight.bitPattern)
            w.append(UInt64(clamping: d.reassignOnLagBlocks))
            w.append(UInt64(clamping: d.circuitBreakerThreshold))
            w.append(UInt64(clamping: d.circuitBreakerTimeoutMs))
        }
        if let t = tokenQuarantineThreshold {
            w.appendTag(3)
            w.append(UInt64(clamping: t))
        }
        if let e = tokenEnforcement {
            w.appendTag(4)
            w.append(e ? 1 : 0)
        }
        return w.bytes
    }

    /// Returns a copy signed by `keyPair` (whose public key becomes `gatewayId`).
    public func signed(by keyPair: Ed25519KeyPair) -> DiscoveryAnnouncement {
        var copy = self
        copy.gatewayId = keyPair.publicKey.hex
        copy.signature = keyPair.sign(copy.signable).hex
        return copy
    }

    /// Why an announcement is not usable.
    public enum VerificationError: Error, Equatable, Sendable {
        case badSignature
        case expired(expiredAt: UInt64)
        case fromTheFuture(timestamp: UInt64)
    }

    /// Checks the signature against `gatewayId` and the validity window at `nowMilliseconds`
    /// (`maxClockSkewMilliseconds` tolerated for timestamps ahead of us).
    public func verify(nowMilliseconds: UInt64, maxClockSkewMilliseconds: UInt64 = 30_000) throws {
        try validate(at: "")
        guard let key = [UInt8](hex: gatewayId), let sig = [UInt8](hex: signature),
            Ed25519.verify(signature: sig, message: signable, publicKey: key)
        else { throw VerificationError.badSignature }
        if timestamp > nowMilliseconds &+ maxClockSkewMilliseconds {
            throw VerificationError.fromTheFuture(timestamp: timestamp)
        }
        let expiry = timestamp + UInt64(ttl) * 1000
        if nowMilliseconds >= expiry { throw VerificationError.expired(expiredAt: expiry) }
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        try Check.hexKey(gatewayId, at: Check.join(path, "gatewayId"))
        try Check.millisecondsTimestamp(timestamp, at: Check.join(path, "timestamp"))
        try Check.range(ttl, 1...86_400, at: Check.join(path, "ttl"))
        try Check.url(publicUrl, schemes: ["http", "https"], at: Check.join(path, "publicUrl"))
        try Check.url(wsUrl, schemes: ["ws", "wss"], at: Check.join(path, "wsUrl"))
        try Check.hexKey(relayKey, at: Check.join(path, "relayKey"))
        try Check.hexKey(relayDiscoveryKey, at: Check.join(path, "relayDiscoveryKey"))
        try Check.hexKey(relayReplicationTopic, at: Check.join(path, "relayReplicationTopic"))
        try Check.range(defaultTokenTtl, 60...86_400, at: Check.join(path, "defaultTokenTtl"))
        try Check.range(
            tokenRefreshWindowSeconds, 1...max(1, defaultTokenTtl - 1),
            at: Check.join(path, "tokenRefreshWindowSeconds"))
        if let swarm { try swarm.validate(at: Check.join(path, "swarm")) }
        if let dispatcher { try dispatcher.validate(at: Check.join(path, "dispatcher")) }
        if let t = tokenQuarantineThreshold {
            try Check.range(t, 1...100, at: Check.join(path, "tokenQuarantineThreshold"))
        }
        if !signature.isEmpty { try Check.hexKey(signature, bytes: 64, at: Check.join(path, "signature")) }
    }
}

/// A swarm endpoint: TCP host and port, and the Noise static public key the peer must present there.
public struct SwarmEndpoint: Codable, Sendable, Equatable, PayloadValidatable {
    /// Host name or IP address, 1...253 bytes.
    public var host: String
    /// TCP port, 1...65535.
    public var port: Int
    /// Ed25519 swarm public key, hex (32 bytes); not the gateway key.
    public var swarmPublicKey: String

    public init(host: String, port: Int, swarmPublicKey: String) {
        self.host = host
        self.port = port
        self.swarmPublicKey = swarmPublicKey
    }

    public func validate(at path: String) throws {
        try Check.text(host, length: 1...253, at: Check.join(path, "host"))
        if host.contains(where: { $0 == " " || $0 == "/" }) {
            throw PayloadValidationError(path: Check.join(path, "host"), reason: "must be a host name or address")
        }
        try Check.range(port, 1...65_535, at: Check.join(path, "port"))
        try Check.hexKey(swarmPublicKey, at: Check.join(path, "swarmPublicKey"))
    }
}

/// Length-prefixed canonical byte writer for signatures.
public struct CanonicalWriter: Sendable {
    /// Bytes written so far.
    public private(set) var bytes: [UInt8]

    public init(_ prefix: [UInt8] = []) { bytes = prefix }

    /// u64 little-endian.
    public mutating func append(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }

    /// One tag byte (marks an optional section).
    public mutating func appendTag(_ tag: UInt8) { bytes.append(tag) }

    /// u32-LE length then the UTF-8 bytes.
    public mutating func append(_ s: String) {
        let utf8 = Array(s.utf8)
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: utf8.count).littleEndian) { bytes += $0 }
        bytes += utf8
    }
}
