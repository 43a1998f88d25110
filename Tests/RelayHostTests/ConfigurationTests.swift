import Dispatcher
import Foundation
import NostrRelayServer
import Testing

@testable import RelayHost

@Suite("PeerPlaneConfiguration: defaults and validation")
struct PeerPlaneConfigurationTests {
    func load(_ env: [String: String]) async throws -> PeerPlaneConfiguration {
        let gateway = try await GatewayConfiguration.load(environment: env)
        return try PeerPlaneConfiguration.load(environment: env, gateway: gateway)
    }

    @Test("defaults: swarm on PORT+1 of the HTTP host, audit in the data directory, deployed dispatcher knobs")
    func defaults() async throws {
        let c = try await load(["PORT": "5000", "GATEWAY_RELAY_STORAGE": "/srv/gw"])
        #expect(c.swarmHost == "127.0.0.1" && c.swarmPort == 5001)
        #expect(c.publicHTTPURL == "http://127.0.0.1:5000")
        #expect(c.auditLogPath == "/srv/gw/audit.log")
        #expect(c.tokenPolicy.quarantineThreshold == 5)
        #expect(c.dispatcher == DispatcherConfig.default)
        #expect(c.dispatcherPolicy.circuitBreakerTimeoutMs == 60_000)
    }

    @Test("variables are read, aliases honoured, and bad values name their variable")
    func values() async throws {
        let c = try await load([
            "GATEWAY_SWARM_PORT": "0", "GATEWAY_TOKEN_MAX_REFRESH_FAILURES": "7", "GATEWAY_AUDIT_LOG_PATH": "off",
            "GATEWAY_DISPATCHER_MAX_CONCURRENT": "9", "GATEWAY_DISPATCHER_CB_TIMEOUT_MS": "5000",
            "GATEWAY_PUBLIC_URL": "wss://relay.example.org",
        ])
        #expect(c.swarmPort == 0)
        #expect(c.tokenPolicy.quarantineThreshold == 7)
        #expect(c.auditLogPath == nil)
        #expect(c.dispatcher.maxConcurrentPerPeer == 9)
        #expect(c.dispatcher.circuitBreakerTimeout == .milliseconds(5000))
        #expect(c.publicHTTPURL == "https://relay.example.org")
        for (variable, value) in [
            ("GATEWAY_SWARM_PORT", "http"), ("GATEWAY_TOKEN_MAX_REFRESH_FAILURES", "0"), ("GATEWAY_MAX_PEERS", "-1"),
            ("GATEWAY_PUBLIC_HTTP_URL", "ftp://x"), ("GATEWAY_AUDIT_PUBLISH_ATTEMPTS", "maybe"),
        ] {
            do {
                _ = try await load([variable: value])
                Issue.record("\(variable)=\(value) was accepted")
            } catch let e as ConfigurationError {
                #expect(e.variable == variable, "\(e)")
            }
        }
    }
}
