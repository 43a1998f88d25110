import Dispatcher
import Foundation
import NostrRelayServer
import PeerProtocol
import TokenService

/// The peer plane's settings (on top of `GatewayConfiguration`), read from `GATEWAY_*` environment variables and
/// validated at start. Every bad value is a `ConfigurationError` naming its variable.
public struct PeerPlaneConfiguration: Sendable, Equatable {
    /// Swarm listen address (`GATEWAY_SWARM_HOST`, default the HTTP host) and port (`GATEWAY_SWARM_PORT`, default
    /// PORT+1; 0 picks a free port).
    public var swarmHost: String
    public var swarmPort: Int
    /// Host advertised in the discovery announcement (`GATEWAY_SWARM_PUBLIC_HOST`, default `swarmHost`).
    public var swarmPublicHost: String
    /// Public HTTP base URL advertised (`GATEWAY_PUBLIC_HTTP_URL`, default derived from the websocket URL).
    public var publicHTTPURL: String
    /// Public websocket URL (`GATEWAY_PUBLIC_URL`, default `ws://host:port`).
    public var publicWebsocketURL: String
    /// Token policy (`GATEWAY_DEFAULT_TOKEN_TTL`, `GATEWAY_TOKEN_REFRESH_WINDOW`,
    /// `GATEWAY_TOKEN_MAX_REFRESH_FAILURES` default 5, `GATEWAY_TOKEN_CLOCK_SKEW`).
    public var tokenPolicy: TokenPolicy
    /// Dispatcher knobs (`GATEWAY_DISPATCHER_*`).
    public var dispatcher: DispatcherConfig
    /// Registration timestamps must lie within this many seconds of now (`GATEWAY_REGISTRATION_WINDOW`, 300).
    public var registrationWindowSeconds: UInt64
    /// Most registered peers at once (`GATEWAY_MAX_PEERS`, 256).
    public var maxPeers: Int
    /// Swarm connections one peer key may hold (`GATEWAY_SWARM_MAX_CONNECTIONS_PER_PEER`, 2).
    public var maxConnectionsPerPeer: Int
    /// Replication requests one peer may have outstanding against us, and we against it
    /// (`GATEWAY_REPLICATION_MAX_INFLIGHT_PER_PEER`, 64).
    public var replicationMaxInflightPerPeer: Int
    /// Requests per peer channel per minute before 429 (`GATEWAY_PEER_REQUESTS_PER_MINUTE`, 600).
    public var peerRequestsPerMinute: Int
    /// Validity of the discovery announcement in seconds (`GATEWAY_ANNOUNCEMENT_TTL`, 300).
    public var announcementTTLSeconds: Int
    /// Audit log file (`GATEWAY_AUDIT_LOG_PATH`, default `<data>/audit.log`; `off` disables it).
    public var auditLogPath: String?
    /// Whether every publish attempt is audited (`GATEWAY_AUDIT_PUBLISH_ATTEMPTS`, true).
    public var auditPublishAttempts: Bool

