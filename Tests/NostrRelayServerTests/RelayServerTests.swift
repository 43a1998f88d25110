import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSTesting
import Logging
import NIOCore
import NostrRelay
import Prometheus
import Synchronization
import Testing

@testable import NostrRelayServer

/// A stand-in engine: echoes every frame back as a NOTICE; "close" closes with 4000; "flood" sends `flood` frames.
final class EchoFrontend: RelayFrontend {
    let flood: Int
    let events = Mutex<[String]>([])
    init(flood: Int = 0) { self.flood = flood }

    final class Session: RelaySession {
        let outbound: ConnectionOutbound
        let frontend: EchoFrontend
        init(_ outbound: ConnectionOutbound, _ frontend: EchoFrontend) {
            self.outbound = outbound
            self.frontend = frontend
        }
        func receive(_ text: String) async {
            frontend.events.withLock { $0.append("receive \(text)") }
            switch text {
            case "close": outbound.close(code: 4000, reason: "bye")
            case "flood":
                var refused = 0
                for i in 0..<frontend.flood where !outbound.send("[\"NOTICE\",\"\(i)\"]") { refused += 1 }
                frontend.events.withLock { $0.append("refused \(refused)") }
            default: _ = outbound.send("[\"NOTICE\",\"echo \(text)\"]")
            }
        }
        func disconnected() { frontend.events.withLock { $0.append("disconnected") } }
    }

    func openSession(remoteAddress: String, outbound: ConnectionOutbound) -> any RelaySession {
        events.withLock { $0.append("open \(remoteAddress)") }
        return Session(outbound, self)
    }
    func informationDocument() -> String { #"{"name":"echo","supported_nips":[1,11]}"# }
    func shutdown() async throws {}
}

@Suite("Relay HTTP and websocket front")
struct RelayServerTests {
    let logger = Logger(label: "test")

    func app(_ frontend: EchoFrontend, registry: PrometheusCollectorRegistry? = nil, capacity: Int = 64)
        -> some ApplicationProtocol
    {
        RelayServer.makeApplication(
            frontend: frontend,
            settings: RelayServerSettings(
                host: "127.0.0.1", port: 0, maxMessageBytes: 4096, outboundBufferMessages: capacity),
            registry: registry, logger: logger)
    }

    @Test("NIP-11 on / with Accept: application/nostr+json and the three CORS headers")
    func nip11() async throws {
        try await app(EchoFrontend()).test(.live) { client in
            try await client.execute(uri: "/", method: .get, headers: [.accept: "application/nostr+json"]) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType] == "application/nostr+json")
                #expect(r.headers[.accessControlAllowOrigin] == "*")
                #expect(r.headers[.accessControlAllowHeaders] == "*")
                #expect(r.headers[.accessControlAllowMethods] == "GET, OPTIONS")
                #expect(String(buffer: r.body) == #"{"name":"echo","supported_nips":[1,11]}"#)
            }
            try await client.execute(uri: "/", method: .options) { r in
                #expect(r.status == .noContent)
                #expect(r.headers[.accessControlAllowOrigin] == "*")
            }
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
            }
        }
    }

    @Test("/health answers JSON and /metrics serves the Prometheus registry")
    func healthAndMetrics() async throws {
        let registry = PrometheusCollectorRegistry()
        registry.makeCounter(descriptor: .init(metricName: "probe", unitName: "total", helpText: "test probe"))
            .increment(by: Int64(3))
        try await app(EchoFrontend(), registry: registry).test(.live) { client in
            try await client.execute(uri: "/health", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).hasPrefix(#"{"status":"ok","connections":0"#))
            }
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("probe_total 3"))
            }
        }
        try await app(EchoFrontend(), registry: nil).test(.live) { client in
            try await client.execute(uri: "/metrics", method: .get) { r in #expect(r.status == .notFound) }
        }
    }

    @Test("websocket frames reach the engine session and its replies come back; engine close is delivered")
    func websocketRoundTrip() async throws {
        let frontend = EchoFrontend()
        try await app(frontend).test(.live) { client in
            let received = Mutex<[String]>([])
            let close = try await client.ws("/") { inbound, outbound, _ in
                try await outbound.write(.text("hello"))
                try await outbound.write(.text("close"))
                for try await message in inbound.messages(maxSize: 1 << 16) {
                    if case .text(let t) = message { received.withLock { $0.append(t) } }
                }
            }
            #expect(received.withLock { $0 } == [#"["NOTICE","echo hello"]"#])
            #expect(close?.closeCode == .init(codeNumber: 4000))
            #expect(close?.reason == "bye")
        }
        let log = frontend.events.withLock { $0 }
        #expect(log.first?.hasPrefix("open 127.0.0.1") == true)
        #expect(log.contains("receive hello") && log.last == "disconnected")
    }

    @Test("a burst beyond the bounded outbound buffer is refused and the connection is closed")
    func slowReaderDropped() async throws {
        let frontend = EchoFrontend(flood: 5000)
        try await app(frontend, capacity: 16).test(.live) { client in
            let close = try await client.ws("/") { inbound, outbound, _ in
                try await outbound.write(.text("flood"))
                for try await _ in inbound.messages(maxSize: 1 << 16) {}
            }
            #expect(close?.closeCode == .init(codeNumber: 1008))
        }
        let refused = frontend.events.withLock { $0 }.first { $0.hasPrefix("refused") }
        let count = Int(refused?.split(separator: " ").last ?? "0") ?? 0
        #expect(count > 0 && count <= 5000 - 16)
    }

    @Test("the outbound queue refuses frames past its capacity and then reports closing")
    func queueBound() {
        let queue = ConnectionOutbound(capacity: 3)
        #expect((0..<3).allSatisfy { queue.send("\($0)") })
        #expect(!queue.isClosing)
        #expect(!queue.send("overflow"))
        #expect(queue.isClosing)
        #expect(!queue.send("after"))
    }
}

@Suite("Gateway front over the real engine")
struct EngineFrontTests {
    @Test("an EVENT over the websocket is stored and acknowledged, then served back to a REQ with one EOSE")
    func publishAndQuery() async throws {
        var config = RelayConfiguration(auth: .disabled)
        config.eventsPerIP = .unlimited
        let relay = Relay(
            configuration: config, store: InMemoryEventStore(), policy: OpenWritePolicy(), logger: Logger(label: "t"))
        let app = RelayServer.makeApplication(
            frontend: relay, settings: RelayServerSettings(host: "127.0.0.1", port: 0), registry: nil,
            logger: Logger(label: "t"))
        let event = try NostrEvent.signed(
            secretKey: [UInt8](repeating: 3, count: 32), createdAt: Int64(Date().timeIntervalSince1970), kind: 1,
            content: "over the wire")
        try await app.test(.live) { client in
            let frames = Mutex<[String]>([])
            try await client.ws("/") { inbound, outbound, _ in
                var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                func next() async throws -> String? {
                    guard case .text(let t) = try await iterator.next() else { return nil }
                    frames.withLock { $0.append(t) }
                    return t
                }
                try await outbound.write(.text("[\"EVENT\",\(event.json)]"))
                _ = try await next()
                try await outbound.write(.text(#"["REQ","s",{"ids":["\#(event.id)"]}]"#))
                _ = try await next()
                _ = try await next()
                try await outbound.close(.normalClosure, reason: nil)
            }
            #expect(
                frames.withLock { $0 } == [
                    #"["OK","\#(event.id)",true,""]"#, #"["EVENT","s",\#(event.json)]"#, #"["EOSE","s"]"#,
                ])
        }
        try await relay.shutdown()
    }
}
