import Foundation
import HyperCrypto
import LMDBKit
import PeerProtocol
import Testing
import TokenService

@Suite("LMDB token store across restarts")
struct TokenPersistenceTests {
    @Test("revocations, sequences, registrations and the control-frame counter survive a restart")
    func restart() throws {
        let dir = tempDirectory("tokens")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let clock = ManualClock()
        let gateway = try Ed25519KeyPair(seed: [UInt8](repeating: 0x11, count: 32))
        let peer = [UInt8](repeating: 0x22, count: 32)
        let peer2 = [UInt8](repeating: 0x23, count: 32)
        let relay = [UInt8](repeating: 0xaa, count: 32)
        let revokedToken: IssuedToken
        let liveToken: IssuedToken
        do {
            let env = try LMDBEnvironment(path: dir)
            let service = TokenService(keyPair: gateway, store: try LMDBTokenStore(environment: env), clock: clock)
            revokedToken = try service.issue(peer: peer, relay: relay)
            liveToken = try service.issue(peer: peer2, relay: relay)
            let frame = try service.revoke(peer: peer, relay: relay, reason: "test")
            #expect(frame.sequence == 1)
            env.close()
        }
        clock.advance(seconds: 600)
        let env = try LMDBEnvironment(path: dir)
        let store = try LMDBTokenStore(environment: env)
        let service = TokenService(keyPair: gateway, store: store, clock: clock)
        #expect(tokenError { try service.verify(revokedToken.token, peer: peer, relay: relay) }?.reason == "revoked")
        #expect(try service.verify(liveToken.token, peer: peer2, relay: relay).seq == 1)
        #expect(try store.registration(peerKey: peer.hex)?.relayKeys == [relay.hex])
        #expect(try store.revocations().count == 1)
        // Sequences continue where they stopped: never reused after a restart.
        #expect(try service.issue(peer: peer, relay: relay).sequence == 2)
        // Revoke the new token (expires 600 s later than the first revoked one).
        let frame = try service.revoke(peer: peer, relay: relay, reason: "again")
        #expect(frame.sequence == 2)
        // Purge respects the original expiry across restarts.
        #expect(try service.purgeExpiredRevocations() == 0)
        clock.advance(seconds: 3600)
        #expect(try service.purgeExpiredRevocations() == 1)
        #expect(try store.revocations().map(\.sequence) == [2])
    }

    @Test("the LMDB store and the in-memory store behave the same on one scripted history")
    func parity() throws {
        let dir = tempDirectory("tokens-parity")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = try LMDBEnvironment(path: dir)
        let stores: [any TokenStore] = [InMemoryTokenStore(), try LMDBTokenStore(environment: env)]
        var outcomes: [[String]] = []
        for store in stores {
            let h = Harness(store: store)
            var log: [String] = []
            let t1 = try h.service.issue(peer: h.peer, relay: h.relay)
            log.append("issue \(t1.sequence)")
            log.append(tokenError { try h.service.refresh(t1.token, peer: h.peer, relay: h.relay) }?.reason ?? "ok")
            h.clock.advance(seconds: 3400)
            let t2 = try h.service.refresh(t1.token, peer: h.peer, relay: h.relay)
            log.append("refresh \(t2.sequence)")
            log.append(tokenError { try h.service.verify(t1.token, peer: h.peer, relay: h.relay) }?.reason ?? "ok")
            log.append("frame \(try h.service.revoke(peer: h.peer, relay: h.relay, reason: "r").sequence)")
            log.append(tokenError { try h.service.verify(t2.token, peer: h.peer, relay: h.relay) }?.reason ?? "ok")
            log.append("issue \(try h.service.issue(peer: h.peer, relay: h.relay).sequence)")
            outcomes.append(log)
        }
        #expect(
            outcomes[0] == [
                "issue 1", "refresh_too_early", "refresh 2", "stale_sequence", "frame 1", "revoked", "issue 3",
            ])
        #expect(outcomes[0] == outcomes[1])
    }

    @Test("a damaged control-frame counter record is an error, never a restart from 1")
    func damagedCounter() throws {
        let dir = tempDirectory("tokens-damaged")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = try LMDBEnvironment(path: dir)
        let store = try LMDBTokenStore(environment: env)
        #expect(try store.nextControlFrameSequence() == 1)
        let meta = try env.database(named: "token-meta")
        try env.write { txn in try txn.put(meta, key: Array("control-frame-sequence".utf8), value: [1, 2, 3]) }
        #expect(throws: TokenError.self) { try store.nextControlFrameSequence() }
    }
}

@Suite("Audit records and counters")
struct TokenAuditTests {
    @Test("issue, refresh, revoke and rejections are logged with peer and reason, and counted")
    func audit() throws {
        let h = Harness()
        let t1 = try h.service.issue(peer: h.peer, relay: h.relay)
        h.clock.advance(seconds: 3400)
        _ = try h.service.refresh(t1.token, peer: h.peer, relay: h.relay)
        _ = try h.service.revoke(peer: h.peer, relay: h.relay, reason: "operator")
        _ = tokenError { try h.service.verify(t1.token, peer: h.peer, relay: h.relay) }
        _ = tokenError { try h.service.verify(t1.token, peer: h.peer, relay: h.otherRelay) }

        let issue = try #require(h.logs.events("token.issue").first)
        #expect(issue.metadata["peer"] == h.peer.hex)
        #expect(issue.metadata["relay"] == h.relay.hex)
        #expect(issue.metadata["sequence"] == "1")
        #expect(h.logs.events("token.refresh").first?.metadata["sequence"] == "2")
        let revoke = try #require(h.logs.events("token.revoke").first)
        #expect(revoke.metadata["reason"] == "operator")
        #expect(revoke.metadata["frameSequence"] == "1")
        let rejected = h.logs.events("token.rejected")
        #expect(rejected.map { $0.metadata["reason"] } == ["stale_sequence", "wrong_relay"])
        #expect(
            rejected.allSatisfy {
                $0.metadata["peer"] == h.peer.hex && $0.metadata["operation"] == "verify" && $0.level == .warning
            })

