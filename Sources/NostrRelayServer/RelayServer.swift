import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore
import Prometheus
import Synchronization

/// Settings of the HTTP/websocket front (a subset of `GatewayConfiguration`).
public struct RelayServerSettings: Sendable {
    public var host: String
    public var port: Int
    /// Largest inbound websocket message (and frame) accepted.
    public var maxMessageBytes: Int
    /// Frames buffered per connection before a slow reader is dropped.
    public var outboundBufferMessages: Int
    /// Where Prometheus text is served; nil disables `/metrics`.
    public var metricsPath: String?

    public init(
        host: String = "127.0.0.1", port: Int = 4430, maxMessageBytes: Int = 128 * 1024,
        outboundBufferMessages: Int = 8192, metricsPath: String? = "/metrics"
    ) {
        self.host = host
        self.port = port
        self.maxMessageBytes = maxMessageBytes
        self.outboundBufferMessages = outboundBufferMessages
        self.metricsPath = metricsPath
    }

    public init(_ configuration: GatewayConfiguration) {
        self.init(
            host: configuration.host, port: configuration.port, maxMessageBytes: configuration.limits.maxMessageBytes,
            outboundBufferMessages: configuration.limits.outboundBufferMessages,
            metricsPath: configuration.metricsEnabled ? configuration.metricsPath : nil)
    }
}

/// Live counters of the front, shown by `/health`.
public final class RelayServerStatus: Sendable {
    private let openConnections = Mutex(0)
    public let startedAt = Date()
    public init() {}
    public var connections: Int { openConnections.withLock { $0 } }
    func opened() { openConnections.withLock { $0 += 1 } }
    func closed() { openConnections.withLock { $0 -= 1 } }
}

/// What to do with one websocket upgrade (see `RelayServer.makeApplication(authorizer:)`).
public enum WebSocketAdmission: Sendable {
    /// Serve the session with this frontend (the default one, or one bound to what the request presented).
    case serve(any RelayFrontend)
    /// Upgrade, then close at once with this code and reason (4403 for a bad token).
    case close(code: UInt16, reason: String)
}

/// Decides a websocket upgrade from the request (path with query, headers) and the remote address.
public typealias WebSocketAuthorizer = @Sendable (_ request: HTTPRequest, _ remoteAddress: String) -> WebSocketAdmission

/// Extra HTTP routes the application adds beside the relay's own (the gateway's peer plane and admin API).
public typealias RouteInstaller = @Sendable (Router<BasicRequestContext>) -> Void

/// Builds the Hummingbird application that serves the relay: websocket upgrade and NIP-11 on `/`, `/health`,
/// and Prometheus `/metrics`.
public enum RelayServer {
    /// The three CORS headers NIP-11 asks for.
    public static let corsHeaders: HTTPFields = [
        .accessControlAllowOrigin: "*",
        .accessControlAllowHeaders: "*",
        .accessControlAllowMethods: "GET, OPTIONS",
    ]

