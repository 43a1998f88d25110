import Dispatcher
import Foundation
import HyperCrypto
import HyperLog
import NIOCore
import PeerProtocol
import PeerWire
import SwarmTransport
import TokenService

/// A refused registration, refresh or attach: the HTTP status, a message for humans and a machine reason.
public struct PeerPlaneRefusal: Error, Equatable, CustomStringConvertible {
    public let status: Int
    public let message: String
    public let reason: String

    public init(_ status: Int, _ message: String, reason: String) {
        self.status = status
        self.message = message
        self.reason = reason
    }

    public var description: String { "\(status) \(reason): \(message)" }
    public var response: PeerWireResponse { .error(status, message, reason: reason) }
}

extension RelayHost {
    /// Requests a peer sends over its channel (message 0).
    func handle(_ request: PeerWireRequest, connection: SwarmConnection) async -> PeerWireResponse {
        guard admitRequest(connection) else {
            return .error(
                429, "more than \(configuration.peerRequestsPerMinute) requests per minute", reason: "rate_limited")
        }
        let body = request.body ?? []
        do {
            switch (request.method, request.route) {
            case ("POST", "/gateway/register"):
                return .json(
                    try register(
                        body: body, authenticatedKey: connection.remotePublicKey, via: "swarm", connection: connection))
            case ("POST", "/gateway/attach"):
                return .json(try attachWithToken(body: body, connection: connection))
            case ("POST", "/token/refresh"):
                return .json(try refresh(body: body, peer: connection.remotePublicKey, via: "swarm"))
            case ("GET", "/gateway/announcement"):
                return .json(try signedAnnouncement())
            case ("GET", "/health"):
                return PeerWireResponse(
                    statusCode: 200, headers: ["content-type": "application/json"], body: Array(healthJSON().utf8))
            default:
                return .error(404, "no route \(request.method) \(request.route)", reason: "not_found")
            }
        } catch let refusal as PeerPlaneRefusal {
            return refusal.response
        } catch {
            return .error(500, "\(error)", reason: "internal")
        }
    }

    // MARK: registration

    /// Validates and records a registration whose `publicKey` must be `authenticatedKey` (the Noise key of the
    /// swarm connection, or the key that signed the HTTP request), issues the peer's first token and, over the
    /// swarm, marks `connection` registered (replication, dispatcher, hooks). A refusal changes nothing but the
    /// peer's failure counter and the audit log.
    public func register(body: [UInt8], authenticatedKey: [UInt8], via: String, connection: SwarmConnection?)
        throws(PeerPlaneRefusal)
        -> RegistrationResponse
    {
        let peerHex = authenticatedKey.hex
        func refuse(_ status: Int, _ message: String, _ reason: String) -> PeerPlaneRefusal {
            audit.record(
                "registration",
                [
                    "peer": .string(peerHex), "via": .string(via), "result": "refused", "reason": .string(reason),
                    "detail": .string(message),
                ])
            _ = try? store.update(peerKey: peerHex) { r in r?.failedRegistrations += 1 }
            metrics.registrations(result: "refused", reason: reason)
            return PeerPlaneRefusal(status, message, reason: reason)
        }
        guard let log else { throw refuse(503, PeerPlaneError.relayNotHosted.description, "relay_not_hosted") }
        let request: RegistrationRequest
        do { request = try PayloadCodec.decode(RegistrationRequest.self, from: body) } catch {
            throw refuse(400, "\(error)", "malformed")
        }
        guard request.publicKey.lowercased() == peerHex else {
            throw refuse(
                403,
                "publicKey \(request.publicKey.prefix(16))... is not the key that authenticated this request (\(peerHex.prefix(16))...)",
                "key_mismatch")
        }
        let now = clock.nowMilliseconds()
        let window = configuration.registrationWindowSeconds * 1000
        let distance = request.timestamp > now ? request.timestamp - now : now - request.timestamp
        guard distance <= window else {
            throw refuse(
                400,
                "timestamp \(request.timestamp) is more than \(configuration.registrationWindowSeconds) s from the gateway's clock (\(now))",
                "stale_timestamp")
        }
        if let revoked = activeRevocation(peerHex) {
            throw refuse(
                403,
                "the peer's token was revoked (\(revoked.reason)); registration is refused until \(revoked.expiresAt)",
                "revoked")
        }
        let alreadyLive = state.withLock { $0.registered[peerHex] != nil }
        if !alreadyLive, state.withLock({ $0.registered.count }) >= configuration.maxPeers {
            throw refuse(429, "the gateway serves at most \(configuration.maxPeers) peers", "too_many_peers")
        }
        let token: IssuedToken
        do { token = try tokens.issue(peer: authenticatedKey, relay: log.key) } catch {
            if case .quarantined = error { throw refuse(403, error.description, "quarantined") }
            throw refuse(500, error.description, error.reason)
        }
        let nowSeconds = clock.nowSeconds()
        _ = try? store.update(peerKey: peerHex) { r in
            var rec = r ?? PeerRecord(peerKey: peerHex, relays: request.relays, via: via, now: nowSeconds)
            rec.relays = request.relays
            rec.address = request.address
            rec.mode = request.mode
            rec.nostrPubkeyHex = request.nostrPubkeyHex
            rec.lastRegisteredAt = nowSeconds
            rec.lastRegisteredVia = via
            rec.registrations += 1
            r = rec
        }
        audit.record(
            "registration",
            [
                "peer": .string(peerHex), "via": .string(via), "result": "accepted",
                "relays": .int(Int64(request.relays.count)),
            ])
        audit.record(
            "token.issue",
            [
                "peer": .string(peerHex), "sequence": .int(Int64(token.sequence)),
                "expiresAt": .int(Int64(token.expiresAt)),
            ])
        metrics.registrations(result: "accepted", reason: "ok")
        let response = RegistrationResponse(hyperbee: assignment(log), token: token)
        if let connection { markRegistered(connection, token: token) }
        return response
    }

