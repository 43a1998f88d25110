import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSTesting
import HyperCrypto
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NostrRelay
import PeerProtocol
import Synchronization
import Testing
import TokenService
import WSClient

@testable import RelayHost

/// Opens a websocket to the app, sends `frames`, collects text until the server closes or `until` says stop.
func websocket(
    _ client: some TestClientProtocol, path: String = "/", headers: HTTPFields = [:], send frames: [String],
    until: @escaping @Sendable ([String]) -> Bool = { _ in false }
) async throws -> (texts: [String], close: WebSocketCloseFrame?) {
    try await websocket(port: client.port!, path: path, headers: headers, send: frames, until: until)
}

func websocket(
    port: Int, path: String = "/", headers: HTTPFields = [:], send frames: [String],
    until: @escaping @Sendable ([String]) -> Bool = { _ in false }
) async throws -> (texts: [String], close: WebSocketCloseFrame?) {
    let texts = Mutex<[String]>([])
    let close = try await WebSocketClient.connect(
        url: "ws://localhost:\(port)\(path)", configuration: .init(additionalHeaders: headers),
        logger: Logger(label: "test.ws")
    ) { inbound, outbound, _ in
        for f in frames { try await outbound.write(.text(f)) }
        for try await message in inbound.messages(maxSize: 1 << 20) {
            if case .text(let t) = message {
                let all = texts.withLock {
                    $0.append(t)
                    return $0
                }
                if until(all) { return }
            }
        }
    }
    return (texts.withLock { $0 }, close)
}

