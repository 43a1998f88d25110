import Foundation
import HTTPTypes
import HyperCrypto
import NostrRelay
import NostrRelayServer
import TokenService

/// The delegation layer's entry into websocket sessions (`RelayHost.setWebsocketDelegate`): it sees each inbound
/// frame of a session that passed the token gate before the engine does, and may take it over (a REQ it sends
/// through the dispatcher); the engine handles every frame the delegate declines.
public protocol WebsocketDelegate: Sendable {
    /// Returns true when the delegate handled `text` (the engine then does not see it).
    func receive(_ text: String, session: WebsocketSessionInfo) async -> Bool
    /// The session closed (after the engine's own cleanup).
    func disconnected(_ session: WebsocketSessionInfo)
}

/// One websocket session as the delegate sees it.
public struct WebsocketSessionInfo: Sendable {
    /// Unique per gateway process.
    public let id: UInt64
    public let remoteAddress: String
    /// The session's bounded outbound queue (send NIP-01 frames, close with a code).
    public let outbound: ConnectionOutbound
    /// The engine's connection (for answers the delegate wants the engine to give).
    public let connection: RelayConnection
    /// The peer whose token the session presented, if any.
    public let peer: String?
}

/// A websocket session's token, once verified at the upgrade.
struct TokenBinding: Sendable {
    let peer: String
    let tokenId: String
}

extension RelayHost {
    /// Installs the delegation layer's websocket hook (once, before serving; nil removes it).
    public func setWebsocketDelegate(_ delegate: (any WebsocketDelegate)?) {
        delegateBox.withLock { $0 = delegate }
    }

    var websocketDelegate: (any WebsocketDelegate)? { delegateBox.withLock { $0 } }

    func nextSessionID() -> UInt64 {
        state.withLock { s in
            s.nextWebsocket += 1
            return s.nextWebsocket
        }
    }

    /// The websocket upgrade decision (`RelayServer.makeApplication(authorizer:)`): a token presented as
    /// `?token=` or `Authorization: Bearer` is verified; a bad one closes the upgrade with 4403 and the reason when
    /// enforcement is on (and is ignored, logged, when off). A valid one binds the session to its peer, so a
    /// revocation closes it.
    public func websocketAuthorizer(relay: Relay?) -> WebSocketAuthorizer {
        let base = GatedRelayFrontend(host: self, relay: relay, binding: nil)
        return { [weak self] request, remote in
            guard let self else { return .serve(base) }
            return self.admit(request, base: base, relay: relay)
        }
    }

    /// The frontend of sessions that present no token.
    public func frontend(relay: Relay?) -> any RelayFrontend {
        GatedRelayFrontend(host: self, relay: relay, binding: nil)
    }

    func admit(_ request: HTTPRequest, base: GatedRelayFrontend, relay: Relay?) -> WebSocketAdmission {
        guard let token = Self.presentedToken(request), let log else { return .serve(base) }
        do throws(TokenError) {
            let unverified = try tokens.verifier.decodeVerified(token)
            guard let peer = [UInt8](hex: unverified.sub), peer.count == 32 else {
                throw TokenError.malformed("sub is not a 32-byte hex key")
            }
            let claims = try tokens.verify(token, peer: peer, relay: log.key)
            return .serve(
                GatedRelayFrontend(
                    host: self, relay: relay, binding: TokenBinding(peer: claims.sub.lowercased(), tokenId: claims.jti))
            )
        } catch {
            metrics.websocketErrors(stage: "upgrade_token")
            guard flags.tokenEnforcement else {
                logger.info(
                    "ignoring an invalid websocket token (enforcement off)", metadata: ["reason": "\(error.reason)"])
                return .serve(base)
            }
            return .close(code: 4403, reason: String("invalid token: \(error.reason)".prefix(120)))
        }
    }

