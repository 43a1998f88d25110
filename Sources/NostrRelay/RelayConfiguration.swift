/// Every knob of the relay engine. All limits are published in the NIP-11 document.
public struct RelayConfiguration: Sendable {
    /// NIP-42 mode.
    public enum AuthMode: String, Sendable, CaseIterable {
        /// No AUTH challenge; AUTH messages are answered with a NOTICE.
        case disabled
        /// A challenge is sent on connect; clients may authenticate (needed by protected events and by
        /// policies that trust authenticated keys), reads and writes do not require it.
        case enabled
        /// A challenge is sent on connect and every REQ, COUNT and EVENT requires authentication first.
        case required
    }

    /// A token bucket: `rate` tokens per second, at most `burst` saved up. A rate of 0 disables the bucket.
    public struct RateLimit: Sendable, Equatable {
        public var rate: Double
        public var burst: Double
        public init(rate: Double, burst: Double) {
            self.rate = rate
            self.burst = burst
        }
        /// No limit.
        public static let unlimited = RateLimit(rate: 0, burst: 0)
        public var isUnlimited: Bool { rate <= 0 }
    }

    /// The relay's websocket URL, matched against the `relay` tag of NIP-42 AUTH events.
    public var relayURL: String
    /// NIP-11 name, description, admin public key (hex) and contact.
    public var name: String
    public var description: String
    public var pubkey: String?
    public var contact: String?
    /// NIP-11 software and version.
    public var software: String
    public var version: String

    /// Largest inbound frame in bytes (UTF-8); larger frames get a NOTICE and are ignored.
    public var maxMessageBytes: Int
    /// Open subscriptions per connection.
    public var maxSubscriptions: Int
    /// Filters per REQ or COUNT.
    public var maxFilters: Int
    /// Largest `limit` honoured (larger values are clamped); also the cap on stored events sent for one REQ.
    public var maxLimit: Int
    /// `limit` used when a REQ gives none.
    public var defaultLimit: Int
    /// Longest subscription id.
    public var maxSubscriptionIdLength: Int
    /// Most tags in one event.
    public var maxEventTags: Int
    /// Longest `content` in bytes (UTF-8).
    public var maxContentBytes: Int
    /// Events older than now minus this many seconds are refused (nil: no bound).
    public var createdAtLowerLimit: Int64?
    /// Events newer than now plus this many seconds are refused (nil: no bound).
    public var createdAtUpperLimit: Int64?
    /// EVENT messages per remote address (all its connections together).
    public var eventsPerIP: RateLimit
    /// EVENT messages per author public key.
    public var eventsPerPubkey: RateLimit
    /// REQ and COUNT messages per remote address.
    public var queriesPerIP: RateLimit
    /// Bound of each connection's outbound buffer in frames; the websocket server enforces it and reports a
    /// full buffer by returning false from `RelayOutbound.send`, after which the engine drops the connection.
    public var maxOutboundFrames: Int
    /// NIP-42 mode.
    public var auth: AuthMode
    /// Most events written in one store commit by the group writer.
    public var maxBatchSize: Int

    public init(
        relayURL: String = "ws://127.0.0.1:4430",
        name: String = "hypertuna",
        description: String = "Hypertuna gateway relay",
        pubkey: String? = nil,
        contact: String? = nil,
        software: String = "https://github.com/hypertuna/hypertuna-swift",
        version: String = "0.1.0",
        maxMessageBytes: Int = 131_072,
        maxSubscriptions: Int = 32,
        maxFilters: Int = 16,
        maxLimit: Int = 1_000,
        defaultLimit: Int = 500,
        maxSubscriptionIdLength: Int = 64,
        maxEventTags: Int = 2_000,
        maxContentBytes: Int = 65_536,
        createdAtLowerLimit: Int64? = nil,
        createdAtUpperLimit: Int64? = 900,
        eventsPerIP: RateLimit = RateLimit(rate: 200, burst: 2_000),
        eventsPerPubkey: RateLimit = RateLimit(rate: 100, burst: 1_000),
        queriesPerIP: RateLimit = RateLimit(rate: 200, burst: 1_000),
        maxOutboundFrames: Int = 8_192,
        auth: AuthMode = .enabled,
        maxBatchSize: Int = 1_024
    ) {
        self.relayURL = relayURL
        self.name = name
        self.description = description
        self.pubkey = pubkey
        self.contact = contact
        self.software = software
        self.version = version
        self.maxMessageBytes = maxMessageBytes
        self.maxSubscriptions = maxSubscriptions
        self.maxFilters = maxFilters
        self.maxLimit = maxLimit
        self.defaultLimit = defaultLimit
        self.maxSubscriptionIdLength = maxSubscriptionIdLength
        self.maxEventTags = maxEventTags
        self.maxContentBytes = maxContentBytes
        self.createdAtLowerLimit = createdAtLowerLimit
        self.createdAtUpperLimit = createdAtUpperLimit
        self.eventsPerIP = eventsPerIP
        self.eventsPerPubkey = eventsPerPubkey
        self.queriesPerIP = queriesPerIP
        self.maxOutboundFrames = maxOutboundFrames
        self.auth = auth
        self.maxBatchSize = maxBatchSize
    }

    /// The `limit` cap actually applied: `maxLimit`, but never more than half the outbound buffer, so that one
    /// REQ's stored answer cannot by itself overflow the buffer and get its reader dropped.
    public var effectiveMaxLimit: Int { max(1, min(maxLimit, maxOutboundFrames / 2)) }

    /// Problems that make this configuration unusable (empty when valid); the gateway reports them at start.
    public func validationErrors() -> [String] {
        var errors: [String] = []
        func positive(_ value: Int, _ name: String) {
            if value <= 0 { errors.append("\(name) must be positive (got \(value))") }
        }
        positive(maxMessageBytes, "maxMessageBytes")
        positive(maxSubscriptions, "maxSubscriptions")
        positive(maxFilters, "maxFilters")
        positive(maxLimit, "maxLimit")
        positive(maxSubscriptionIdLength, "maxSubscriptionIdLength")
        positive(maxOutboundFrames, "maxOutboundFrames")
        positive(maxBatchSize, "maxBatchSize")
        if maxEventTags < 0 { errors.append("maxEventTags must not be negative") }
        if maxContentBytes < 0 { errors.append("maxContentBytes must not be negative") }
        if defaultLimit < 0 || defaultLimit > maxLimit {
            errors.append("defaultLimit must be between 0 and maxLimit (\(maxLimit)), got \(defaultLimit)")
        }
        for (name, limit) in [
            ("eventsPerIP", eventsPerIP), ("eventsPerPubkey", eventsPerPubkey),
            ("queriesPerIP", queriesPerIP),
        ]
        where !limit.isUnlimited && limit.burst < 1 {
            errors.append("\(name) burst must be at least 1 when its rate is set")
        }
        if let pubkey, !NostrEvent.isLowerHex(pubkey, length: 64) {
            errors.append("pubkey must be 64 lowercase hex characters")
        }
        if auth != .disabled, !(relayURL.hasPrefix("ws://") || relayURL.hasPrefix("wss://")) {
            errors.append("relayURL must start with ws:// or wss:// (got \(relayURL))")
        }
        return errors
    }
}