    /// Reads the variables; `gateway` supplies the host, port, URLs and token TTL settings.
    public static func load(environment env: [String: String], gateway: GatewayConfiguration) throws
        -> PeerPlaneConfiguration
    {
        var r = Reader(env: env)
        let swarmHost = try r.string("GATEWAY_SWARM_HOST") ?? gateway.host
        let swarmPort = try r.int("GATEWAY_SWARM_PORT", 0...65535) ?? min(65535, gateway.port + 1)
        let ws = gateway.relayURL
        let http = try r.string("GATEWAY_PUBLIC_HTTP_URL") ?? Self.httpURL(fromWebsocket: ws)
        guard http.hasPrefix("http://") || http.hasPrefix("https://") else {
            throw ConfigurationError("GATEWAY_PUBLIC_HTTP_URL", "must start with http:// or https://, got \"\(http)\"")
        }
        var policyEnv = env
        policyEnv["GATEWAY_DEFAULT_TOKEN_TTL"] = String(gateway.defaultTokenTTLSeconds)
        policyEnv["GATEWAY_TOKEN_REFRESH_WINDOW"] = String(gateway.tokenRefreshWindowSeconds)
        if let failures = env["GATEWAY_TOKEN_MAX_REFRESH_FAILURES"], !failures.isEmpty {
            policyEnv["GATEWAY_TOKEN_QUARANTINE_THRESHOLD"] = failures
        }
        let policy: TokenPolicy
        do { policy = try TokenPolicy(environment: policyEnv) } catch {
            if case .invalid(let variable, let value, let reason) = error {
                let name =
                    variable == "GATEWAY_TOKEN_QUARANTINE_THRESHOLD" ? "GATEWAY_TOKEN_MAX_REFRESH_FAILURES" : variable
                throw ConfigurationError(name, "\(value): \(reason)")
            }
            throw ConfigurationError("GATEWAY_TOKEN_*", "\(error)")
        }
        var d = DispatcherConfig()
        d.maxConcurrentPerPeer = try r.int("GATEWAY_DISPATCHER_MAX_CONCURRENT", 1...1024) ?? d.maxConcurrentPerPeer
        d.inFlightWeight = try r.double("GATEWAY_DISPATCHER_INFLIGHT_WEIGHT") ?? d.inFlightWeight
        d.latencyWeight = try r.double("GATEWAY_DISPATCHER_LATENCY_WEIGHT") ?? d.latencyWeight
        d.failureWeight = try r.double("GATEWAY_DISPATCHER_FAILURE_WEIGHT") ?? d.failureWeight
        d.reassignLagBlocks = Int64(try r.int("GATEWAY_DISPATCHER_REASSIGN_LAG", 1...1_000_000_000) ?? 500)
        d.circuitBreakerThreshold = try r.int("GATEWAY_DISPATCHER_CB_THRESHOLD", 1...1000) ?? d.circuitBreakerThreshold
        let cbMs = try r.int("GATEWAY_DISPATCHER_CB_TIMEOUT_MS", 1000...86_400_000) ?? 60_000
        d.circuitBreakerTimeout = .milliseconds(cbMs)
        if let problem = d.validate().first { throw ConfigurationError("GATEWAY_DISPATCHER_*", problem) }
        var audit: String? = (gateway.storagePath as NSString).appendingPathComponent("audit.log")
        if let p = try r.string("GATEWAY_AUDIT_LOG_PATH") {
            audit = ["off", "none", "false"].contains(p.lowercased()) ? nil : p
        }
        return PeerPlaneConfiguration(
            swarmHost: swarmHost, swarmPort: swarmPort,
            swarmPublicHost: try r.string("GATEWAY_SWARM_PUBLIC_HOST") ?? swarmHost, publicHTTPURL: http,
            publicWebsocketURL: ws, tokenPolicy: policy, dispatcher: d,
            registrationWindowSeconds: UInt64(try r.int("GATEWAY_REGISTRATION_WINDOW", 10...86_400) ?? 300),
            maxPeers: try r.int("GATEWAY_MAX_PEERS", 1...100_000) ?? 256,
            maxConnectionsPerPeer: try r.int("GATEWAY_SWARM_MAX_CONNECTIONS_PER_PEER", 1...16) ?? 2,
            replicationMaxInflightPerPeer: try r.int("GATEWAY_REPLICATION_MAX_INFLIGHT_PER_PEER", 1...4096) ?? 64,
            peerRequestsPerMinute: try r.int("GATEWAY_PEER_REQUESTS_PER_MINUTE", 1...1_000_000) ?? 600,
            announcementTTLSeconds: try r.int("GATEWAY_ANNOUNCEMENT_TTL", 10...86_400) ?? 300,
            auditLogPath: audit, auditPublishAttempts: try r.bool("GATEWAY_AUDIT_PUBLISH_ATTEMPTS") ?? true)
    }

    public init(
        swarmHost: String = "127.0.0.1", swarmPort: Int = 0, swarmPublicHost: String? = nil,
        publicHTTPURL: String = "http://127.0.0.1:4430", publicWebsocketURL: String = "ws://127.0.0.1:4430",
        tokenPolicy: TokenPolicy = .standard, dispatcher: DispatcherConfig = .default,
        registrationWindowSeconds: UInt64 = 300, maxPeers: Int = 256, maxConnectionsPerPeer: Int = 2,
        replicationMaxInflightPerPeer: Int = 64, peerRequestsPerMinute: Int = 600, announcementTTLSeconds: Int = 300,
        auditLogPath: String? = nil, auditPublishAttempts: Bool = true
    ) {
        self.swarmHost = swarmHost
        self.swarmPort = swarmPort
        self.swarmPublicHost = swarmPublicHost ?? swarmHost
        self.publicHTTPURL = publicHTTPURL
        self.publicWebsocketURL = publicWebsocketURL
        self.tokenPolicy = tokenPolicy
        self.dispatcher = dispatcher
        self.registrationWindowSeconds = registrationWindowSeconds
        self.maxPeers = maxPeers
        self.maxConnectionsPerPeer = maxConnectionsPerPeer
        self.replicationMaxInflightPerPeer = replicationMaxInflightPerPeer
        self.peerRequestsPerMinute = peerRequestsPerMinute
        self.announcementTTLSeconds = announcementTTLSeconds
        self.auditLogPath = auditLogPath
        self.auditPublishAttempts = auditPublishAttempts
    }

