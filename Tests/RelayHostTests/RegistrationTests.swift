import Dispatcher
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HyperCrypto
import NIOCore
import PeerProtocol
import PeerWire
import SwarmTransport
import Testing
import TokenService

@testable import RelayHost

@Suite("RelayHost: registration over the swarm and over signed HTTP", .timeLimit(.minutes(2)))
struct RegistrationTests {
    @Test("a good swarm registration answers the relay coordinates, policies and a first token, and binds the peer")
    func goodSwarmRegistration() async throws {
        let gw = try await TestGateway.make()
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        let channel = try await peer.connect(gw.address)
        // The channel handshake carries the relay coordinates.
        #expect(channel.remoteHandshake?.hyperbeeKey == gw.log!.key.hex)
        #expect(channel.remotePublicKey == gw.swarmKey.publicKey)
        let lifecycle = gw.host.lifecycleEvents()

        let r = try await peer.register(timestamp: gw.clock.nowMilliseconds())
        #expect(r.statusCode == 200)
        let reply = try r.payload(RegistrationResponse.self)
        #expect(reply.hyperbee.hyperbeeKey == gw.log!.key.hex)
        #expect(reply.hyperbee.discoveryKey == gw.log!.discoveryKey.hex)
        #expect(reply.hyperbee.replicationTopic == gw.log!.discoveryKey.hex)
        #expect(reply.hyperbee.websocketUrl == "ws://127.0.0.1:4430")
        #expect(reply.hyperbee.defaultTokenTtl == 3600)
        #expect(reply.hyperbee.tokenQuarantineThreshold == 3)
        #expect(reply.hyperbee.dispatcher == DispatcherPolicy())
        #expect(reply.token.sequence == 1)
        let claims = try gw.host.tokens.verify(reply.token.token, peer: peer.key.publicKey, relay: gw.log!.key)
        #expect(claims.sub == peer.key.publicKey.hex)

        // Stored, live, in the dispatcher, announced to the hooks, audited.
        let record = try #require(try gw.host.store.record(peerKey: peer.key.publicKey.hex))
        #expect(record.relays.map(\.identifier) == ["public-relay"])
        #expect(record.lastRegisteredVia == "swarm")
        #expect(gw.host.livePeers.map(\.id) == [PeerID(peer.key.publicKey.hex)])
        #expect(gw.host.dispatcher.snapshot().peers.contains { $0.id == peer.key.publicKey.hex })
        var events = lifecycle.makeAsyncIterator()
        guard case .registered(let live, _)? = await events.next() else {
            Issue.record("expected a registered event")
            return
        }
        #expect(live.publicKey == peer.key.publicKey)
        let audit = gw.auditRecords()
        #expect(audit.contains { $0["event"] as? String == "registration" && $0["result"] as? String == "accepted" })
        #expect(audit.contains { $0["event"] as? String == "token.issue" })
        await peer.shutdown()
        await gw.shutdown()
    }

