import Dispatcher
import Foundation
import HyperCrypto
import HyperLog
import PeerProtocol
import PeerWire
import SwarmTransport
import Testing
import TokenService

@testable import RelayHost

@Suite("RelayHost: replication serving, pause and resume", .timeLimit(.minutes(2)))
struct ReplicationServingTests {
    @Test("a registered peer replicates sparsely: it holds exactly the blocks it read, and follows the live tail")
    func sparse() async throws {
        let gw = try await TestGateway.make()
        try await gw.publish(20)
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        try await peer.connect(gw.address)
        let reply = try await peer.register(timestamp: gw.clock.nowMilliseconds()).payload(RegistrationResponse.self)
        let (replica, replicator) = try peer.replicate(relayKey: [UInt8](hex: reply.hyperbee.hyperbeeKey)!)
        #expect(await eventually { replica.length == gw.log!.length })
        let wanted: [UInt64] = [3, 11]
        for i in wanted {
            #expect(try await replicator.get(i) == (try gw.log!.get(i)))
        }
        let held = (0..<replica.length).filter { replica.has($0) }
        #expect(held == wanted)
        // Live: a new event upgrades the replica's length without a request.
        try await gw.publish(1)
        #expect(await eventually { replica.length == gw.log!.length })
        #expect((0..<replica.length).filter { replica.has($0) } == wanted)
        #expect(gw.host.stats().replicatingPeers == 1)
        await peer.shutdown()
        await gw.shutdown()
    }

    @Test("an unregistered peer gets no replication")
    func unregistered() async throws {
        let gw = try await TestGateway.make()
        try await gw.publish(5)
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        try await peer.connect(gw.address)
        let (replica, replicator) = try peer.replicate(relayKey: gw.log!.key)
        try await Task.sleep(for: .milliseconds(500))
        #expect(replica.length == 0)
        await #expect(throws: (any Error).self) { _ = try await replicator.get(0) }
        #expect(gw.host.stats().replicatingPeers == 0)
        await peer.shutdown()
        await gw.shutdown()
    }

    @Test("a replication peer that fails the capability check is disconnected and the failure is audited")
    func replicationFailure() async throws {
        let gw = try await TestGateway.make()
        try await gw.publish(2)
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        try await peer.connect(gw.address)
        _ = try await peer.register(timestamp: gw.clock.nowMilliseconds())
        let conn = try #require(peer.node.connections.first)
        let discoveryKey = gw.log!.discoveryKey
        try await conn.submit { mux in
            _ = mux.open(
                protocol: Wire.protocolName, id: discoveryKey,
                handshake: WireHandshake(capability: [UInt8](repeating: 0, count: 32)).compactEncoded)
        }
        #expect(await eventually { !conn.isActive })
        #expect(await eventually { gw.host.livePeers.isEmpty })
        let failures = gw.auditRecords().filter { $0["event"] as? String == "replication.failure" }
        #expect(
            failures.first?["reason"] as? String
                == "protomux: malformed frame (remote sent an invalid replication capability)")
        #expect(try gw.host.store.record(peerKey: peer.key.publicKey.hex)?.replicationFailures == 1)
        await peer.shutdown()
        await gw.shutdown()
    }

    @Test("pause stops serving and sends a signed pause-replication frame; resume restarts it with resume-replication")
    func pauseResume() async throws {
        let gw = try await TestGateway.make()
        try await gw.publish(10)
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        let channel = try await peer.connect(gw.address)
        let frames = channel.messages([.control])
        _ = try await peer.register(timestamp: gw.clock.nowMilliseconds())
        let (replica, replicator) = try peer.replicate(relayKey: gw.log!.key)
        #expect(await eventually { replica.length == gw.log!.length })
        _ = try await replicator.get(1)

        let pauseSeq = try gw.host.pauseReplication(reason: "maintenance")
        var it = frames.makeAsyncIterator()
        guard case .control(let pause)? = await it.next() else {
            Issue.record("no pause frame")
            return
        }
        let accepted = try peer.frameGuard.accept(pause.encoded())
        #expect(accepted.type == "pause-replication")
        #expect(accepted.sequence == pauseSeq)
        let notice = try PayloadCodec.decode(ReplicationControlNotice.self, from: accepted.payload)
        #expect(notice.reason == "maintenance")
        #expect(notice.relayKey == gw.log!.key.hex)
        #expect(await eventually { gw.host.stats().replicatingPeers == 0 })
        await #expect(throws: (any Error).self) { _ = try await replicator.get(5) }
        #expect(!replica.has(5))
        #expect(gw.host.stats().replicationPaused == "maintenance")
        // A replayed frame is refused by the peer's guard.
        #expect(throws: ControlFrameRejection.self) { try peer.frameGuard.accept(pause.encoded()) }

        let resumeSeq = try gw.host.resumeReplication(reason: "done")
        guard case .control(let resume)? = await it.next() else {
            Issue.record("no resume frame")
            return
        }
        #expect(try peer.frameGuard.accept(resume.encoded()).type == "resume-replication")
        #expect(resumeSeq > pauseSeq)
        #expect(await eventually { gw.host.stats().replicatingPeers == 1 })
        #expect(try await replicator.get(5) == (try gw.log!.get(5)))
        let audit = gw.auditRecords().compactMap { $0["event"] as? String }
        #expect(audit.contains("replication.pause") && audit.contains("replication.resume"))
        await peer.shutdown()
        await gw.shutdown()
    }
}

