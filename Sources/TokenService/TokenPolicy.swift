/// Token lifetimes and quarantine rule, with the documented defaults (see Docs/tokens.md).
public struct TokenPolicy: Sendable, Equatable {
    /// Token lifetime in seconds (`GATEWAY_DEFAULT_TOKEN_TTL`, default 3600).
    public var ttlSeconds: UInt64
    /// Seconds before expiry when a refresh is accepted (`GATEWAY_TOKEN_REFRESH_WINDOW`, default 300).
    public var refreshWindowSeconds: UInt64
    /// Consecutive failed refreshes before the peer is quarantined (`GATEWAY_TOKEN_QUARANTINE_THRESHOLD`,
    /// default 5).
    public var quarantineThreshold: Int
    /// Seconds of clock skew tolerated for `iat` (`GATEWAY_TOKEN_CLOCK_SKEW`, default 30). Revocations are
    /// kept this long past the revoked token's expiry.
    public var clockSkewSeconds: UInt64
    /// Scope written into tokens.
    public var scope: String

    public static let defaultTTL: UInt64 = 3600
    public static let defaultRefreshWindow: UInt64 = 300
    public static let defaultQuarantineThreshold = 5
    public static let defaultClockSkew: UInt64 = 30

    public init(
        ttlSeconds: UInt64 = defaultTTL, refreshWindowSeconds: UInt64 = defaultRefreshWindow,
        quarantineThreshold: Int = defaultQuarantineThreshold, clockSkewSeconds: UInt64 = defaultClockSkew,
        scope: String = "relay-access"
    ) throws(TokenPolicyError) {
        self.ttlSeconds = ttlSeconds
        self.refreshWindowSeconds = refreshWindowSeconds
        self.quarantineThreshold = quarantineThreshold
        self.clockSkewSeconds = clockSkewSeconds
        self.scope = scope
        try validate()
    }

    /// The defaults.
    public static var standard: TokenPolicy {
        // The defaults satisfy `validate`.
        try! TokenPolicy()
    }

    /// Reads `GATEWAY_DEFAULT_TOKEN_TTL`, `GATEWAY_TOKEN_REFRESH_WINDOW`, `GATEWAY_TOKEN_QUARANTINE_THRESHOLD`
    /// and `GATEWAY_TOKEN_CLOCK_SKEW`; unset variables take the defaults, bad ones are errors.
    public init(environment: [String: String]) throws(TokenPolicyError) {
        func read(_ name: String, _ fallback: UInt64) throws(TokenPolicyError) -> UInt64 {
            guard let raw = environment[name], !raw.isEmpty else { return fallback }
            guard let v = UInt64(raw.trimmingCharacters(in: [" "])) else {
                throw .invalid(variable: name, value: raw, reason: "must be a non-negative integer")
            }
            return v
        }
        let ttl = try read("GATEWAY_DEFAULT_TOKEN_TTL", Self.defaultTTL)
        let window = try read("GATEWAY_TOKEN_REFRESH_WINDOW", Self.defaultRefreshWindow)
        let threshold = try read("GATEWAY_TOKEN_QUARANTINE_THRESHOLD", UInt64(Self.defaultQuarantineThreshold))
        let skew = try read("GATEWAY_TOKEN_CLOCK_SKEW", Self.defaultClockSkew)
        try self.init(
            ttlSeconds: ttl, refreshWindowSeconds: window, quarantineThreshold: Int(clamping: threshold),
            clockSkewSeconds: skew)
    }

    /// Checks the relations between the values.
    public func validate() throws(TokenPolicyError) {
        guard (60...86_400).contains(ttlSeconds) else {
            throw .invalid(
                variable: "GATEWAY_DEFAULT_TOKEN_TTL", value: "\(ttlSeconds)", reason: "must be 60...86400 s")
        }
        guard refreshWindowSeconds >= 1 && refreshWindowSeconds < ttlSeconds else {
            throw .invalid(
                variable: "GATEWAY_TOKEN_REFRESH_WINDOW", value: "\(refreshWindowSeconds)",
                reason: "must be at least 1 s and shorter than the TTL (\(ttlSeconds) s)")
        }
        guard (1...100).contains(quarantineThreshold) else {
            throw .invalid(
                variable: "GATEWAY_TOKEN_QUARANTINE_THRESHOLD", value: "\(quarantineThreshold)",
                reason: "must be 1...100")
        }
        guard clockSkewSeconds <= 600 else {
            throw .invalid(
                variable: "GATEWAY_TOKEN_CLOCK_SKEW", value: "\(clockSkewSeconds)", reason: "must be 0...600 s")
        }
    }
}

/// A bad token policy value.
public enum TokenPolicyError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(variable: String, value: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let variable, let value, let reason): return "\(variable)=\(value): \(reason)"
        }
    }
}
