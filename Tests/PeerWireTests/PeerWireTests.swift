import CompactEncoding
import Foundation
import HyperCrypto
import NIOConcurrencyHelpers
import PeerProtocol
import SwarmTransport
import Testing

@testable import PeerWire

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

/// A listening "gateway" node and a dialling "worker" node, each opening the channel in its connection handler.
final class WirePair: Sendable {
    let gateway: SwarmNode
    let worker: SwarmNode
    private let gatewaySessions = NIOLockedValueBox<[PeerWireSession]>([])
    private let workerSessions = NIOLockedValueBox<[PeerWireSession]>([])

    init(
        gatewayHandshake: PeerWireHandshake = PeerWireHandshake(role: "gateway", capabilities: ["http"]),
        workerHandshake: PeerWireHandshake = .worker(),
        gatewayOptions: PeerWireSession.Options = PeerWireSession.Options(),
        onGatewayRequest: PeerWireSession.RequestHandler? = nil,
        onWorkerHealth: PeerWireSession.HealthProvider? = nil
    ) {
        let gs = gatewaySessions
        let ws = workerSessions
        gateway = SwarmNode { conn in
            let s = PeerWireSession.open(
                on: conn, handshake: gatewayHandshake, options: gatewayOptions, onRequest: onGatewayRequest)
            gs.withLockedValue { $0.append(s) }
        }
        worker = SwarmNode { conn in
            let s = PeerWireSession.open(on: conn, handshake: workerHandshake, onHealth: onWorkerHealth)
            ws.withLockedValue { $0.append(s) }
        }
    }

    /// Connects and returns both open sessions (gateway side, worker side).
    func connect() async throws -> (gateway: PeerWireSession, worker: PeerWireSession) {
        let address = try await gateway.listen()
        _ = try await worker.connect(to: address)
        let w = try #require(workerSessions.withLockedValue { $0.first })
        #expect(await eventually { self.gatewaySessions.withLockedValue { !$0.isEmpty } })
        let g = try #require(gatewaySessions.withLockedValue { $0.first })
        try await w.waitUntilOpen(timeout: .seconds(5))
        try await g.waitUntilOpen(timeout: .seconds(5))
        return (g, w)
    }

    var workerSessionsNow: [PeerWireSession] { workerSessions.withLockedValue { $0 } }
    var gatewaySessionsNow: [PeerWireSession] { gatewaySessions.withLockedValue { $0 } }

    func shutdown() async {
        await worker.shutdown()
        await gateway.shutdown()
    }
}

/// A gateway request handler: echoes method, path and body, sleeps on `/slow`, 404 elsewhere.
let echoHandler: PeerWireSession.RequestHandler = { request in
    switch request.route {
    case "/echo":
        var headers = request.headers
        headers["x-method"] = request.method
        headers["x-path"] = request.path
        return PeerWireResponse(statusCode: 200, headers: headers, body: request.body)
    case "/slow":
        try? await Task.sleep(for: .seconds(2))
        return PeerWireResponse(statusCode: 200)
    default:
        return .error(404, "no route \(request.route)")
    }
}

@Suite("PeerWire: hypertuna-relay-v2 over two loopback SwarmNodes", .timeLimit(.minutes(1)))
struct PeerWireTests {
    @Test("both handshakes are exchanged; the gateway sees the worker's Noise-authenticated key")
    func handshake() async throws {
        let key = [UInt8](repeating: 0xab, count: 32).hex
        let pair = WirePair(
            gatewayHandshake: PeerWireHandshake(
                role: "gateway", capabilities: ["http"], dispatcherEnabled: true, hyperbeeRelayEnabled: true,
                hyperbeeKey: key, hyperbeeLength: 42))
        let (g, w) = try await pair.connect()
        #expect(g.remotePublicKey == pair.worker.publicKey)
        #expect(w.remotePublicKey == pair.gateway.publicKey)
        #expect(g.remoteHandshake?.role == "worker")
        #expect(g.remoteHandshake?.capabilities?.contains("jobs") == true)
        #expect(w.remoteHandshake?.hyperbeeKey == key)
        #expect(w.remoteHandshake?.hyperbeeLength == 42)
        #expect(w.remoteHandshake?.dispatcherEnabled == true)
        await pair.shutdown()
    }

