import Configuration
import Foundation
import NostrRelay

/// Who may write events through the gateway's websocket.
public enum WritePolicyMode: String, Sendable, CaseIterable {
    /// Anyone with a valid signature.
    case open
    /// Only the configured allow-list (plus admins).
    case allowList = "allow-list"
    /// Admin pubkeys, and peers that authenticated with NIP-42 as an admin or allow-listed key.
    case adminsAndAuthenticatedPeers = "admins"
}

/// Which storage holds the relay's events.
public enum StoreKind: String, Sendable, CaseIterable {
    /// The relay index scheme in a HyperTree over the gateway's signed HyperLog (one signature per group commit).
    case hypertree
    /// The same index scheme directly in LMDB (no log, no signatures): a fallback and a benchmark reference.
    case lmdb

    /// The store's directory inside the data directory (`hypertuna-gateway log` reads `relay-log`).
    public var directoryName: String { self == .hypertree ? "relay-log" : "relay" }
}

/// Limits the relay enforces and publishes in its NIP-11 document. Defaults are the engine's (`RelayConfiguration()`).
public struct RelayLimits: Sendable, Equatable {
    public var maxMessageBytes: Int
    public var maxSubscriptions: Int
    public var maxFilters: Int
    public var maxLimit: Int
    public var defaultLimit: Int
    /// Frames buffered for one connection before a slow reader is dropped.
    public var outboundBufferMessages: Int
    /// False turns every token bucket off (benchmarks, trusted deployments).
    public var rateLimitEnabled = true
    /// Token buckets (per second, burst): EVENTs per IP, EVENTs per author, REQ/COUNT per IP.
    public var eventsPerIPRate: Double
    public var eventsPerIPBurst: Double
    public var eventsPerPubkeyRate: Double
    public var eventsPerPubkeyBurst: Double
    public var queriesPerIPRate: Double
    public var queriesPerIPBurst: Double
    /// NIP-42: `disabled`, `enabled` (challenge sent, optional) or `required`.
    public var authMode: String

    public init() {
        let d = RelayConfiguration()
        maxMessageBytes = d.maxMessageBytes
        maxSubscriptions = d.maxSubscriptions
        maxFilters = d.maxFilters
        maxLimit = d.maxLimit
        defaultLimit = d.defaultLimit
        outboundBufferMessages = d.maxOutboundFrames
        eventsPerIPRate = d.eventsPerIP.rate
        eventsPerIPBurst = d.eventsPerIP.burst
        eventsPerPubkeyRate = d.eventsPerPubkey.rate
        eventsPerPubkeyBurst = d.eventsPerPubkey.burst
        queriesPerIPRate = d.queriesPerIP.rate
        queriesPerIPBurst = d.queriesPerIP.burst
        authMode = d.auth.rawValue
    }
}

/// The gateway's typed configuration, read from environment variables (and an optional JSON file) and validated.
public struct GatewayConfiguration: Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 4430
    /// Relay data directory (log, index, gateway key pair).
    public var storagePath = "./data"
    public var publicURL: String?
    public var relayName = "Hypertuna gateway"
    public var relayDescription = "Hypertuna public gateway relay"
    public var relayContact: String?
    /// Nostr admin pubkeys (64 lowercase hex).
    public var adminPublicKeys: [String] = []
    /// Pubkeys allowed to write under `allow-list`.
    public var allowedPublicKeys: [String] = []
    /// The write policy; nil in the environment means "derive": admins when admin keys exist, open otherwise.
    public var writePolicy: WritePolicyMode = .open
    /// True when the policy was derived rather than set explicitly.
    public var writePolicyIsDefault = true
    public var featureHyperbeeRelay = false
    public var featureRelayDispatcher = false
    public var featureRelayTokenEnforcement = false
    public var defaultTokenTTLSeconds = 3600
    public var tokenRefreshWindowSeconds = 300
    public var metricsEnabled = true
    public var metricsPath = "/metrics"
    public var limits = RelayLimits()
    public var logLevel = "info"
    /// The relay store: the signed HyperLog/HyperTree (default) or the plain LMDB index store.
    public var store: StoreKind = .hypertree

    public init() {}
}