    /// Builds the application. Run it directly or inside a `ServiceGroup`.
    public static func makeApplication(
        frontend: any RelayFrontend,
        settings: RelayServerSettings,
        registry: PrometheusCollectorRegistry?,
        status: RelayServerStatus = RelayServerStatus(),
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in },
        authorizer: WebSocketAuthorizer? = nil,
        routes: RouteInstaller? = nil,
        healthDetails: (@Sendable () -> String)? = nil
    ) -> some ApplicationProtocol {
        let router = makeRouter(
            frontend: frontend, settings: settings, registry: registry, status: status, routes: routes,
            healthDetails: healthDetails)
        let sessionCounter = Gauge(label: "gateway_active_sessions")
        let inboundCounter = Counter(label: "gateway_relay_websocket_messages_total", dimensions: [("direction", "in")])
        let errorCounter = Counter(label: "gateway_relay_websocket_errors_total", dimensions: [("stage", "receive")])
        // The engine answers frames a little over its limit with a NOTICE and keeps the connection; frames over twice
        // the limit are cut off by the websocket layer (close 1009) before they are buffered whole.
        let maxMessage = settings.maxMessageBytes * 2
        let capacity = settings.outboundBufferMessages
        let wsConfiguration = WebSocketServerConfiguration(
            maxFrameSize: maxMessage, autoPing: .enabled(timePeriod: .seconds(30)), closeTimeout: .seconds(5),
            validateUTF8: true)
        let server = HTTPServerBuilder.http1WebSocketUpgrade(
            configuration: .init(http1: .init(), ws: wsConfiguration)
        ) { request, channel, _ in
            guard request.path == "/" || request.path?.hasPrefix("/?") == true else { return .dontUpgrade }
            let remote = channel.remoteAddress?.ipAddress ?? "unknown"
            let admission = authorizer?(request, remote) ?? .serve(frontend)
            return .upgrade([:]) { inbound, outbound, context in
                guard case .serve(let frontend) = admission else {
                    if case .close(let code, let reason) = admission {
                        try? await outbound.close(.init(codeNumber: Int(code)), reason: reason)
                    }
                    return
                }
                let queue = ConnectionOutbound(capacity: capacity)
                let session = frontend.openSession(remoteAddress: remote, outbound: queue)
                status.opened()
                sessionCounter.record(status.connections)
                defer {
                    queue.finish()
                    session.disconnected()
                    status.closed()
                    sessionCounter.record(status.connections)
                }
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        // Writer: returns when the engine closes the connection or the socket fails.
                        _ = try? await queue.drain(into: outbound)
                    }
                    group.addTask {
                        do {
                            for try await message in inbound.messages(maxSize: maxMessage) {
                                inboundCounter.increment()
                                switch message {
                                case .text(let text):
                                    await session.receive(text)
                                case .binary(let buffer):
                                    if let text = buffer.getString(at: buffer.readerIndex, length: buffer.readableBytes)
                                    {
                                        await session.receive(text)
                                    }
                                }
                                if queue.isClosing { break }
                            }
                        } catch {
                            errorCounter.increment()
                            context.logger.debug("websocket receive ended", metadata: ["error": "\(error)"])
                            _ = queue.send(#"["NOTICE","error: message too large or malformed frame"]"#)
                            queue.close(code: 1009, reason: "message too large or malformed")
                        }
                        queue.finish()
                    }
                    await group.next()
                    // Either side ended: stop the other one after the close frame had its chance to go out.
                    queue.finish()
                    await group.next()
                    group.cancelAll()
                }
            }
        }
        return Application(
            router: router, server: server,
            configuration: .init(
                address: .hostname(settings.host, port: settings.port), serverName: "hypertuna-gateway"),
            onServerRunning: onServerRunning, logger: logger)
    }

    /// HTTP routes (shared with the tests).
    public static func makeRouter(
        frontend: any RelayFrontend, settings: RelayServerSettings, registry: PrometheusCollectorRegistry?,
        status: RelayServerStatus, routes: RouteInstaller? = nil, healthDetails: (@Sendable () -> String)? = nil
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { request, _ -> Response in
            let accept = request.headers[.accept] ?? ""
            if accept.lowercased().contains("application/nostr+json") {
                var headers = corsHeaders
                headers[.contentType] = "application/nostr+json"
                return Response(
                    status: .ok, headers: headers,
                    body: .init(byteBuffer: ByteBuffer(string: frontend.informationDocument())))
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(
                    byteBuffer: ByteBuffer(
                        string:
                            "Hypertuna gateway: a Nostr relay. Connect a Nostr client to this URL with ws://, "
                            + "or ask for the NIP-11 document with Accept: application/nostr+json.\n")))
        }
        router.on("/", method: .options) { _, _ -> Response in
            Response(status: .noContent, headers: corsHeaders)
        }
        router.get("/health") { _, _ -> Response in
            let uptime = Int(Date().timeIntervalSince(status.startedAt))
            var body = #"{"status":"ok","connections":\#(status.connections),"uptimeSeconds":\#(uptime)"#
            if let extra = healthDetails?(), !extra.isEmpty { body += "," + extra }
            body += "}"
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        if let registry, let path = settings.metricsPath {
            router.get(RouterPath(path)) { _, _ -> Response in
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            }
        }
        routes?(router)
        return router
    }
}