    @Test("requests get the response with their own id, many at once, bodies intact")
    func requestResponse() async throws {
        let pair = WirePair(onGatewayRequest: echoHandler)
        let (_, w) = try await pair.connect()
        let r = try await w.request(
            method: "POST", path: "/echo?x=1", headers: ["x-a": "b"], body: Array("hello".utf8), timeout: nil)
        #expect(r.statusCode == 200)
        #expect(r.body == Array("hello".utf8))
        #expect(r.headers["x-method"] == "POST")
        #expect(r.headers["x-path"] == "/echo?x=1")
        #expect(r.headers["x-a"] == "b")

        let bodies = try await withThrowingTaskGroup(of: (Int, [UInt8]?).self) { group in
            for i in 0..<50 {
                group.addTask {
                    let body = [UInt8]((0..<(i * 997)).map { UInt8(($0 + i) % 256) })
                    let r = try await w.request(method: "PUT", path: "/echo", body: body)
                    return (i, r.body == body || (body.isEmpty && r.body?.isEmpty != false) ? body : nil)
                }
            }
            var out: [Int: [UInt8]?] = [:]
            for try await (i, b) in group { out[i] = b }
            return out
        }
        #expect(bodies.count == 50)
        #expect(bodies.values.allSatisfy { $0 != nil })

        let missing = try await w.request(method: "GET", path: "/nope")
        #expect(missing.statusCode == 404)
        #expect(missing.errorBody?.error.contains("/nope") == true)
        await pair.shutdown()
    }

    @Test("a request made before the handshake completes waits for it; a one-way send before it is refused")
    func requestBeforeOpen() async throws {
        let pair = WirePair(onGatewayRequest: echoHandler)
        let address = try await pair.gateway.listen()
        _ = try await pair.worker.connect(to: address)
        let w = try #require(pair.workerSessionsNow.first)
        if !w.isOpen {
            #expect(throws: PeerWireError.notOpen) { try w.send(.jobAck(Array("{}".utf8))) }
        }
        let r = try await w.request(method: "POST", path: "/echo", body: [7])
        #expect(r.body == [7])
        await pair.shutdown()
    }