    /// The `hyperbee` object of the registration reply.
    func assignment(_ log: HyperLog) -> RelayAssignment {
        RelayAssignment(
            hyperbeeKey: log.key, discoveryKey: log.discoveryKey, replicationTopic: log.discoveryKey,
            websocketUrl: configuration.publicWebsocketURL, tokenPolicy: configuration.tokenPolicy,
            dispatcher: configuration.dispatcherPolicy)
    }

    /// Swarm `POST /gateway/attach` (`{"token":S}`): a peer that registered over HTTP (or before a reconnect)
    /// binds this channel with its current token instead of registering again.
    func attachWithToken(body: [UInt8], connection: SwarmConnection) throws(PeerPlaneRefusal) -> IssuedToken {
        guard let log else {
            throw PeerPlaneRefusal(503, PeerPlaneError.relayNotHosted.description, reason: "relay_not_hosted")
        }
        let request: TokenRefreshRequest
        do { request = try PayloadCodec.decode(TokenRefreshRequest.self, from: body) } catch {
            throw PeerPlaneRefusal(400, "\(error)", reason: "malformed")
        }
        let peer = connection.remotePublicKey
        let claims: TokenClaims
        do { claims = try tokens.verify(request.token, peer: peer, relay: log.key) } catch {
            throw PeerPlaneRefusal(Self.status(for: error), error.description, reason: error.reason)
        }
        let issued = IssuedToken(
            token: request.token, sequence: claims.seq, issuedAt: claims.iat, expiresAt: claims.exp,
            refreshAfter: claims.exp - min(configuration.tokenPolicy.refreshWindowSeconds, claims.exp - claims.iat))
        markRegistered(connection, token: issued)
        return issued
    }

    /// Binds a registered channel: replication (unless paused), dispatcher, hooks. A previous registered channel of
    /// the same peer is closed (superseded).
    func markRegistered(_ conn: SwarmConnection, token: IssuedToken) {
        let hex = conn.remotePublicKey.hex
        guard let session = state.withLock({ $0.sessions[ObjectIdentifier(conn)]?.session }) else { return }
        let now = clock.nowSeconds()
        let (superseded, paused): (SwarmConnection?, String?) = state.withLock { s in
            let old = s.registered[hex]
            s.registered[hex] = RegisteredPeer(
                session: session, connection: conn, registeredAt: now, token: token, heartbeat: old?.heartbeat,
                heartbeatAt: old?.heartbeatAt)
            return (old.flatMap { $0.connection === conn ? nil : $0.connection }, s.paused)
        }
        if let superseded {
            logger.info("closing a superseded channel of a re-registered peer", metadata: ["peer": "\(hex.prefix(16))"])
            superseded.close()
        }
        metrics.activePeers.record(state.withLock { $0.registered.count })
        if log != nil, paused == nil {
            let hub = self.hub
            conn.eventLoop.execute { hub.attach(conn) }
        }
        let effects = (try? dispatcher.register(peer: PeerID(hex), maxConcurrent: nil)) ?? []
        publishEffects(effects)
        if let live = livePeer(PeerID(hex)) { publish(.registered(live, effects: effects)) }
    }

    // MARK: refresh

