import Foundation

/// The NIP-11 relay information document. The server serves `Relay.informationJSON` for requests with
/// `Accept: application/nostr+json`, with `RelayInformation.corsHeaders`.
public struct RelayInformation: Codable, Sendable, Equatable {
    /// NIP-11 `limitation` object (standard fields plus our rate limits).
    public struct Limitation: Codable, Sendable, Equatable {
        public var maxMessageLength: Int
        public var maxSubscriptions: Int
        public var maxFilters: Int
        public var maxLimit: Int
        public var defaultLimit: Int
        public var maxSubidLength: Int
        public var maxEventTags: Int
        public var maxContentLength: Int
        public var minPowDifficulty: Int
        public var authRequired: Bool
        public var paymentRequired: Bool
        public var restrictedWrites: Bool
        public var createdAtLowerLimit: Int64?
        public var createdAtUpperLimit: Int64?
        public var maxOutboundFrames: Int
        public var eventsPerSecondPerIp: Double?
        public var eventsBurstPerIp: Double?
        public var eventsPerSecondPerPubkey: Double?
        public var eventsBurstPerPubkey: Double?
        public var queriesPerSecondPerIp: Double?
        public var queriesBurstPerIp: Double?

        enum CodingKeys: String, CodingKey {
            case maxMessageLength = "max_message_length"
            case maxSubscriptions = "max_subscriptions"
            case maxFilters = "max_filters"
            case maxLimit = "max_limit"
            case defaultLimit = "default_limit"
            case maxSubidLength = "max_subid_length"
            case maxEventTags = "max_event_tags"
            case maxContentLength = "max_content_length"
            case minPowDifficulty = "min_pow_difficulty"
            case authRequired = "auth_required"
            case paymentRequired = "payment_required"
            case restrictedWrites = "restricted_writes"
            case createdAtLowerLimit = "created_at_lower_limit"
            case createdAtUpperLimit = "created_at_upper_limit"
            case maxOutboundFrames = "max_outbound_frames"
            case eventsPerSecondPerIp = "events_per_second_per_ip"
            case eventsBurstPerIp = "events_burst_per_ip"
            case eventsPerSecondPerPubkey = "events_per_second_per_pubkey"
            case eventsBurstPerPubkey = "events_burst_per_pubkey"
            case queriesPerSecondPerIp = "queries_per_second_per_ip"
            case queriesBurstPerIp = "queries_burst_per_ip"
        }
    }

    public var name: String
    public var description: String
    public var pubkey: String?
    public var contact: String?
    public var supportedNips: [Int]
    public var software: String
    public var version: String
    public var limitation: Limitation

    enum CodingKeys: String, CodingKey {
        case name, description, pubkey, contact, software, version, limitation
        case supportedNips = "supported_nips"
    }

    /// The NIPs this engine implements.
    public static let supportedNIPs = [1, 9, 11, 40, 42, 45, 70]

    /// The three CORS headers NIP-11 requires on the document response.
    public static let corsHeaders: [(name: String, value: String)] = [
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Headers", "*"),
        ("Access-Control-Allow-Methods", "GET, OPTIONS"),
    ]

    /// The document for `configuration` and a policy that does (or does not) restrict writes.
    public init(configuration c: RelayConfiguration, restrictedWrites: Bool) {
        func rate(_ limit: RelayConfiguration.RateLimit) -> (Double?, Double?) {
            limit.isUnlimited ? (nil, nil) : (limit.rate, limit.burst)
        }
        let ip = rate(c.eventsPerIP)
        let pk = rate(c.eventsPerPubkey)
        let q = rate(c.queriesPerIP)
        name = c.name
        description = c.description
        pubkey = c.pubkey
        contact = c.contact
        supportedNips = c.auth == .disabled ? Self.supportedNIPs.filter { $0 != 42 } : Self.supportedNIPs
        software = c.software
        version = c.version
        limitation = Limitation(
            maxMessageLength: c.maxMessageBytes, maxSubscriptions: c.maxSubscriptions, maxFilters: c.maxFilters,
            maxLimit: c.effectiveMaxLimit, defaultLimit: min(c.defaultLimit, c.effectiveMaxLimit),
            maxSubidLength: c.maxSubscriptionIdLength,
            maxEventTags: c.maxEventTags, maxContentLength: c.maxContentBytes, minPowDifficulty: 0,
            authRequired: c.auth == .required, paymentRequired: false, restrictedWrites: restrictedWrites,
            createdAtLowerLimit: c.createdAtLowerLimit, createdAtUpperLimit: c.createdAtUpperLimit,
            maxOutboundFrames: c.maxOutboundFrames,
            eventsPerSecondPerIp: ip.0, eventsBurstPerIp: ip.1, eventsPerSecondPerPubkey: pk.0,
            eventsBurstPerPubkey: pk.1, queriesPerSecondPerIp: q.0, queriesBurstPerIp: q.1)
    }

    /// The document as JSON text (`application/nostr+json`).
    public func jsonString() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings, numbers and booleans cannot fail.
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