    /// `?token=...` or `Authorization: Bearer ...`.
    static func presentedToken(_ request: HTTPRequest) -> String? {
        if let auth = request.headerFields[.authorization], auth.lowercased().hasPrefix("bearer ") {
            let t = auth.dropFirst(7).trimmingCharacters(in: .whitespaces)
            if !t.isEmpty { return t }
        }
        guard let path = request.path, let q = URLComponents(string: "http://x" + path)?.queryItems else { return nil }
        return q.first { $0.name == "token" }?.value.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The NIP-11 document with the operator's name and description (NIP-86) applied.
    func informationDocument(base: String?) -> String {
        guard let base else {
            return
                #"{"name":"Hypertuna gateway","description":"no relay is hosted here (GATEWAY_FEATURE_HYPERBEE_RELAY is off)","supported_nips":[]}"#
        }
        let m = moderation.current
        guard m.relayName != nil || m.relayDescription != nil,
            var object = (try? JSONSerialization.jsonObject(with: Data(base.utf8))) as? [String: Any]
        else { return base }
        if let n = m.relayName { object["name"] = n }
        if let d = m.relayDescription { object["description"] = d }
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return base }
        return String(decoding: data, as: UTF8.self)
    }

    /// With enforcement on, the OK refusal for an EVENT of a session without a token, unless its author is an
    /// admin or allowed (configuration or NIP-86 `allowpubkey`); nil lets the frame through to the engine.
    func restrictedEventRefusal(_ text: String, remote: String) -> String? {
        guard text.utf8.prefix(32).contains(where: { $0 == UInt8(ascii: "E") }),
            case .array(let items)? = try? JSONReader.parse(text), items.count >= 2, items[0].stringValue == "EVENT",
            let event = items[1].objectValue, let id = event["id"]?.stringValue,
            let pubkey = event["pubkey"]?.stringValue,
            NostrEvent.isLowerHex(id, length: 64)
        else { return nil }
        if writeAdmitted(pubkey) { return nil }
        let reason = "restricted: a valid peer token is required to publish here (token enforcement is on)"
        if configuration.auditPublishAttempts {
            audit.record(
                "publish",
                [
                    "id": .string(id), "pubkey": .string(pubkey), "result": "refused", "reason": .string(reason),
                    "remote": .string(remote),
                ])
        }
        return #"["OK","\#(id)",false,"\#(reason)"]"#
    }

    /// Admins and allowed pubkeys may write without a token.
    func writeAdmitted(_ pubkey: String) -> Bool {
        adminPubkeys.contains(pubkey) || configuredAllowedPubkeys.contains(pubkey)
            || moderation.current.allowedPubkeys[pubkey] != nil
    }

    /// Audits the engine's OK answer to a publish attempt.
    func auditPublish(okFrame text: String, remote: String) {
        guard configuration.auditPublishAttempts, case .array(let items)? = try? JSONReader.parse(text),
            items.count >= 4, let id = items[1].stringValue
        else { return }
        let accepted = items[2] == .bool(true)
        audit.record(
            "publish",
            [
                "id": .string(id), "result": accepted ? "accepted" : "refused",
                "reason": .string(items[3].stringValue ?? ""), "remote": .string(remote),
            ])
    }

    /// Whether an outbound `["EVENT",sub,{...}]` carries an event the operator banned (NIP-86 `banevent`).
    func isBannedEventFrame(_ text: String) -> Bool {
        let banned = moderation.current.bannedEvents
        guard !banned.isEmpty, case .array(let items)? = try? JSONReader.parse(text), items.count >= 3,
            let id = items[2].objectValue?["id"]?.stringValue
        else { return false }
        return banned[id] != nil
    }
}

/// The relay frontend the websocket server drives: the engine with the peer plane's gates (relay flag, token
/// enforcement, moderation, publish audit, revocation tracking).
struct GatedRelayFrontend: RelayFrontend {
    let host: RelayHost
    let relay: Relay?
    let binding: TokenBinding?

    static let disabledReason = "this gateway does not host a relay (GATEWAY_FEATURE_HYPERBEE_RELAY is off)"

    func openSession(remoteAddress: String, outbound: ConnectionOutbound) -> any RelaySession {
        guard let relay else {
            host.metrics.websocketErrors(stage: "relay_disabled")
            _ = outbound.send(#"["NOTICE","error: \#(Self.disabledReason)"]"#)
            return DisabledRelaySession(outbound: outbound)
        }
        let tapped = TappedOutbound(base: outbound, host: host, remote: remoteAddress)
        let inner = relay.connect(remoteAddress: remoteAddress, outbound: tapped)
        var tracked: UInt64?
        if let binding {
            tracked = host.trackWebsocket(peer: binding.peer, tokenId: binding.tokenId) { text, reason in
                _ = outbound.send(text)
                outbound.close(code: 4403, reason: String(reason.prefix(120)))
            }
        }
        let info = WebsocketSessionInfo(
            id: host.nextSessionID(), remoteAddress: remoteAddress, outbound: outbound, connection: inner,
            peer: binding?.peer)
        return GatedSession(
            inner: inner, host: host, outbound: outbound, remote: remoteAddress, hasToken: binding != nil,
            tracked: tracked, info: info)
    }

    func informationDocument() -> String { host.informationDocument(base: relay?.informationJSON) }

    func shutdown() async throws { try await relay?.shutdown() }
}

/// A session of the engine behind the token gate.
final class GatedSession: RelaySession {
    let inner: RelayConnection
    let host: RelayHost
    let outbound: ConnectionOutbound
    let remote: String
    let hasToken: Bool
    let tracked: UInt64?
    let info: WebsocketSessionInfo