@Suite("RelayHost: token refresh, quarantine and revocation", .timeLimit(.minutes(2)))
struct TokenLifecycleTests {
    @Test("refresh is refused before the window (409), accepted inside it; repeated failures quarantine the peer")
    func refreshWindow() async throws {
        let gw = try await TestGateway.make(quarantineThreshold: 3)
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        let channel = try await peer.connect(gw.address)
        let first = try await peer.register(timestamp: gw.clock.nowMilliseconds()).payload(RegistrationResponse.self)
            .token
        let body = Array(try PayloadCodec.encode(TokenRefreshRequest(token: first.token)))
        let early = try await channel.request(method: "POST", path: "/token/refresh", body: body)
        #expect(early.statusCode == 409)
        #expect(early.errorBody?.reason == "refresh_too_early")

        gw.clock.advance(seconds: 3600 - 200)  // inside the 300 s window
        let ok = try await channel.request(method: "POST", path: "/token/refresh", body: body)
        #expect(ok.statusCode == 200)
        let second = try JSONDecoder().decode(IssuedToken.self, from: Data(ok.body ?? []))
        #expect(second.sequence == 2)
        #expect(gw.host.livePeers.first?.tokenSequence == 2)
        // The old token is now stale: refusing it counts toward quarantine (threshold 3, one failure so far).
        let stale = try await channel.request(method: "POST", path: "/token/refresh", body: body)
        #expect(stale.statusCode == 409)
        #expect(stale.errorBody?.reason == "stale_sequence")
        _ = try await channel.request(method: "POST", path: "/token/refresh", body: body)
        let closed = Task { await channel.waitUntilClosed() }
        let third = try await channel.request(method: "POST", path: "/token/refresh", body: body)
        #expect(third.statusCode == 403 || third.statusCode == 409)
        _ = await closed.value
        #expect(try gw.host.tokens.state(peer: peer.key.publicKey, relay: gw.log!.key)?.quarantinedAt != nil)
        #expect(gw.host.livePeers.isEmpty)
        #expect(gw.auditRecords().contains { $0["event"] as? String == "token.quarantine" })
        #expect(gw.host.peerSummaries().first?.quarantined == true)
        await peer.shutdown()
        await gw.shutdown()
    }