    @Test("a registration naming another key, a malformed one and a stale one are refused and change nothing")
    func badSwarmRegistrations() async throws {
        let gw = try await TestGateway.make()
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        let channel = try await peer.connect(gw.address)
        let other = Ed25519KeyPair.generate().publicKey.hex

        let forged = try await peer.register(timestamp: gw.clock.nowMilliseconds(), publicKey: other)
        #expect(forged.statusCode == 403)
        #expect(forged.errorBody?.reason == "key_mismatch")

        let malformed = try await channel.request(
            method: "POST", path: "/gateway/register", body: Array(#"{"version":1,"publicKey":"zz"}"#.utf8))
        #expect(malformed.statusCode == 400)
        #expect(malformed.errorBody?.reason == "malformed")

        let stale = try await peer.register(timestamp: gw.clock.nowMilliseconds() - 3_600_000)
        #expect(stale.statusCode == 400)
        #expect(stale.errorBody?.reason == "stale_timestamp")

        #expect(try gw.host.store.record(peerKey: peer.key.publicKey.hex) == nil)
        #expect(try gw.host.store.record(peerKey: other) == nil)
        #expect(try gw.host.tokens.state(peer: peer.key.publicKey, relay: gw.log!.key) == nil)
        #expect(gw.host.livePeers.isEmpty)
        #expect(gw.host.dispatcher.snapshot().peers.allSatisfy { $0.isGateway })
        let refused = gw.auditRecords().filter { $0["event"] as? String == "registration" }
        #expect(refused.count == 3 && refused.allSatisfy { $0["result"] as? String == "refused" })
        await peer.shutdown()
        await gw.shutdown()
    }

    @Test("HTTP registration: signed is accepted; a bad signature, a replayed nonce and a malformed body are refused")
    func httpRegistration() async throws {
        let gw = try await TestGateway.make()
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        let body = peer.registrationBody(timestamp: gw.clock.nowMilliseconds())
        let headers = SignedHTTPRequest.headers(
            method: "POST", path: "/gateway/register", body: body, keyPair: peer.key,
            timestamp: gw.clock.nowMilliseconds())
        @Sendable func fields(_ h: [String: String]) -> HTTPFields {
            var f = HTTPFields()
            for (k, v) in h { f[HTTPField.Name(k)!] = v }
            f[.contentType] = "application/json"
            return f
        }
        let issued = try await gw.application().test(.router) { client -> String in
            let token = try await client.execute(
                uri: "/gateway/register", method: .post, headers: fields(headers), body: ByteBuffer(bytes: body)
            ) { r -> String in
                #expect(r.status == .ok)
                let reply = try PayloadCodec.decode(RegistrationResponse.self, from: Array(buffer: r.body))
                #expect(reply.token.sequence == 1)
                return reply.token.token
            }
            // The same request again: the nonce was used.
            try await client.execute(
                uri: "/gateway/register", method: .post, headers: fields(headers), body: ByteBuffer(bytes: body)
            ) { r in
                #expect(r.status.code == 409)
                #expect(String(buffer: r.body).contains("replayed"))
            }
            // A body changed after signing.
            let tampered = peer.registrationBody(timestamp: gw.clock.nowMilliseconds() + 1)
            let h2 = SignedHTTPRequest.headers(
                method: "POST", path: "/gateway/register", body: body, keyPair: peer.key,
                timestamp: gw.clock.nowMilliseconds())
            try await client.execute(
                uri: "/gateway/register", method: .post, headers: fields(h2), body: ByteBuffer(bytes: tampered)
            ) { r in
                #expect(r.status == .unauthorized)
                #expect(String(buffer: r.body).contains("signature"))
            }
            // Signed by one key, registering another.
            let stranger = Ed25519KeyPair.generate()
            let h3 = SignedHTTPRequest.headers(
                method: "POST", path: "/gateway/register", body: body, keyPair: stranger,
                timestamp: gw.clock.nowMilliseconds())
            try await client.execute(
                uri: "/gateway/register", method: .post, headers: fields(h3), body: ByteBuffer(bytes: body)
            ) { r in #expect(r.status == .forbidden) }
            // Malformed, correctly signed.
            let junk = Array(#"{"version":1}"#.utf8)
            let h4 = SignedHTTPRequest.headers(
                method: "POST", path: "/gateway/register", body: junk, keyPair: peer.key,
                timestamp: gw.clock.nowMilliseconds())
            try await client.execute(
                uri: "/gateway/register", method: .post, headers: fields(h4), body: ByteBuffer(bytes: junk)
            ) { r in #expect(r.status == .badRequest) }
            // Outside the timestamp window.
            let h5 = SignedHTTPRequest.headers(
                method: "POST", path: "/gateway/register", body: body, keyPair: peer.key,
                timestamp: gw.clock.nowMilliseconds() - 3_600_000)
            try await client.execute(
                uri: "/gateway/register", method: .post, headers: fields(h5), body: ByteBuffer(bytes: body)
            ) { r in #expect(r.status == .unauthorized) }
            // The signed announcement is served and verifies.
            try await client.execute(uri: "/gateway/announcement", method: .get) { r in
                #expect(r.status == .ok)
                let a = try PayloadCodec.decode(DiscoveryAnnouncement.self, from: Array(buffer: r.body))
                try a.verify(nowMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
                #expect(a.gatewayId == gw.gatewayKey.publicKey.hex)
                #expect(
                    a.swarm
                        == SwarmEndpoint(
                            host: "127.0.0.1", port: gw.address.port, swarmPublicKey: gw.swarmKey.publicKey.hex))
                #expect(a.relayKey == gw.log!.key.hex)
            }
            // The gateway's swarm address is announced on the discovery topic.
            try await client.execute(uri: "/rendezvous/\(RelayHost.discoveryTopic.hex)", method: .get) { r in
                #expect(String(buffer: r.body).contains(gw.swarmKey.publicKey.hex))
            }
            return token
        }
        let record = try #require(try gw.host.store.record(peerKey: peer.key.publicKey.hex))
        #expect(record.registrations == 1)
        #expect(record.lastRegisteredVia == "http")
        // An HTTP-registered peer binds its swarm channel with its token (and only its own token).
        let channel = try await peer.connect(gw.address)
        #expect(gw.host.livePeers.isEmpty)
        let attachBody = Array(try PayloadCodec.encode(TokenRefreshRequest(token: issued)))
        let attached = try await channel.request(method: "POST", path: "/gateway/attach", body: attachBody)
        #expect(attached.statusCode == 200)
        #expect(gw.host.livePeers.map(\.publicKey) == [peer.key.publicKey])
        let other = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        let otherChannel = try await other.connect(gw.address)
        let stolen = try await otherChannel.request(method: "POST", path: "/gateway/attach", body: attachBody)
        #expect(stolen.statusCode == 403)
        #expect(gw.host.livePeers.count == 1)
        await other.shutdown()
        await peer.shutdown()
        await gw.shutdown()
    }

    @Test("heartbeats from a registered peer reach the dispatcher through the telemetry bus")
    func heartbeats() async throws {
        let gw = try await TestGateway.make()
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        let channel = try await peer.connect(gw.address)
        _ = try await peer.register(timestamp: gw.clock.nowMilliseconds())
        try await gw.publish(3)
        let hb = PeerProtocol.PeerHeartbeat(
            peerId: peer.key.publicKey.hex, relayKey: gw.log!.key.hex, reportedAt: gw.clock.nowMilliseconds(),
            inFlightJobs: 1, latencyMs: 7, hyperbeeLength: 1, hyperbeeContiguousLength: 1, hyperbeeLag: 0)
        try channel.send(.telemetry(hb))
        let id = peer.key.publicKey.hex
        #expect(
            await eventually {
                gw.host.dispatcher.snapshot().peers.first { $0.id == id }?.replicaLagBlocks
                    == Int64(gw.log!.length - 1)
            })
        #expect(gw.host.stats().peers.first?.knownLength == 1)
        #expect(gw.host.livePeer(PeerID(id))?.lastHeartbeat == hb)
        // A heartbeat naming another peer is ignored.
        var forged = hb
        forged.peerId = Ed25519KeyPair.generate().publicKey.hex
        try channel.send(.telemetry(forged))
        try await Task.sleep(for: .milliseconds(200))
        #expect(gw.host.dispatcher.snapshot().peers.count == 2)
        await peer.shutdown()
        // Disconnect: the peer leaves the dispatcher and the registry.
        #expect(await eventually { gw.host.livePeers.isEmpty })
        #expect(gw.host.dispatcher.snapshot().peers.allSatisfy { $0.isGateway })
        await gw.shutdown()
    }
}