    init(
        inner: RelayConnection, host: RelayHost, outbound: ConnectionOutbound, remote: String, hasToken: Bool,
        tracked: UInt64?, info: WebsocketSessionInfo
    ) {
        self.info = info
        self.inner = inner
        self.host = host
        self.outbound = outbound
        self.remote = remote
        self.hasToken = hasToken
        self.tracked = tracked
    }

    func receive(_ text: String) async {
        if host.flags.tokenEnforcement, !hasToken, let refusal = host.restrictedEventRefusal(text, remote: remote) {
            _ = outbound.send(refusal)
            return
        }
        if let delegate = host.websocketDelegate, await delegate.receive(text, session: info) { return }
        await inner.receive(text)
    }

    func disconnected() {
        inner.disconnected()
        if let tracked { host.untrackWebsocket(tracked) }
        host.websocketDelegate?.disconnected(info)
    }
}

/// With the relay flag off: every message gets the reason (CLOSED for REQ/COUNT/CLOSE, OK false for EVENT).
struct DisabledRelaySession: RelaySession {
    let outbound: ConnectionOutbound

    func receive(_ text: String) async {
        let reason = "error: " + GatedRelayFrontend.disabledReason
        var answer: [Any] = ["NOTICE", reason]
        if case .array(let items)? = try? JSONReader.parse(text), let verb = items.first?.stringValue {
            switch verb {
            case "REQ", "COUNT", "CLOSE":
                if items.count > 1, let sub = items[1].stringValue { answer = ["CLOSED", sub, reason] }
            case "EVENT":
                if items.count > 1, let id = items[1].objectValue?["id"]?.stringValue {
                    answer = ["OK", id, false, reason]
                }
            default: break
            }
        }
        if let data = try? JSONSerialization.data(withJSONObject: answer, options: [.withoutEscapingSlashes]) {
            _ = outbound.send(String(decoding: data, as: UTF8.self))
        }
    }

    func disconnected() {}
}

/// The engine's outbound side, tapped: OK answers are audited, banned events are not delivered.
struct TappedOutbound: RelayOutbound {
    let base: ConnectionOutbound
    let host: RelayHost
    let remote: String

    func send(_ text: String) -> Bool {
        if text.hasPrefix(#"["OK""#) {
            host.auditPublish(okFrame: text, remote: remote)
        } else if text.hasPrefix(#"["EVENT""#), host.isBannedEventFrame(text) {
            return true
        }
        return base.send(text)
    }

    func close(code: UInt16, reason: String) { base.close(code: code, reason: reason) }
}

/// The write policy with the operator's NIP-86 lists on top: banned pubkeys and events are refused, allowed
/// pubkeys are accepted, everything else is the configured policy's decision.
public struct ModeratedWritePolicy: WritePolicy {
    let base: any WritePolicy
    let host: RelayHost

    public init(base: any WritePolicy, host: RelayHost) {
        self.base = base
        self.host = host
    }

    public var summary: String { base.summary + ", plus the admin API's ban and allow lists" }
    public var restrictsWrites: Bool { base.restrictsWrites }

    public func decide(_ event: NostrEvent, context: WriteContext) -> WriteDecision {
        let m = host.moderation.current
        if let reason = m.bannedPubkeys[event.pubkey] {
            return .reject(message: "blocked: this pubkey is banned" + (reason.isEmpty ? "" : " (\(reason))"))
        }
        if let reason = m.bannedEvents[event.id] {
            return .reject(message: "blocked: this event is banned" + (reason.isEmpty ? "" : " (\(reason))"))
        }
        if m.allowedPubkeys[event.pubkey] != nil { return .accept }
        return base.decide(event, context: context)
    }
}
