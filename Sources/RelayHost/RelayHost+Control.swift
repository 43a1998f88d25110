import Dispatcher
import Foundation
import HyperCrypto
import NIOCore
import PeerProtocol
import PeerWire
import SwarmTransport
import Telemetry
import TokenService

/// What a revocation did.
public struct RevocationOutcome: Codable, Sendable, Equatable {
    public var peer: String
    public var tokenId: String
    public var tokenSequence: UInt64
    /// Sequence of the signed `token-revoked` frame.
    public var frameSequence: UInt64
    /// Swarm channels the frame was sent on.
    public var channelsNotified: Int
    /// Websocket sessions that used one of the peer's tokens, sent the frame and closed.
    public var websocketsClosed: Int
    /// Until when later registrations and refreshes are refused (the token's expiry, Unix seconds).
    public var refusedUntil: UInt64
}

extension RelayHost {
    // MARK: revocation

    /// Revokes the peer's token: the store records the revocation (until the token's expiry, across restarts), the
    /// signed `token-revoked` frame goes to the peer's channels and to every websocket session that used one of its
    /// tokens (those close with 4403 at once), the peer leaves the dispatcher, and its channels close.
    public func revoke(peer: [UInt8], reason: String) throws -> RevocationOutcome {
        guard let log else { throw PeerPlaneError.relayNotHosted }
        let hex = peer.hex
        let frame = try tokens.revoke(peer: peer, relay: log.key, reason: reason)
        let notice = try PayloadCodec.decode(TokenRevokedNotice.self, from: frame.payload)
        let expiry = try tokens.state(peer: peer, relay: log.key)?.expiresAt ?? clock.nowSeconds()
        audit.record(
            "token.revoke",
            [
                "peer": .string(hex), "tokenId": .string(notice.tokenId), "sequence": .int(Int64(notice.sequence)),
                "frameSequence": .int(Int64(frame.sequence)), "reason": .string(notice.reason),
            ])
        // Channels: the registered one and any other connection of the same key.
        let (sessions, websockets, wasRegistered) = state.withLock { s -> ([PeerWireSession], [WebsocketEntry], Bool) in
            let chans = s.sessions.values.filter { $0.connection.remotePublicKey == peer }.map(\.session)
            let ws = s.websockets.filter { $0.value.peer == hex }
            for k in ws.keys { s.websockets[k] = nil }
            let was = s.registered.removeValue(forKey: hex) != nil
            return (chans, Array(ws.values), was)
        }
        var notified = 0
        for session in sessions where (try? session.send(.control(frame))) != nil { notified += 1 }
        let text = Self.websocketRevocationText(frame, notice)
        for w in websockets { w.close(text, "token revoked: \(notice.reason)") }
        metrics.websocketErrors(stage: "token_revoked", by: websockets.count)
        metrics.activePeers.record(state.withLock { $0.registered.count })
        let effects = (try? dispatcher.peerLost(peer: PeerID(hex), reason: .tokenRevoked)) ?? []
        publishEffects(effects)
        if wasRegistered || !effects.isEmpty { publish(.revoked(PeerID(hex), reason: notice.reason, effects: effects)) }
        // Give the frame a moment on the wire, then end the peer's connections (replication stops with them).
        for session in sessions {
            let conn = session.connection
            conn.eventLoop.scheduleTask(in: .milliseconds(250)) { conn.close() }
        }
        logger.notice(
            "peer token revoked",
            metadata: [
                "peer": "\(hex.prefix(16))", "frameSequence": "\(frame.sequence)", "websockets": "\(websockets.count)",
            ])
        return RevocationOutcome(
            peer: hex, tokenId: notice.tokenId, tokenSequence: notice.sequence, frameSequence: frame.sequence,
            channelsNotified: notified, websocketsClosed: websockets.count, refusedUntil: expiry)
    }

    /// The websocket text carrying a revocation: `["TOKEN","REVOKED",{reason, sequence, tokenId, frame}]` with the
    /// signed control frame in base64url (verifiable with the gateway key from the announcement).
    static func websocketRevocationText(_ frame: ControlFrame, _ notice: TokenRevokedNotice) -> String {
        let object: [String: Any] = [
            "reason": notice.reason, "sequence": frame.sequence, "tokenId": notice.tokenId,
            "frame": Base64URL.encode(frame.encoded()),
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: ["TOKEN", "REVOKED", object], options: [.sortedKeys]))
            ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Remembers a websocket session bound to a peer's token; `close` sends the frame text and closes it.
    func trackWebsocket(peer: String, tokenId: String, close: @escaping @Sendable (String, String) -> Void) -> UInt64 {
        state.withLock { s in
            let id = s.nextWebsocket
            s.nextWebsocket += 1
            s.websockets[id] = WebsocketEntry(peer: peer, tokenId: tokenId, close: close)
            return id
        }
    }

    func untrackWebsocket(_ id: UInt64) {
        _ = state.withLock { $0.websockets.removeValue(forKey: id) }
    }

    // MARK: replication pause / resume

    /// Whether replication is paused, and why.
    public var replicationPaused: String? { state.withLock { $0.paused } }