        #expect(h.counter(TokenAudit.issuesCounter) == 1)
        #expect(h.counter(TokenAudit.refreshCounter) == 1)
        #expect(h.counter(TokenAudit.revocationsCounter) == 1)
        #expect(h.counter(TokenAudit.rejectionsCounter, [("operation", "verify"), ("reason", "stale_sequence")]) == 1)
        #expect(h.counter(TokenAudit.rejectionsCounter, [("operation", "verify"), ("reason", "wrong_relay")]) == 1)
        // Tokens themselves never appear in the logs.
        #expect(
            !h.logs.all.contains { r in
                r.metadata.values.contains { $0.contains(t1.token) } || r.message.contains(t1.token)
            })
    }
}

@Suite("Token policy")
struct TokenPolicyTests {
    @Test("defaults: TTL 3600 s, refresh window 300 s, quarantine after 5, skew 30 s")
    func defaults() throws {
        let p = try TokenPolicy(environment: [:])
        #expect(p == TokenPolicy.standard)
        #expect(
            p.ttlSeconds == 3600 && p.refreshWindowSeconds == 300 && p.quarantineThreshold == 5
                && p.clockSkewSeconds == 30)
    }

    @Test("environment variables override the defaults and bad values are typed errors")
    func environment() throws {
        let p = try TokenPolicy(environment: [
            "GATEWAY_DEFAULT_TOKEN_TTL": "900", "GATEWAY_TOKEN_REFRESH_WINDOW": "120",
            "GATEWAY_TOKEN_QUARANTINE_THRESHOLD": "2", "GATEWAY_TOKEN_CLOCK_SKEW": "5",
        ])
        #expect(
            p.ttlSeconds == 900 && p.refreshWindowSeconds == 120 && p.quarantineThreshold == 2
                && p.clockSkewSeconds == 5)
        #expect(
            throws: TokenPolicyError.invalid(
                variable: "GATEWAY_DEFAULT_TOKEN_TTL", value: "-1", reason: "must be a non-negative integer")
        ) {
            try TokenPolicy(environment: ["GATEWAY_DEFAULT_TOKEN_TTL": "-1"])
        }
        #expect(throws: TokenPolicyError.self) {
            try TokenPolicy(environment: ["GATEWAY_TOKEN_REFRESH_WINDOW": "3600"])
        }
        #expect(throws: TokenPolicyError.self) {
            try TokenPolicy(environment: ["GATEWAY_TOKEN_QUARANTINE_THRESHOLD": "0"])
        }
        #expect(throws: TokenPolicyError.self) { try TokenPolicy(environment: ["GATEWAY_DEFAULT_TOKEN_TTL": "10"]) }
        #expect(throws: TokenPolicyError.self) { try TokenPolicy(environment: ["GATEWAY_TOKEN_CLOCK_SKEW": "abc"]) }
    }

    @Test("a custom TTL and window drive issue and refresh")
    func custom() throws {
        let h = Harness(policy: try TokenPolicy(ttlSeconds: 120, refreshWindowSeconds: 20))
        let t = try h.service.issue(peer: h.peer, relay: h.relay)
        #expect(t.expiresAt - t.issuedAt == 120 && t.refreshAfter == t.expiresAt - 20)
        h.clock.advance(seconds: 99)
        #expect(
            tokenError { try h.service.refresh(t.token, peer: h.peer, relay: h.relay) }?.reason == "refresh_too_early")
        h.clock.advance(seconds: 1)
        #expect(try h.service.refresh(t.token, peer: h.peer, relay: h.relay).sequence == 2)
    }
}

@Suite("Registration reply")
struct RegistrationReplyTests {
    @Test("the reply built from the service's policy and first token passes the shared validator")
    func reply() throws {
        let h = Harness(policy: try TokenPolicy(ttlSeconds: 1800, refreshWindowSeconds: 120, quarantineThreshold: 4))
        let token = try h.service.issue(peer: h.peer, relay: h.relay)
        let reply = RegistrationResponse(
            hyperbee: RelayAssignment(
                hyperbeeKey: h.relay, discoveryKey: [UInt8](repeating: 1, count: 32),
                replicationTopic: [UInt8](repeating: 2, count: 32), websocketUrl: "wss://gw.example.org/relay",
                tokenPolicy: h.service.policy, dispatcher: DispatcherPolicy()),
            token: token)
        let decoded = try PayloadCodec.decode(RegistrationResponse.self, from: try PayloadCodec.encode(reply))
        #expect(decoded.hyperbee.defaultTokenTtl == 1800)
        #expect(decoded.hyperbee.tokenRefreshWindowSeconds == 120)
        #expect(decoded.hyperbee.tokenQuarantineThreshold == 4)
        #expect(try h.service.verify(decoded.token.token, peer: h.peer, relay: h.relay).seq == 1)
    }
}