    @Test("a request without an answer times out; a channel without a handler answers 404")
    func timeoutAndNoHandler() async throws {
        let pair = WirePair(onGatewayRequest: echoHandler)
        let (g, w) = try await pair.connect()
        await #expect(throws: PeerWireError.timedOut(what: "GET /slow", after: .milliseconds(200))) {
            _ = try await w.request(method: "GET", path: "/slow", timeout: .milliseconds(200))
        }
        // The worker side has no request handler.
        let r = try await g.request(method: "GET", path: "/health")
        #expect(r.statusCode == 404)
        // The channel still works after the timeout and the late answer.
        try await Task.sleep(for: .seconds(2))
        #expect(try await w.request(method: "POST", path: "/echo", body: [1]).body == [1])
        await pair.shutdown()
    }

    @Test("health round trip uses the worker's provider")
    func health() async throws {
        let pair = WirePair(onWorkerHealth: { PeerWireHealth(status: "ok", info: ["relays": "1"]) })
        let (g, _) = try await pair.connect()
        let h = try await g.health()
        #expect(h.status == "ok")
        #expect(h.info?["relays"] == "1")
        await pair.shutdown()
    }

    @Test("telemetry, control frames and job messages arrive typed, to the subscribers of their ids")
    func oneWayMessages() async throws {
        let pair = WirePair()
        let (g, w) = try await pair.connect()
        let telemetry = g.messages([.telemetry])
        let jobs = g.messages([.jobResults, .jobAck])
        let control = w.messages([.control, .job, .jobStop])

        let hb = PeerHeartbeat(
            peerId: pair.worker.publicKey.hex, relayKey: [UInt8](repeating: 1, count: 32).hex,
            reportedAt: 1_767_225_600_000, inFlightJobs: 2, latencyMs: 12.5, hyperbeeLength: 10,
            hyperbeeContiguousLength: 8, hyperbeeLag: 2)
        try w.send(.telemetry(hb))
        try w.send(.jobAck(Array(#"{"jobId":"j1","attempt":1,"status":"accepted"}"#.utf8)))
        try w.send(.jobResults(Array(#"{"jobId":"j1","attempt":1,"events":[]}"#.utf8)))

        let gatewayKey = try Ed25519KeyPair(seed: [UInt8](repeating: 7, count: 32))
        let notice = ReplicationControlNotice(relayKey: hb.relayKey, reason: "maintenance")
        let frame = try ControlFrame.sign(
            type: ControlFrameType.pauseReplication.rawValue, payload: Array(try PayloadCodec.encode(notice)),
            sequence: 1, timestamp: 1_767_225_600_000, keyPair: gatewayKey)
        try g.send(.control(frame))
        try g.send(.job(Array(#"{"jobId":"j2"}"#.utf8)))
        try g.send(.jobStop(Array(#"{"jobId":"j2","attempt":1,"reason":"cancelled"}"#.utf8)))

        var t = telemetry.makeAsyncIterator()
        #expect(await t.next() == .telemetry(hb))
        var j = jobs.makeAsyncIterator()
        #expect(await j.next() == .jobAck(Array(#"{"jobId":"j1","attempt":1,"status":"accepted"}"#.utf8)))
        #expect(await j.next() == .jobResults(Array(#"{"jobId":"j1","attempt":1,"events":[]}"#.utf8)))
        var c = control.makeAsyncIterator()
        guard case .control(let received)? = await c.next() else {
            Issue.record("expected a control frame")
            return
        }
        let guardian = ControlFrameGuard(
            trustedGatewayKeys: [gatewayKey.publicKey], store: InMemoryControlFrameSequenceStore())
        #expect(try guardian.accept(received.encoded()) == frame)
        #expect(await c.next() == .job(Array(#"{"jobId":"j2"}"#.utf8)))
        #expect(await c.next() == .jobStop(Array(#"{"jobId":"j2","attempt":1,"reason":"cancelled"}"#.utf8)))
        #expect(throws: PeerWireError.notOneWay(.request)) {
            try w.send(.request(PeerWireRequest(id: 1, method: "GET", path: "/")))
        }
        await pair.shutdown()
    }

    @Test("closing fails pending requests, ends subscriptions and refuses sends")
    func closing() async throws {
        let pair = WirePair(onGatewayRequest: echoHandler)
        let (g, w) = try await pair.connect()
        let sub = w.messages([.control])
        let slow = Task { try await w.request(method: "GET", path: "/slow", timeout: .seconds(10)) }
        try await Task.sleep(for: .milliseconds(100))
        g.close(reason: "test over")
        await #expect(throws: PeerWireError.self) { _ = try await slow.value }
        var it = sub.makeAsyncIterator()
        #expect(await it.next() == nil)
        #expect(await w.waitUntilClosed() == "closed by the remote")
        #expect(await g.waitUntilClosed() == "test over")
        #expect(throws: PeerWireError.self) { try w.send(.jobAck(Array("{}".utf8))) }
        await pair.shutdown()
    }

    @Test("a peer with a 1.x handshake is refused and the channel closes")
    func incompatible() async throws {
        let pair = WirePair(workerHandshake: PeerWireHandshake(version: "1.0", role: "worker"))
        let address = try await pair.gateway.listen()
        _ = try await pair.worker.connect(to: address)
        let w = try #require(pair.workerSessionsNow.first)
        #expect(await w.waitUntilClosed() == "closed by the remote")
        #expect(await eventually { pair.gatewaySessionsNow.first?.isClosed == true })
        let reason = try #require(pair.gatewaySessionsNow.first?.closedReason)
        #expect(reason.contains("is not 2.x"))
        await pair.shutdown()
    }

    @Test("codecs: JS Buffer bodies, strict envelopes, unknown ids")
    func codecs() throws {
        // A JavaScript peer's c.json of a Buffer body.
        let js = Array(#"{"id":3,"statusCode":200,"body":{"type":"Buffer","data":[104,105]}}"#.utf8)
        var w = CompactWriter()
        w.buffer(js)
        #expect(
            try PeerWireCodec.decode(id: 1, payload: w.bytes)
                == .response(PeerWireResponse(id: 3, statusCode: 200, body: Array("hi".utf8))))
        for bad in [
            #"{"id":1,"method":"get","path":"/"}"#, #"{"id":1,"method":"GET","path":"relative"}"#,
            #"{"id":-1,"method":"GET","path":"/"}"#, #"{"id":1,"method":"GET","path":"/","body":"%%%"}"#, "[1,2]",
        ] {
            var b = CompactWriter()
            b.buffer(Array(bad.utf8))
            #expect(throws: PeerWireError.self) { try PeerWireCodec.decode(id: 0, payload: b.bytes) }
        }
        #expect(throws: PeerWireError.malformed(messageID: 99, reason: "unknown message id")) {
            try PeerWireCodec.decode(id: 99, payload: [])
        }
        // Every message round-trips through its codec.
        let frame = try ControlFrame.sign(
            type: "reassign", payload: [], sequence: 9, timestamp: 1_767_225_600_000,
            keyPair: try Ed25519KeyPair(seed: [UInt8](repeating: 3, count: 32)))
        let messages: [PeerWireMessage] = [
            .request(PeerWireRequest(id: 1, method: "POST", path: "/a", headers: ["k": "v"], body: [0, 255])),
            .response(PeerWireResponse(id: 2, statusCode: 503, body: nil)),
            .wsFrame(Array(#"{"connectionKey":"c","relay":"r","data":"x"}"#.utf8)), .health(id: 4),
            .healthResponse(PeerWireHealth(id: 4, status: "ok")), .control(frame), .job(Array("{}".utf8)),
            .jobResults(Array("{}".utf8)), .jobAck(Array("{}".utf8)), .jobStop(Array("{}".utf8)),
        ]
        for m in messages {
            #expect(try PeerWireCodec.decode(id: m.id.rawValue, payload: PeerWireCodec.encode(m)) == m)
        }
        // The handshake is compact-encoding json with the deployed field names.
        var r = CompactReader(PeerWireHandshake.worker().encoded)
        let text = try r.string()
        #expect(text.contains(#""isServer":true"#) && text.contains(#""version":"2.0""#))
        #expect(throws: PeerWireError.self) { try PeerWireHandshake.decode(PeerWireCodec.jsonString(Array("{}".utf8))) }
    }
}