    /// Stops serving the relay log to every peer (persisted) and tells the registered peers why with a signed
    /// `pause-replication` frame. Returns the frame's sequence.
    @discardableResult
    public func pauseReplication(reason: String) throws -> UInt64 {
        guard let log else { throw PeerPlaneError.relayNotHosted }
        try store.setReplicationPause(reason)
        // Keep the stopped replicator alive: its peers' channel callbacks still reach it (unowned) while closing.
        let stopping = hub.replicator(for: log.discoveryKey)
        state.withLock { s in
            s.paused = reason
            if let stopping { s.retiredReplicators.append(stopping) }
        }
        hub.remove(discoveryKey: log.discoveryKey)
        let frame = try tokens.signControlFrame(
            .pauseReplication,
            payload: ReplicationControlNotice(relayKey: log.key.hex, reason: String(reason.prefix(256))))
        broadcast(frame)
        audit.record("replication.pause", ["reason": .string(reason), "frameSequence": .int(Int64(frame.sequence))])
        logger.notice("replication paused", metadata: ["reason": "\(reason)"])
        return frame.sequence
    }

    /// Serves the relay log again to every registered peer and sends a signed `resume-replication` frame.
    @discardableResult
    public func resumeReplication(reason: String) throws -> UInt64 {
        guard let log else { throw PeerPlaneError.relayNotHosted }
        try store.setReplicationPause(nil)
        state.withLock { $0.paused = nil }
        if hub.replicator(for: log.discoveryKey) == nil {
            // Attaches to every connection the hub knows: the registered peers' ones.
            hub.add(log, maxInflightPerPeer: configuration.replicationMaxInflightPerPeer)
        }
        for p in state.withLock({ Array($0.registered.values) }) {
            let hub = self.hub
            let conn = p.connection
            conn.eventLoop.execute { hub.attach(conn) }
        }
        let frame = try tokens.signControlFrame(
            .resumeReplication,
            payload: ReplicationControlNotice(relayKey: log.key.hex, reason: String(reason.prefix(256))))
        broadcast(frame)
        audit.record("replication.resume", ["reason": .string(reason), "frameSequence": .int(Int64(frame.sequence))])
        logger.notice("replication resumed", metadata: ["reason": "\(reason)"])
        return frame.sequence
    }

    /// Sends a control frame to every registered peer.
    func broadcast(_ frame: ControlFrame) {
        for p in state.withLock({ Array($0.registered.values) }) { try? p.session.send(.control(frame)) }
    }

    // MARK: telemetry

    /// A heartbeat from a registered peer: checked against its key and our relay, then published on the bus (the
    /// dispatcher consumes it there) with the peer's replication progress.
    func heartbeat(_ hb: PeerProtocol.PeerHeartbeat, from hex: String) {
        guard hb.peerId.lowercased() == hex else {
            logger.notice("ignoring a heartbeat naming another peer", metadata: ["peer": "\(hex.prefix(16))"])
            return
        }
        guard let log, hb.relayKey.lowercased() == log.key.hex else { return }
        state.withLock { s in
            s.registered[hex]?.heartbeat = hb
            s.registered[hex]?.heartbeatAt = clock.nowSeconds()
        }
        let gatewayLength = log.length
        let lag = gatewayLength > hb.hyperbeeLength ? gatewayLength - hb.hyperbeeLength : 0
        telemetry.publish(
            PeerLoadReport(
                peerID: hex, latencyMs: hb.latencyMs, inFlightJobs: Int(clamping: hb.inFlightJobs),
                failureRate: hb.failureRate, replicaLagBlocks: Int64(clamping: max(lag, hb.hyperbeeLag)),
                queueDepth: Int(clamping: hb.queueDepth)))
        telemetry.publish(
            ReplicationProgress(peerID: hex, contiguousLength: hb.hyperbeeLength, remoteLength: gatewayLength))
        metrics.replicationLag(peer: hex, blocks: Int64(clamping: max(lag, hb.hyperbeeLag)))
    }

    /// Feeds load reports from the bus into the dispatcher.
    func consumeLoadReports() async {
        for await report in telemetry.subscribe(PeerLoadReport.self) {
            guard state.withLock({ $0.registered[report.peerID] != nil }) else { continue }
            if let effects = try? dispatcher.heartbeat(Dispatcher.PeerHeartbeat(report)) { publishEffects(effects) }
        }
    }

    /// Every second: dispatcher tick and queue-depth gauge; every 30 s: token sweep (enforcement) and metadata.
    func periodic() async {
        var n = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            if Task.isCancelled { return }
            publishEffects(dispatcher.tick())
            metrics.queueDepth.record(dispatcher.withCore { $0.queuedCount })
            n += 1
            if n % 30 == 0 {
                sweepExpiredTokens()
                _ = try? tokens.purgeExpiredRevocations()
                writeMetadata()
            }
        }
    }

    /// With enforcement on, a registered peer whose token expired without a refresh loses its channel.
    func sweepExpiredTokens() {
        guard flags.tokenEnforcement else { return }
        let now = clock.nowSeconds()
        let expired = state.withLock { s in s.registered.filter { $0.value.token.expiresAt <= now } }
        for (hex, peer) in expired {
            logger.notice("closing the channel of a peer whose token expired", metadata: ["peer": "\(hex.prefix(16))"])
            audit.record("token.expired", ["peer": .string(hex), "sequence": .int(Int64(peer.token.sequence))])
            peer.connection.close()
        }
    }
}