    @Test(
        "revocation: signed frame checked by the peer's guard, dispatcher drops the peer, refresh and registration refused, across a restart"
    )
    func revocation() async throws {
        let scratch = Scratch()
        let gatewayKey = Ed25519KeyPair.generate()
        let swarmKey = Ed25519KeyPair.generate()
        let gw = try await TestGateway.make(scratch: scratch, gatewayKey: gatewayKey, swarmKey: swarmKey)
        let peer = TestPeer(gatewayKey: gatewayKey.publicKey)
        let channel = try await peer.connect(gw.address)
        let frames = channel.messages([.control])
        let token = try await peer.register(timestamp: gw.clock.nowMilliseconds()).payload(RegistrationResponse.self)
            .token
        #expect(gw.host.dispatcher.snapshot().peers.contains { $0.id == peer.key.publicKey.hex })
        let lifecycle = gw.host.lifecycleEvents()

        let outcome = try gw.host.revoke(peer: peer.key.publicKey, reason: "compromised")
        #expect(outcome.channelsNotified == 1)
        var it = frames.makeAsyncIterator()
        guard case .control(let frame)? = await it.next() else {
            Issue.record("no revocation frame")
            return
        }
        let accepted = try peer.frameGuard.accept(frame.encoded())
        #expect(accepted.type == "token-revoked")
        #expect(accepted.sequence == outcome.frameSequence)
        let notice = try PayloadCodec.decode(TokenRevokedNotice.self, from: accepted.payload)
        #expect(notice.peerKey == peer.key.publicKey.hex)
        #expect(notice.reason == "compromised")
        #expect(notice.sequence == token.sequence)
        // A forged copy (bit flipped) and a replay are refused.
        var bytes = frame.encoded()
        bytes[bytes.count - 1] ^= 1
        #expect(throws: ControlFrameRejection.self) { try peer.frameGuard.accept(bytes) }
        #expect(throws: ControlFrameRejection.self) { try peer.frameGuard.accept(frame.encoded()) }
        // Removed from the dispatcher at once; the channel closes.
        #expect(!gw.host.dispatcher.snapshot().peers.contains { $0.id == peer.key.publicKey.hex })
        var events = lifecycle.makeAsyncIterator()
        guard case .revoked(let id, _, _)? = await events.next() else {
            Issue.record("no revoked event")
            return
        }
        #expect(id.rawValue == peer.key.publicKey.hex)
        _ = await channel.waitUntilClosed()
        // Later refreshes and registrations are refused.
        gw.clock.advance(seconds: 3500)
        let refreshBody = Array(try PayloadCodec.encode(TokenRefreshRequest(token: token.token)))
        #expect(throws: PeerPlaneRefusal.self) {
            try gw.host.refresh(body: refreshBody, peer: peer.key.publicKey, via: "test")
        }
        #expect(throws: (any Error).self) {
            try gw.host.tokens.verify(token.token, peer: peer.key.publicKey, relay: gw.log!.key)
        }
        await peer.shutdown()
        await gw.shutdown()

        // Restart over the same data: still revoked.
        let gw2 = try await TestGateway.make(
            scratch: scratch, gatewayKey: gatewayKey, swarmKey: swarmKey, clock: gw.clock)
        let peer2 = TestPeer(gatewayKey: gatewayKey.publicKey, key: peer.key)
        try await peer2.connect(gw2.address)
        let again = try await peer2.register(timestamp: gw2.clock.nowMilliseconds())
        #expect(again.statusCode == 403)
        #expect(again.errorBody?.reason == "revoked")
        #expect(throws: PeerPlaneRefusal.self) {
            try gw2.host.refresh(body: refreshBody, peer: peer.key.publicKey, via: "test")
        }
        #expect(gw2.host.peerSummaries().first { $0.peerKey == peer.key.publicKey.hex }?.revokedUntil != nil)
        // The frame sequence keeps increasing across the restart.
        #expect(try gw2.host.pauseReplication(reason: "x") > outcome.frameSequence)
        let audit = gw2.auditRecords().compactMap { $0["event"] as? String }
        #expect(audit.contains("token.revoke"))
        await peer2.shutdown()
        await gw2.shutdown()
    }
}
