/// Worker -> gateway `POST /gateway/register` body (field names kept from the deployed JS where they exist).
/// The gateway must also check that `publicKey` equals the key authenticated by the swarm connection.
public struct RegistrationRequest: PeerPayload {
    public static let supportedVersion = 1
    public var version: Int
    /// The worker's swarm public key (hex, 32 bytes): what its tokens are keyed to.
    public var publicKey: String
    /// Relays the worker offers to serve (1...64).
    public var relays: [RelayRegistration]
    /// Optional reachable address, at most 256 bytes.
    public var address: String?
    /// Optional worker mode label (e.g. `hyperbee`), identifier of at most 32 characters.
    public var mode: String?
    /// Unix milliseconds when the request was built.
    public var timestamp: UInt64
    /// Optional Nostr public key of the operator (hex, 32 bytes).
    public var nostrPubkeyHex: String?

    public init(
        publicKey: String, relays: [RelayRegistration], address: String? = nil, mode: String? = nil,
        timestamp: UInt64, nostrPubkeyHex: String? = nil
    ) {
        version = Self.supportedVersion
        self.publicKey = publicKey
        self.relays = relays
        self.address = address
        self.mode = mode
        self.timestamp = timestamp
        self.nostrPubkeyHex = nostrPubkeyHex
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        try Check.hexKey(publicKey, at: Check.join(path, "publicKey"))
        try Check.count(relays, 1...64, at: Check.join(path, "relays"))
        for (i, relay) in relays.enumerated() { try relay.validate(at: Check.join(path, "relays") + "[\(i)]") }
        if let address { try Check.text(address, length: 1...256, at: Check.join(path, "address")) }
        if let mode { try Check.identifier(mode, max: 32, at: Check.join(path, "mode")) }
        try Check.millisecondsTimestamp(timestamp, at: Check.join(path, "timestamp"))
        if let nostrPubkeyHex { try Check.hexKey(nostrPubkeyHex, at: Check.join(path, "nostrPubkeyHex")) }
    }
}

/// One relay a worker offers to serve.
public struct RelayRegistration: Codable, Sendable, Equatable, PayloadValidatable {
    /// Relay identifier as known to the gateway (`[A-Za-z0-9._:-]`, 1...128).
    public var identifier: String
    /// Optional display name, at most 128 bytes.
    public var name: String?
    /// Relay log key the worker already holds (hex, 32 bytes), if any.
    public var relayKey: String?

    public init(identifier: String, name: String? = nil, relayKey: String? = nil) {
        self.identifier = identifier
        self.name = name
        self.relayKey = relayKey
    }

    public func validate(at path: String) throws {
        try Check.identifier(identifier, at: Check.join(path, "identifier"))
        if let name { try Check.text(name, length: 0...128, at: Check.join(path, "name")) }
        if let relayKey { try Check.hexKey(relayKey, at: Check.join(path, "relayKey")) }
    }
}

/// Gateway -> worker registration reply: `{status:"ok", hyperbee:{...}, token:{...}}` as in the deployed JS, plus
/// the websocket URL and the worker's first token.
public struct RegistrationResponse: PeerPayload {
    public static let supportedVersion = 1
    public var version: Int
    /// Always `ok` (errors travel as HTTP errors).
    public var status: String
    /// Where and how to replicate the relay log, and the policies that apply.
    public var hyperbee: RelayAssignment
    /// The worker's first token.
    public var token: IssuedToken

    public init(hyperbee: RelayAssignment, token: IssuedToken) {
        version = Self.supportedVersion
        status = "ok"
        self.hyperbee = hyperbee
        self.token = token
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        guard status == "ok" else {
            throw PayloadValidationError(
                path: Check.join(path, "status"), reason: "must be \"ok\", got \"\(status.prefix(32))\"")
        }
        try hyperbee.validate(at: Check.join(path, "hyperbee"))
        try token.validate(at: Check.join(path, "token"))
        guard token.expiresAt > token.issuedAt, token.expiresAt - token.issuedAt <= UInt64(hyperbee.defaultTokenTtl)
        else {
            throw PayloadValidationError(
                path: Check.join(path, "token.expiresAt"), reason: "token lifetime exceeds hyperbee.defaultTokenTtl")
        }
    }
}

/// Relay log coordinates and policies (JS: the `hyperbee` object of the registration reply).
public struct RelayAssignment: Codable, Sendable, Equatable, PayloadValidatable {
    /// Relay log (Hypercore) public key, hex.
    public var hyperbeeKey: String
    /// Discovery key of the relay log, hex.
    public var discoveryKey: String
    /// Swarm topic to join for replication, hex.
    public var replicationTopic: String
    /// Gateway websocket URL for this relay (`ws://` or `wss://`).
    public var websocketUrl: String
    /// Token lifetime in seconds (60...86400).
    public var defaultTokenTtl: Int
    /// Seconds before expiry when refresh opens (1...ttl-1).
    public var tokenRefreshWindowSeconds: Int
    /// Consecutive failed refreshes before quarantine (1...100).
    public var tokenQuarantineThreshold: Int
    /// Dispatcher knobs the gateway applies.
    public var dispatcher: DispatcherPolicy

    public init(
        hyperbeeKey: String, discoveryKey: String, replicationTopic: String, websocketUrl: String,
        defaultTokenTtl: Int, tokenRefreshWindowSeconds: Int, tokenQuarantineThreshold: Int,
        dispatcher: DispatcherPolicy
    ) {
        self.hyperbeeKey = hyperbeeKey
        self.discoveryKey = discoveryKey
        self.replicationTopic = replicationTopic
        self.websocketUrl = websocketUrl
        self.defaultTokenTtl = defaultTokenTtl
        self.tokenRefreshWindowSeconds = tokenRefreshWindowSeconds
        self.tokenQuarantineThreshold = tokenQuarantineThreshold
        self.dispatcher = dispatcher
    }