    /// Exchanges `{"token":S}` for the next token inside the refresh window. Failures count toward quarantine
    /// (`GATEWAY_TOKEN_MAX_REFRESH_FAILURES`); a quarantined peer loses its channel and its dispatcher slot.
    public func refresh(body: [UInt8], peer: [UInt8], via: String) throws(PeerPlaneRefusal) -> IssuedToken {
        let hex = peer.hex
        guard let log else {
            throw PeerPlaneRefusal(503, PeerPlaneError.relayNotHosted.description, reason: "relay_not_hosted")
        }
        let request: TokenRefreshRequest
        do { request = try PayloadCodec.decode(TokenRefreshRequest.self, from: body) } catch {
            throw PeerPlaneRefusal(400, "\(error)", reason: "malformed")
        }
        do {
            let token = try tokens.refresh(request.token, peer: peer, relay: log.key)
            state.withLock { s in s.registered[hex]?.token = token }
            audit.record(
                "token.refresh",
                [
                    "peer": .string(hex), "via": .string(via), "sequence": .int(Int64(token.sequence)),
                    "expiresAt": .int(Int64(token.expiresAt)),
                ])
            return token
        } catch {
            audit.record(
                "token.refresh-refused",
                [
                    "peer": .string(hex), "via": .string(via), "reason": .string(error.reason),
                    "detail": .string(error.description),
                ])
            if let st = (try? tokens.state(peer: peer, relay: log.key)) ?? nil, st.quarantinedAt != nil {
                quarantined(hex, failures: st.consecutiveFailedRefreshes)
            }
            throw PeerPlaneRefusal(Self.status(for: error), error.description, reason: error.reason)
        }
    }

    /// A peer crossed the failed-refresh threshold: audit, drop it from the dispatcher, close its channel.
    func quarantined(_ hex: String, failures: Int) {
        audit.record("token.quarantine", ["peer": .string(hex), "failedRefreshes": .int(Int64(failures))])
        let conn: SwarmConnection? = state.withLock { s in s.registered.removeValue(forKey: hex)?.connection }
        guard let conn else { return }
        metrics.activePeers.record(state.withLock { $0.registered.count })
        let effects = (try? dispatcher.peerLost(peer: PeerID(hex), reason: .tokenRevoked)) ?? []
        publishEffects(effects)
        publish(.lost(PeerID(hex), reason: "quarantined", effects: effects))
        // Let the refusal reach the peer first.
        conn.eventLoop.scheduleTask(in: .milliseconds(250)) { conn.close() }
    }

    /// The HTTP status of a token failure.
    static func status(for error: TokenError) -> Int {
        switch error {
        case .refreshTooEarly, .staleSequence: return 409
        case .quarantined, .revoked, .wrongPeer, .wrongRelay: return 403
        case .storage: return 500
        case .invalidKey, .malformed: return 400
        default: return 401
        }
    }

    /// A revocation of `peerHex` that has not expired yet.
    func activeRevocation(_ peerHex: String) -> RevocationRecord? {
        let now = clock.nowSeconds()
        let skew = configuration.tokenPolicy.clockSkewSeconds
        return (try? store.tokens.revocations())?.filter { $0.peerKey == peerHex && $0.expiresAt + skew > now }
            .max { $0.revokedAt < $1.revokedAt }
    }

    // MARK: HTTP

    /// `POST /gateway/register` and `POST /token/refresh` over HTTP: the request is signed by the peer's swarm key
    /// (`SignedHTTPRequest`), inside the registration window, with a fresh nonce.
    public func signedHTTP(method: String, path: String, body: [UInt8], headers: [String: String])
        throws(PeerPlaneRefusal)
        -> [UInt8]
    {
        let now = clock.nowMilliseconds()
        let verified: SignedHTTPRequest.Verified
        do {
            verified = try SignedHTTPRequest.verify(
                method: method, path: path, body: body, headers: headers, nowMilliseconds: now,
                windowSeconds: configuration.registrationWindowSeconds)
        } catch {
            let peer = headers[SignedHTTPRequest.peerHeader] ?? "unknown"
            audit.record(
                path == "/gateway/register" ? "registration" : "token.refresh-refused",
                [
                    "peer": .string(peer), "via": "http", "result": "refused", "reason": "bad_request_signature",
                    "detail": .string(error.description),
                ])
            throw PeerPlaneRefusal(401, error.description, reason: "bad_request_signature")
        }
        let fresh: Bool
        do {
            fresh = try store.useNonce(
                verified.nonce, expiresAt: now / 1000 + configuration.registrationWindowSeconds * 2 + 1, now: now / 1000
            )
        } catch {
            throw PeerPlaneRefusal(500, "nonce store: \(error)", reason: "storage")
        }
        guard fresh else {
            audit.record(
                "registration",
                ["peer": .string(verified.peerKey.hex), "via": "http", "result": "refused", "reason": "replayed"])
            throw PeerPlaneRefusal(
                409, "nonce \(verified.nonce) was already used: replayed request", reason: "replayed")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        switch path {
        case "/gateway/register":
            let r = try register(body: body, authenticatedKey: verified.peerKey, via: "http", connection: nil)
            return Array((try? encoder.encode(r)) ?? Data())
        case "/token/refresh":
            let t = try refresh(body: body, peer: verified.peerKey, via: "http")
            return Array((try? encoder.encode(t)) ?? Data())
        default:
            throw PeerPlaneRefusal(404, "no route \(path)", reason: "not_found")
        }
    }
}