    /// The dispatcher knobs as advertised to peers (registration reply, announcement).
    public var dispatcherPolicy: DispatcherPolicy {
        let cbMs =
            Int(dispatcher.circuitBreakerTimeout.components.seconds * 1000)
            + Int(dispatcher.circuitBreakerTimeout.components.attoseconds / 1_000_000_000_000_000)
        return DispatcherPolicy(
            maxConcurrentJobsPerPeer: dispatcher.maxConcurrentPerPeer, inFlightWeight: dispatcher.inFlightWeight,
            latencyWeight: dispatcher.latencyWeight, failureWeight: dispatcher.failureWeight,
            reassignOnLagBlocks: Int(clamping: dispatcher.reassignLagBlocks),
            circuitBreakerThreshold: dispatcher.circuitBreakerThreshold, circuitBreakerTimeoutMs: cbMs)
    }

    /// `ws://h:p/x` -> `http://h:p`, `wss://` -> `https://` (path dropped).
    static func httpURL(fromWebsocket ws: String) -> String {
        guard var c = URLComponents(string: ws) else { return "http://127.0.0.1" }
        c.scheme = c.scheme == "wss" ? "https" : "http"
        c.path = ""
        c.query = nil
        return c.string ?? "http://127.0.0.1"
    }

    /// The variable names read here (documentation).
    public static let variables = [
        "GATEWAY_SWARM_HOST", "GATEWAY_SWARM_PORT", "GATEWAY_SWARM_PUBLIC_HOST", "GATEWAY_PUBLIC_HTTP_URL",
        "GATEWAY_TOKEN_MAX_REFRESH_FAILURES", "GATEWAY_TOKEN_CLOCK_SKEW", "GATEWAY_DISPATCHER_MAX_CONCURRENT",
        "GATEWAY_DISPATCHER_INFLIGHT_WEIGHT", "GATEWAY_DISPATCHER_LATENCY_WEIGHT", "GATEWAY_DISPATCHER_FAILURE_WEIGHT",
        "GATEWAY_DISPATCHER_REASSIGN_LAG", "GATEWAY_DISPATCHER_CB_THRESHOLD", "GATEWAY_DISPATCHER_CB_TIMEOUT_MS",
        "GATEWAY_REGISTRATION_WINDOW", "GATEWAY_MAX_PEERS", "GATEWAY_SWARM_MAX_CONNECTIONS_PER_PEER",
        "GATEWAY_REPLICATION_MAX_INFLIGHT_PER_PEER", "GATEWAY_PEER_REQUESTS_PER_MINUTE", "GATEWAY_ANNOUNCEMENT_TTL",
        "GATEWAY_AUDIT_LOG_PATH", "GATEWAY_AUDIT_PUBLISH_ATTEMPTS",
    ]

    /// Typed reads of raw environment text, with errors naming the variable.
    struct Reader {
        let env: [String: String]

        func string(_ name: String) throws -> String? {
            guard let raw = env[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }

        func int(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
            guard let s = try string(name) else { return nil }
            guard let v = Int(s) else { throw ConfigurationError(name, "expected an integer, got \"\(s)\"") }
            guard range.contains(v) else {
                throw ConfigurationError(name, "\(v) is out of range \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }

        func double(_ name: String) throws -> Double? {
            guard let s = try string(name) else { return nil }
            guard let v = Double(s), v.isFinite, v >= 0 else {
                throw ConfigurationError(name, "expected a non-negative number, got \"\(s)\"")
            }
            return v
        }

        func bool(_ name: String) throws -> Bool? {
            guard let s = try string(name) else { return nil }
            switch s.lowercased() {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: throw ConfigurationError(name, "expected true or false, got \"\(s)\"")
            }
        }
    }
}
