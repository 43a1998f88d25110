import Configuration
import Foundation
import NostrRelay
import Testing

@testable import NostrRelayServer

@Suite("Gateway configuration")
struct GatewayConfigurationTests {
    let admin = String(repeating: "ab", count: 32)

    func load(_ env: [String: String], file: String? = nil) async throws -> GatewayConfiguration {
        try await GatewayConfiguration.load(environment: env, configFile: file)
    }

    func error(_ env: [String: String]) async -> ConfigurationError? {
        do {
            _ = try await load(env)
            return nil
        } catch let e as ConfigurationError {
            return e
        } catch {
            return nil
        }
    }

    @Test("with no configuration a newcomer on loopback can publish: open policy, 127.0.0.1:4430, ./data")
    func defaults() async throws {
        let c = try await load([:])
        #expect(c.host == "127.0.0.1")
        #expect(c.port == 4430)
        #expect(c.storagePath == "./data")
        #expect(c.writePolicy == .open && c.writePolicyIsDefault)
        #expect(!c.featureHyperbeeRelay && !c.featureRelayDispatcher && !c.featureRelayTokenEnforcement)
        #expect(c.defaultTokenTTLSeconds == 3600 && c.tokenRefreshWindowSeconds == 300)
        #expect(c.relayURL == "ws://127.0.0.1:4430")
        #expect(c.makeWritePolicy() is OpenWritePolicy)
    }

    @Test("an admin key switches the default policy to admins and authenticated peers")
    func adminDefault() async throws {
        let c = try await load(["GATEWAY_RELAY_ADMIN_PUBLIC_KEY": admin.uppercased() + ", " + admin])
        #expect(c.adminPublicKeys == [admin])
        #expect(c.writePolicy == .adminsAndAuthenticatedPeers)
        #expect(c.makeWritePolicy() is AdminsAndAuthenticatedPeersWritePolicy)
        #expect(c.relayConfiguration().pubkey == admin)
    }

    @Test("design names are read: PORT, storage, feature flags, token TTL and refresh window")
    func designNames() async throws {
        let c = try await load([
            "PORT": "9000", "GATEWAY_RELAY_STORAGE": "/tmp/x", "GATEWAY_FEATURE_HYPERBEE_RELAY": "true",
            "GATEWAY_FEATURE_RELAY_DISPATCHER": "1", "GATEWAY_FEATURE_RELAY_TOKEN_ENFORCEMENT": "yes",
            "GATEWAY_DEFAULT_TOKEN_TTL": "7200", "GATEWAY_TOKEN_REFRESH_WINDOW": "600",
            "GATEWAY_RELAY_MAX_MESSAGE_BYTES": "65536", "GATEWAY_RATELIMIT_ENABLED": "false",
            "GATEWAY_PUBLIC_URL": "wss://relay.example",
        ])
        #expect(c.port == 9000 && c.storagePath == "/tmp/x")
        #expect(c.featureHyperbeeRelay && c.featureRelayDispatcher && c.featureRelayTokenEnforcement)
        #expect(c.defaultTokenTTLSeconds == 7200 && c.tokenRefreshWindowSeconds == 600)
        let r = c.relayConfiguration()
        #expect(r.maxMessageBytes == 65536)
        #expect(r.eventsPerIP.isUnlimited && r.eventsPerPubkey.isUnlimited && r.queriesPerIP.isUnlimited)
        #expect(r.relayURL == "wss://relay.example")
        #expect(r.validationErrors().isEmpty)
    }

    @Test(
        "malformed values are refused with the variable's name",
        arguments: [
            ("PORT", "http", "expected an integer"),
            ("PORT", "70000", "out of range"),
            ("GATEWAY_FEATURE_HYPERBEE_RELAY", "maybe", "expected true or false"),
            ("GATEWAY_RELAY_ADMIN_PUBLIC_KEY", "npub1abc", "64-character hex"),
            ("GATEWAY_RELAY_WRITE_POLICY", "everyone", "unknown policy"),
            ("GATEWAY_TOKEN_REFRESH_WINDOW", "3600", "shorter than GATEWAY_DEFAULT_TOKEN_TTL"),
            ("GATEWAY_PUBLIC_URL", "http://x", "ws://"),
            ("GATEWAY_METRICS_PATH", "/health", "absolute path"),
            ("GATEWAY_RELAY_AUTH", "sometimes", "unknown mode"),
            ("GATEWAY_RELAY_EVENTS_PER_IP_RATE", "-1", "non-negative"),
            ("GATEWAY_LOG_LEVEL", "loud", "unknown level"),
        ])
    func malformed(variable: String, value: String, message: String) async throws {
        let e = try #require(await error([variable: value]))
        #expect(e.variable == variable)
        #expect(e.message.contains(message), "\(e)")
    }

    @Test("a restrictive policy without keys names the missing variable")
    func policyWithoutKeys() async throws {
        let admins = try #require(await error(["GATEWAY_RELAY_WRITE_POLICY": "admins"]))
        #expect(admins.variable == "GATEWAY_RELAY_ADMIN_PUBLIC_KEY" && admins.message.contains("at least one admin"))
        let allow = try #require(await error(["GATEWAY_RELAY_WRITE_POLICY": "allow-list"]))
        #expect(
            allow.variable == "GATEWAY_RELAY_ALLOWED_PUBLIC_KEYS" && allow.message.contains("at least one public key"))
        let noAuth = try #require(
            await error([
                "GATEWAY_RELAY_ADMIN_PUBLIC_KEY": admin, "GATEWAY_RELAY_AUTH": "disabled",
            ]))
        #expect(noAuth.variable == "GATEWAY_RELAY_AUTH")
    }

    @Test("a JSON file supplies values and the environment overrides it")
    func jsonFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("gw-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let json = #"{"port": 5000, "gateway": {"relay": {"storage": "/srv/relay", "name": "from file"}}}"#
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        let fromFile = try await load([:], file: path)
        #expect(fromFile.port == 5000 && fromFile.storagePath == "/srv/relay" && fromFile.relayName == "from file")
        let overridden = try await load(["PORT": "6000", "GATEWAY_CONFIG_FILE": path])
        #expect(overridden.port == 6000 && overridden.storagePath == "/srv/relay")
        let missing = await error(["GATEWAY_CONFIG_FILE": path + ".missing"])
        #expect(missing?.variable == "GATEWAY_CONFIG_FILE")
    }
}