func eventFrame(_ e: NostrEvent) -> String { #"["EVENT",\#(e.json)]"# }

func signedEvent(_ secret: [UInt8], _ content: String = "hello") throws -> NostrEvent {
    try NostrEvent.signed(secretKey: secret, createdAt: Int64(Date().timeIntervalSince1970), kind: 1, content: content)
}

/// Takes over REQs whose subscription id starts with `d-` (answers EOSE itself), declines everything else.
final class TakeOverDelegate: WebsocketDelegate {
    let seen = NIOLockedValueBox<[String]>([])
    let closed = NIOLockedValueBox<Int>(0)
    func receive(_ text: String, session: WebsocketSessionInfo) async -> Bool {
        seen.withLockedValue { $0.append(text) }
        guard text.hasPrefix(#"["REQ","d-"#) else { return false }
        _ = session.outbound.send(#"["EOSE","d-1"]"#)
        return true
    }
    func disconnected(_ session: WebsocketSessionInfo) { closed.withLockedValue { $0 += 1 } }
}

@Suite("RelayHost: websocket gate (relay flag, token enforcement, revocation)", .timeLimit(.minutes(2)))
struct WebsocketGateTests {
    @Test("the delegation hook sees frames before the engine and may take them over")
    func delegateHook() async throws {
        let gw = try await TestGateway.make()
        let delegate = TakeOverDelegate()
        gw.host.setWebsocketDelegate(delegate)
        try await gw.application().test(.live) { client in
            let r = try await websocket(client, send: [#"["REQ","d-1",{}]"#, #"["REQ","e-1",{"limit":1}]"#]) {
                $0.count >= 2
            }
            #expect(r.texts.contains(#"["EOSE","d-1"]"#))
            #expect(r.texts.contains(#"["EOSE","e-1"]"#))
        }
        #expect(delegate.seen.withLockedValue { $0.count } == 2)
        #expect(await eventually { delegate.closed.withLockedValue { $0 } == 1 })
        await gw.shutdown()
    }

    @Test("relay flag off: the websocket answers every message with the reason; registration is refused")
    func relayFlagOff() async throws {
        let gw = try await TestGateway.make(flags: FeatureFlags(hyperbeeRelay: false))
        let e = try signedEvent([UInt8](repeating: 9, count: 32))
        try await gw.application().test(.live) { client in
            let r = try await websocket(client, send: [#"["REQ","s1",{}]"#, eventFrame(e)]) { $0.count >= 3 }
            #expect(r.texts[0].contains("NOTICE") && r.texts[0].contains("GATEWAY_FEATURE_HYPERBEE_RELAY is off"))
            #expect(r.texts[1].hasPrefix(#"["CLOSED","s1","error: this gateway does not host a relay"#))
            #expect(r.texts[2].hasPrefix(#"["OK","\#(e.id)",false,"error:"#))
            try await client.execute(uri: "/health", method: .get) { h in
                let body = String(buffer: h.body)
                #expect(body.contains(#""GATEWAY_FEATURE_HYPERBEE_RELAY":"off:"#))
                #expect(body.contains(#""relayHosted":false"#))
            }
        }
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        try await peer.connect(gw.address)
        let reg = try await peer.register(timestamp: gw.clock.nowMilliseconds())
        #expect(reg.statusCode == 503)
        await peer.shutdown()
        await gw.shutdown()
    }

    @Test("enforcement off: a bad token is ignored and tokenless EVENTs are stored")
    func enforcementOff() async throws {
        let gw = try await TestGateway.make(flags: FeatureFlags(hyperbeeRelay: true, tokenEnforcement: false))
        let e = try signedEvent([UInt8](repeating: 9, count: 32))
        try await gw.application().test(.live) { client in
            let r = try await websocket(client, path: "/?token=not.a.token", send: [eventFrame(e)]) {
                $0.contains { $0.hasPrefix(#"["OK""#) }
            }
            #expect(r.texts.contains(#"["OK","\#(e.id)",true,""]"#))
            try await client.execute(uri: "/health", method: .get) { h in
                #expect(String(buffer: h.body).contains(#""GATEWAY_FEATURE_RELAY_TOKEN_ENFORCEMENT":"off:"#))
            }
        }
        #expect(
            gw.auditRecords().contains { $0["event"] as? String == "publish" && $0["result"] as? String == "accepted" })
        await gw.shutdown()
    }

    @Test(
        "enforcement on: bad token -> 4403; no token -> reads work, EVENTs restricted unless admin; valid token writes")
    func enforcementOn() async throws {
        let gw = try await TestGateway.make(flags: FeatureFlags(hyperbeeRelay: true, tokenEnforcement: true))
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        try await peer.connect(gw.address)
        let token = try await peer.register(timestamp: gw.clock.nowMilliseconds()).payload(RegistrationResponse.self)
            .token.token
        let anyone = try signedEvent([UInt8](repeating: 9, count: 32))
        let admin = try signedEvent(adminSecret, "from the admin")
        let withToken = try signedEvent([UInt8](repeating: 8, count: 32), "with a token")
        try await gw.application().test(.live) { client in
            let bad = try await websocket(client, path: "/?token=abc.def.ghi", send: [])
            #expect(bad.close?.closeCode == .init(codeNumber: 4403))
            #expect(bad.close?.reason?.hasPrefix("invalid token") == true)

            let none = try await websocket(
                client, send: [eventFrame(anyone), eventFrame(admin), #"["REQ","r",{"limit":5}]"#]
            ) { texts in
                texts.contains { $0.hasPrefix(#"["EOSE""#) } && texts.filter { $0.hasPrefix(#"["OK""#) }.count == 2
            }
            #expect(none.texts.contains { $0.hasPrefix(#"["OK","\#(anyone.id)",false,"restricted:"#) })
            #expect(none.texts.contains(#"["OK","\#(admin.id)",true,""]"#))
            #expect(none.texts.contains(#"["EOSE","r"]"#))

            let good = try await websocket(
                client, headers: [.authorization: "Bearer \(token)"], send: [eventFrame(withToken)]
            ) { $0.contains { $0.hasPrefix(#"["OK""#) } }
            #expect(good.texts.contains(#"["OK","\#(withToken.id)",true,""]"#))
        }
        let refused = gw.auditRecords().filter {
            $0["event"] as? String == "publish" && $0["result"] as? String == "refused"
        }
        #expect(refused.contains { $0["id"] as? String == anyone.id })
        await peer.shutdown()
        await gw.shutdown()
    }

    @Test("revocation closes every websocket session that used the peer's token within a second, with the signed frame")
    func revocationClosesSessions() async throws {
        let gw = try await TestGateway.make(flags: FeatureFlags(hyperbeeRelay: true, tokenEnforcement: true))
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        try await peer.connect(gw.address)
        let token = try await peer.register(timestamp: gw.clock.nowMilliseconds()).payload(RegistrationResponse.self)
            .token.token
        try await gw.application().test(.live) { client in
            let host = gw.host
            let port = client.port!
            let revokedAt = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
            let sessions = try await withThrowingTaskGroup(of: ([String], WebSocketCloseFrame?, Duration?).self) {
                group in
                for i in 0..<2 {
                    group.addTask {
                        let r = try await websocket(
                            port: port, path: i == 0 ? "/?token=\(token)" : "/",
                            headers: i == 0 ? [:] : [.authorization: "Bearer \(token)"],
                            send: [#"["REQ","live",{"kinds":[1]}]"#])
                        let elapsed = revokedAt.withLockedValue { $0 }.map { ContinuousClock.now - $0 }
                        return (r.texts, r.close, elapsed)
                    }
                }
                #expect(await eventually { host.state.withLock { $0.websockets.count } == 2 })
                revokedAt.withLockedValue { $0 = .now }
                let outcome = try host.revoke(peer: peer.key.publicKey, reason: "stolen")
                #expect(outcome.websocketsClosed == 2)
                var out: [([String], WebSocketCloseFrame?, Duration?)] = []
                for try await s in group { out.append(s) }
                return out
            }
            #expect(sessions.count == 2)
            for (texts, close, elapsed) in sessions {
                #expect(close?.closeCode == .init(codeNumber: 4403))
                #expect(close?.reason?.contains("stolen") == true)
                let elapsedValue = try #require(elapsed)
                #expect(elapsedValue < .seconds(1), "session closed \(elapsedValue) after the revocation")
                #expect(texts.contains { $0.hasPrefix(#"["TOKEN","REVOKED""#) })
            }
            // The signed frame rides along and verifies with the gateway key (once: the guard refuses replays).
            let line = try #require(sessions[0].0.first { $0.hasPrefix(#"["TOKEN","REVOKED""#) })
            let items = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any])
            let info = try #require(items[2] as? [String: Any])
            let frameText = try #require(info["frame"] as? String)
            let frameBytes = try #require(Base64URL.decode(frameText))
            let frame = try peer.frameGuard.accept(frameBytes)
            #expect(frame.type == "token-revoked")
            #expect(throws: ControlFrameRejection.self) { try peer.frameGuard.accept(frameBytes) }
            // A revoked token no longer opens a session.
            let after = try await websocket(client, path: "/?token=\(token)", send: [])
            #expect(after.close?.closeCode == .init(codeNumber: 4403))
            #expect(after.close?.reason == "invalid token: revoked")
        }
        await peer.shutdown()
        await gw.shutdown()
    }
}