/// A configuration value that failed validation.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    /// Environment variable name of the offending setting.
    public let variable: String
    public let message: String
    public init(_ variable: String, _ message: String) {
        self.variable = variable
        self.message = message
    }
    public var description: String { "configuration error: \(variable): \(message)" }
}

extension GatewayConfiguration {
    /// Reads and validates every setting. Keys are dotted lowercase (`gateway.relay.storage`), which the environment
    /// provider maps to `GATEWAY_RELAY_STORAGE`; a JSON file nests them (`{"gateway": {"relay": {"storage": ...}}}`).
    public static func load(from reader: ConfigReader) throws -> GatewayConfiguration {
        var source = Source(reader: reader)
        var c = GatewayConfiguration()
        c.host = try source.string("gateway.host") ?? c.host
        if c.host.isEmpty { throw ConfigurationError("GATEWAY_HOST", "must not be empty") }
        c.port = try source.int("port", in: 0...65535) ?? c.port
        c.storagePath = try source.string("gateway.relay.storage") ?? c.storagePath
        if c.storagePath.isEmpty { throw ConfigurationError("GATEWAY_RELAY_STORAGE", "must not be empty") }
        c.publicURL = try source.string("gateway.public.url")
        if let url = c.publicURL, !(url.hasPrefix("ws://") || url.hasPrefix("wss://")) {
            throw ConfigurationError("GATEWAY_PUBLIC_URL", "must start with ws:// or wss://, got \"\(url)\"")
        }
        c.relayName = try source.string("gateway.relay.name") ?? c.relayName
        c.relayDescription = try source.string("gateway.relay.description") ?? c.relayDescription
        c.relayContact = try source.string("gateway.relay.contact")
        c.adminPublicKeys = try source.pubkeys("gateway.relay.admin.public.key")
        c.allowedPublicKeys = try source.pubkeys("gateway.relay.allowed.public.keys")
        if let mode = try source.string("gateway.relay.write.policy") {
            guard let parsed = WritePolicyMode(rawValue: mode.lowercased()) else {
                throw ConfigurationError(
                    "GATEWAY_RELAY_WRITE_POLICY",
                    "unknown policy \"\(mode)\"; use one of \(WritePolicyMode.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            c.writePolicy = parsed
            c.writePolicyIsDefault = false
        } else {
            c.writePolicy = c.adminPublicKeys.isEmpty ? .open : .adminsAndAuthenticatedPeers
        }
        if c.writePolicy == .adminsAndAuthenticatedPeers && c.adminPublicKeys.isEmpty {
            throw ConfigurationError(
                "GATEWAY_RELAY_ADMIN_PUBLIC_KEY", "the admins write policy needs at least one admin public key")
        }
        if c.writePolicy == .allowList && c.allowedPublicKeys.isEmpty && c.adminPublicKeys.isEmpty {
            throw ConfigurationError(
                "GATEWAY_RELAY_ALLOWED_PUBLIC_KEYS", "the allow-list write policy needs at least one public key")
        }
        c.featureHyperbeeRelay = try source.bool("gateway.feature.hyperbee.relay") ?? false
        c.featureRelayDispatcher = try source.bool("gateway.feature.relay.dispatcher") ?? false
        c.featureRelayTokenEnforcement = try source.bool("gateway.feature.relay.token.enforcement") ?? false
        c.defaultTokenTTLSeconds = try source.int("gateway.default.token.ttl", in: 60...(30 * 86400)) ?? 3600
        c.tokenRefreshWindowSeconds = try source.int("gateway.token.refresh.window", in: 1...86400) ?? 300
        if c.tokenRefreshWindowSeconds >= c.defaultTokenTTLSeconds {
            throw ConfigurationError(
                "GATEWAY_TOKEN_REFRESH_WINDOW",
                "must be shorter than GATEWAY_DEFAULT_TOKEN_TTL (\(c.tokenRefreshWindowSeconds) >= \(c.defaultTokenTTLSeconds))"
            )
        }
        c.metricsEnabled = try source.bool("gateway.metrics.enabled") ?? true
        c.metricsPath = try source.string("gateway.metrics.path") ?? c.metricsPath
        if !c.metricsPath.hasPrefix("/") || c.metricsPath == "/" || c.metricsPath == "/health" {
            throw ConfigurationError("GATEWAY_METRICS_PATH", "must be an absolute path other than / and /health")
        }
        var l = RelayLimits()
        l.maxMessageBytes =
            try source.int("gateway.relay.max.message.bytes", in: 1024...(64 << 20)) ?? l.maxMessageBytes
        l.maxSubscriptions = try source.int("gateway.relay.max.subscriptions", in: 1...10_000) ?? l.maxSubscriptions
        l.maxFilters = try source.int("gateway.relay.max.filters", in: 1...1000) ?? l.maxFilters
        l.maxLimit = try source.int("gateway.relay.max.limit", in: 1...1_000_000) ?? l.maxLimit
        l.defaultLimit =
            try source.int("gateway.relay.default.limit", in: 1...1_000_000) ?? min(l.defaultLimit, l.maxLimit)
        if l.defaultLimit > l.maxLimit {
            throw ConfigurationError(
                "GATEWAY_RELAY_DEFAULT_LIMIT", "must not exceed GATEWAY_RELAY_MAX_LIMIT (\(l.maxLimit))")
        }
        l.outboundBufferMessages =
            try source.int("gateway.relay.outbound.buffer", in: 16...1_000_000) ?? l.outboundBufferMessages
        l.rateLimitEnabled = try source.bool("gateway.ratelimit.enabled") ?? l.rateLimitEnabled
        l.eventsPerIPRate = try source.double("gateway.relay.events.per.ip.rate") ?? l.eventsPerIPRate
        l.eventsPerIPBurst = try source.double("gateway.relay.events.per.ip.burst") ?? l.eventsPerIPBurst
        l.eventsPerPubkeyRate = try source.double("gateway.relay.events.per.pubkey.rate") ?? l.eventsPerPubkeyRate
        l.eventsPerPubkeyBurst = try source.double("gateway.relay.events.per.pubkey.burst") ?? l.eventsPerPubkeyBurst
        l.queriesPerIPRate = try source.double("gateway.relay.queries.per.ip.rate") ?? l.queriesPerIPRate
        l.queriesPerIPBurst = try source.double("gateway.relay.queries.per.ip.burst") ?? l.queriesPerIPBurst
        if let mode = try source.string("gateway.relay.auth")?.lowercased() {
            guard ["disabled", "enabled", "required"].contains(mode) else {
                throw ConfigurationError(
                    "GATEWAY_RELAY_AUTH", "unknown mode \"\(mode)\"; use disabled, enabled or required")
            }
            l.authMode = mode
        }
        if c.writePolicy == .adminsAndAuthenticatedPeers && l.authMode == "disabled" {
            throw ConfigurationError(
                "GATEWAY_RELAY_AUTH", "the admins write policy needs NIP-42 AUTH (enabled or required)")
        }
        c.limits = l
        if let kind = try source.string("gateway.relay.store")?.lowercased() {
            guard let parsed = StoreKind(rawValue: kind) else {
                throw ConfigurationError("GATEWAY_RELAY_STORE", "unknown store \"\(kind)\"; use hypertree or lmdb")
            }
            c.store = parsed
        }
        c.logLevel = try source.string("gateway.log.level")?.lowercased() ?? c.logLevel
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        if !levels.contains(c.logLevel) {
            throw ConfigurationError(
                "GATEWAY_LOG_LEVEL", "unknown level \"\(c.logLevel)\"; use one of \(levels.joined(separator: ", "))")
        }
        return c
    }

    /// Environment-variable name for a dotted key (`gateway.relay.storage` -> `GATEWAY_RELAY_STORAGE`).
    public static func variableName(_ key: String) -> String {
        key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// The environment-variable names this configuration reads (documentation and `--help`).
    public static let variables = [
        "GATEWAY_HOST", "PORT", "GATEWAY_RELAY_STORAGE", "GATEWAY_PUBLIC_URL", "GATEWAY_RELAY_NAME",
        "GATEWAY_RELAY_DESCRIPTION", "GATEWAY_RELAY_CONTACT", "GATEWAY_RELAY_ADMIN_PUBLIC_KEY",
        "GATEWAY_RELAY_ALLOWED_PUBLIC_KEYS", "GATEWAY_RELAY_WRITE_POLICY", "GATEWAY_FEATURE_HYPERBEE_RELAY",
        "GATEWAY_FEATURE_RELAY_DISPATCHER", "GATEWAY_FEATURE_RELAY_TOKEN_ENFORCEMENT", "GATEWAY_DEFAULT_TOKEN_TTL",
        "GATEWAY_TOKEN_REFRESH_WINDOW", "GATEWAY_METRICS_ENABLED", "GATEWAY_METRICS_PATH",
        "GATEWAY_RELAY_MAX_MESSAGE_BYTES", "GATEWAY_RELAY_MAX_SUBSCRIPTIONS", "GATEWAY_RELAY_MAX_FILTERS",
        "GATEWAY_RELAY_MAX_LIMIT", "GATEWAY_RELAY_DEFAULT_LIMIT", "GATEWAY_RELAY_OUTBOUND_BUFFER",
        "GATEWAY_RATELIMIT_ENABLED", "GATEWAY_RELAY_EVENTS_PER_IP_RATE", "GATEWAY_RELAY_EVENTS_PER_IP_BURST",
        "GATEWAY_RELAY_EVENTS_PER_PUBKEY_RATE", "GATEWAY_RELAY_EVENTS_PER_PUBKEY_BURST",
        "GATEWAY_RELAY_QUERIES_PER_IP_RATE", "GATEWAY_RELAY_QUERIES_PER_IP_BURST", "GATEWAY_RELAY_AUTH",
        "GATEWAY_LOG_LEVEL", "GATEWAY_CONFIG_FILE", "GATEWAY_RELAY_STORE",
    ]
}

/// Reads raw values as text so that every malformed value gets our own clear error.
private struct Source {
    let reader: ConfigReader

    mutating func string(_ key: String) throws -> String? {
        let k = ConfigKey(key)
        if let s = reader.string(forKey: k) {
            let t = s.trimmingCharacters(in: .whitespaces)
            return t.isEmpty ? nil : t
        }
        if let i = reader.int(forKey: k) { return String(i) }
        if let b = reader.bool(forKey: k) { return String(b) }
        return nil
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let s = try string(key) else { return nil }
        let name = GatewayConfiguration.variableName(key)
        guard let v = Int(s) else { throw ConfigurationError(name, "expected an integer, got \"\(s)\"") }
        guard range.contains(v) else {
            throw ConfigurationError(name, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }

    mutating func double(_ key: String) throws -> Double? {
        guard let s = try string(key) else { return nil }
        let name = GatewayConfiguration.variableName(key)
        guard let v = Double(s), v.isFinite, v >= 0 else {
            throw ConfigurationError(name, "expected a non-negative number, got \"\(s)\"")
        }
        return v
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let s = try string(key) else { return nil }
        switch s.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default:
            throw ConfigurationError(GatewayConfiguration.variableName(key), "expected true or false, got \"\(s)\"")
        }
    }

    mutating func pubkeys(_ key: String) throws -> [String] {
        guard let s = try string(key) else { return [] }
        var out: [String] = []
        for part in s.split(separator: ",") {
            let k = part.trimmingCharacters(in: .whitespaces).lowercased()
            if k.isEmpty { continue }
            guard k.utf8.count == 64, k.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
                throw ConfigurationError(
                    GatewayConfiguration.variableName(key), "\"\(k)\" is not a 64-character hex public key")
            }
            if !out.contains(k) { out.append(k) }
        }
        return out
    }
}