    public func validate(at path: String) throws {
        try Check.hexKey(hyperbeeKey, at: Check.join(path, "hyperbeeKey"))
        try Check.hexKey(discoveryKey, at: Check.join(path, "discoveryKey"))
        try Check.hexKey(replicationTopic, at: Check.join(path, "replicationTopic"))
        try Check.url(websocketUrl, schemes: ["ws", "wss"], at: Check.join(path, "websocketUrl"))
        try Check.range(defaultTokenTtl, 60...86_400, at: Check.join(path, "defaultTokenTtl"))
        try Check.range(
            tokenRefreshWindowSeconds, 1...max(1, defaultTokenTtl - 1),
            at: Check.join(path, "tokenRefreshWindowSeconds"))
        try Check.range(tokenQuarantineThreshold, 1...100, at: Check.join(path, "tokenQuarantineThreshold"))
        try dispatcher.validate(at: Check.join(path, "dispatcher"))
    }
}

/// Dispatcher knobs (names follow GATEWAY_DISPATCHER_* of the deployed gateway).
public struct DispatcherPolicy: Codable, Sendable, Equatable, PayloadValidatable {
    /// Most concurrent jobs per peer (1...1024; JS default 3).
    public var maxConcurrentJobsPerPeer: Int
    /// Score weight of in-flight jobs (0...1_000_000; JS default 25).
    public var inFlightWeight: Double
    /// Score weight of latency in ms (0...1_000_000; JS default 1).
    public var latencyWeight: Double
    /// Score weight of failure rate (0...1_000_000; JS default 500).
    public var failureWeight: Double
    /// Replica lag in blocks above which work is reassigned (0...1e9; JS default 500).
    public var reassignOnLagBlocks: Int
    /// Failures that open a peer's circuit breaker (1...1000; JS default 5).
    public var circuitBreakerThreshold: Int
    /// How long an open breaker stays open, ms (1000...86_400_000; JS default 60000).
    public var circuitBreakerTimeoutMs: Int

    public init(
        maxConcurrentJobsPerPeer: Int = 3, inFlightWeight: Double = 25, latencyWeight: Double = 1,
        failureWeight: Double = 500, reassignOnLagBlocks: Int = 500, circuitBreakerThreshold: Int = 5,
        circuitBreakerTimeoutMs: Int = 60_000
    ) {
        self.maxConcurrentJobsPerPeer = maxConcurrentJobsPerPeer
        self.inFlightWeight = inFlightWeight
        self.latencyWeight = latencyWeight
        self.failureWeight = failureWeight
        self.reassignOnLagBlocks = reassignOnLagBlocks
        self.circuitBreakerThreshold = circuitBreakerThreshold
        self.circuitBreakerTimeoutMs = circuitBreakerTimeoutMs
    }

    public func validate(at path: String) throws {
        try Check.range(maxConcurrentJobsPerPeer, 1...1024, at: Check.join(path, "maxConcurrentJobsPerPeer"))
        try Check.range(inFlightWeight, 0...1_000_000, at: Check.join(path, "inFlightWeight"))
        try Check.range(latencyWeight, 0...1_000_000, at: Check.join(path, "latencyWeight"))
        try Check.range(failureWeight, 0...1_000_000, at: Check.join(path, "failureWeight"))
        try Check.range(reassignOnLagBlocks, 0...1_000_000_000, at: Check.join(path, "reassignOnLagBlocks"))
        try Check.range(circuitBreakerThreshold, 1...1000, at: Check.join(path, "circuitBreakerThreshold"))
        try Check.range(circuitBreakerTimeoutMs, 1000...86_400_000, at: Check.join(path, "circuitBreakerTimeoutMs"))
    }
}

/// A token as handed to a worker: the compact JWT plus its main claims in clear for convenience.
public struct IssuedToken: Codable, Sendable, Equatable, PayloadValidatable {
    /// Compact JWS (`header.claims.signature`, base64url), at most 4096 bytes.
    public var token: String
    /// Token sequence (strictly increasing per peer and relay).
    public var sequence: UInt64
    /// Unix seconds.
    public var issuedAt: UInt64
    /// Unix seconds.
    public var expiresAt: UInt64
    /// Unix seconds from which a refresh is accepted.
    public var refreshAfter: UInt64

    public init(token: String, sequence: UInt64, issuedAt: UInt64, expiresAt: UInt64, refreshAfter: UInt64) {
        self.token = token
        self.sequence = sequence
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.refreshAfter = refreshAfter
    }

    public func validate(at path: String) throws {
        try Check.text(token, length: 5...4096, at: Check.join(path, "token"))
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else {
            throw PayloadValidationError(
                path: Check.join(path, "token"), reason: "must be a compact JWS (three non-empty dot-separated parts)")
        }
        try Check.range(sequence, 1...UInt64.max, at: Check.join(path, "sequence"))
        guard expiresAt > issuedAt else {
            throw PayloadValidationError(path: Check.join(path, "expiresAt"), reason: "must be after issuedAt")
        }
        guard refreshAfter >= issuedAt && refreshAfter <= expiresAt else {
            throw PayloadValidationError(
                path: Check.join(path, "refreshAfter"), reason: "must lie between issuedAt and expiresAt")
        }
    }
}
