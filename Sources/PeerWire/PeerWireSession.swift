import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PeerProtocol
import SwarmTransport

/// The `PeerWireChannel` over one `SwarmConnection`.
///
/// Thread-safety: `@unchecked Sendable` because `channel` (a protomux channel) is only touched on the
/// connection's event loop; everything else mutable lives in `state` (a lock), and no callback or continuation
/// runs while the lock is held.
public final class PeerWireSession: PeerWireChannel, @unchecked Sendable, CustomStringConvertible {
    /// The protomux protocol name (deployed JS).
    public static let protocolName = "hypertuna-relay-v2"

    /// Limits and timers of one channel.
    public struct Options: Sendable {
        /// Default timeout of `request` and `health`.
        public var requestTimeout: Duration = .seconds(10)
        /// Most of our requests awaiting answers at once.
        public var maxPendingRequests = 256
        /// Most inbound requests being handled at once; more are answered 429 at once.
        public var maxConcurrentInboundRequests = 64
        /// Largest message payload accepted or sent (larger inbound ones are dropped and logged; a larger response
        /// is replaced by a 500).
        public var maxMessageBytes = 16 << 20

        public init() {}
    }

    /// Answers an inbound request (the session fills in the response id).
    public typealias RequestHandler = @Sendable (PeerWireRequest) async -> PeerWireResponse
    /// Sees every inbound one-way message, on the event loop, before subscribers; keep it short.
    public typealias MessageHandler = @Sendable (PeerWireMessage) -> Void
    /// Builds our health answer (message 4); without one, health requests are answered `ok`.
    public typealias HealthProvider = @Sendable () -> PeerWireHealth
    /// Called once when the channel closes, with the reason.
    public typealias CloseHandler = @Sendable (String) -> Void

    public let connection: SwarmConnection
    public let localHandshake: PeerWireHandshake
    public let options: Options
    let logger: Logger
    private let onRequest: RequestHandler?
    private let onMessage: MessageHandler?
    private let onHealth: HealthProvider?
    private let onClose: CloseHandler?

    /// Event loop only.
    private var channel: MuxChannel?

    private struct Subscriber {
        var ids: Set<PeerWireMessageID>
        var continuation: AsyncStream<PeerWireMessage>.Continuation
    }

    private struct State {
        var remote: PeerWireHandshake?
        var open = false
        var closedReason: String?
        var nextRequestID: UInt64 = 1
        var pending: [UInt64: CheckedContinuation<PeerWireResponse, any Error>] = [:]
        var pendingHealth: [UInt64: CheckedContinuation<PeerWireHealth, any Error>] = [:]
        var openWaiters: [UInt64: CheckedContinuation<PeerWireHandshake, any Error>] = [:]
        var closeWaiters: [CheckedContinuation<String, Never>] = []
        var nextWaiterID: UInt64 = 1
        var subscribers: [UInt64: Subscriber] = [:]
        var nextSubscriberID: UInt64 = 1
        var inboundRequests = 0
    }

    private let state = NIOLockedValueBox(State())

    private init(
        connection: SwarmConnection, handshake: PeerWireHandshake, options: Options, logger: Logger,
        onRequest: RequestHandler?, onMessage: MessageHandler?, onHealth: HealthProvider?, onClose: CloseHandler?
    ) {
        self.connection = connection
        self.localHandshake = handshake
        self.options = options
        self.logger = logger
        self.onRequest = onRequest
        self.onMessage = onMessage
        self.onHealth = onHealth
        self.onClose = onClose
    }

    /// Opens the channel on `connection`. Call it from the node's connection handler (on the event loop, before
    /// any frame is processed) so the remote's open pairs with ours; from elsewhere it hops to the loop, and a
    /// remote open that arrived first will have been rejected by protomux.
    public static func open(
        on connection: SwarmConnection, handshake: PeerWireHandshake, options: Options = Options(),
        logger: Logger = Logger(label: "hypertuna.peerwire"), onRequest: RequestHandler? = nil,
        onMessage: MessageHandler? = nil, onHealth: HealthProvider? = nil, onClose: CloseHandler? = nil
    ) -> PeerWireSession {
        let session = PeerWireSession(
            connection: connection, handshake: handshake, options: options, logger: logger, onRequest: onRequest,
            onMessage: onMessage, onHealth: onHealth, onClose: onClose)
        if connection.eventLoop.inEventLoop {
            session.openOnLoop()
        } else {
            connection.eventLoop.execute { session.openOnLoop() }
        }
        // A connection that is already gone never calls back: close now.
        connection.closeFuture.whenComplete { _ in
            connection.eventLoop.execute { session.finish(reason: "connection closed") }
        }
        return session
    }

    private func openOnLoop() {
        guard let mux = connection.mux, connection.isActive else {
            finish(reason: "connection closed before the channel opened")
            return
        }
        let ch = mux.open(
            protocol: Self.protocolName, handshake: localHandshake.encoded,
            onOpen: { [weak self] ch, hs in
                self?.channel = ch
                self?.opened(remote: hs)
            },
            onMessage: { [weak self] _, type, payload in self?.received(type: type, payload: payload) },
            onClose: { [weak self] _, remote in
                self?.finish(reason: remote ? "closed by the remote" : "closed locally")
            })
        if let ch {
            if channel == nil { channel = ch }
        } else {
            finish(reason: "a \(Self.protocolName) channel is already open on this connection")
        }
    }

    public var description: String { "PeerWireSession(\(connection.remotePublicKey.hex.prefix(8)))" }

    // MARK: state

    public var remotePublicKey: [UInt8] { connection.remotePublicKey }
    public var remoteHandshake: PeerWireHandshake? { state.withLockedValue { $0.remote } }
    public var isOpen: Bool { state.withLockedValue { $0.open && $0.closedReason == nil } }
    public var isClosed: Bool { state.withLockedValue { $0.closedReason != nil } }
    /// Why the channel closed, once it did.
    public var closedReason: String? { state.withLockedValue { $0.closedReason } }

    private func opened(remote bytes: [UInt8]) {
        let hs: PeerWireHandshake
        do {
            hs = try PeerWireHandshake.decode(bytes)
        } catch {
            logger.notice("closing peer channel", metadata: ["peer": "\(self)", "reason": "\(error)"])
            finish(reason: error.description)
            channel?.close()
            return
        }
        let waiters = state.withLockedValue { s -> [CheckedContinuation<PeerWireHandshake, any Error>] in
            guard s.closedReason == nil else { return [] }
            s.remote = hs
            s.open = true
            defer { s.openWaiters = [:] }
            return Array(s.openWaiters.values)
        }
        for w in waiters { w.resume(returning: hs) }
    }

    /// Marks the channel closed once: fails pending work, ends subscriptions, tells the owner.
    private func finish(reason: String) {
        let taken = state.withLockedValue {
            s -> (
                [CheckedContinuation<PeerWireResponse, any Error>], [CheckedContinuation<PeerWireHealth, any Error>],
                [CheckedContinuation<PeerWireHandshake, any Error>], [CheckedContinuation<String, Never>],
                [Subscriber]
            )? in
            guard s.closedReason == nil else { return nil }
            s.closedReason = reason
            s.open = false
            defer {
                s.pending = [:]
                s.pendingHealth = [:]
                s.openWaiters = [:]
                s.closeWaiters = []
                s.subscribers = [:]
            }
            return (
                Array(s.pending.values), Array(s.pendingHealth.values), Array(s.openWaiters.values), s.closeWaiters,
                Array(s.subscribers.values)
            )
        }
        guard let (pending, health, openers, closers, subscribers) = taken else { return }
        let error = PeerWireError.closed(reason: reason)
        for p in pending { p.resume(throwing: error) }
        for h in health { h.resume(throwing: error) }
        for o in openers { o.resume(throwing: error) }
        for s in subscribers { s.continuation.finish() }
        for c in closers { c.resume(returning: reason) }
        onClose?(reason)
    }

    // MARK: PeerWireChannel

    public func waitUntilOpen(timeout: Duration) async throws -> PeerWireHandshake {
        let id: UInt64 = state.withLockedValue { s in
            defer { s.nextWaiterID += 1 }
            return s.nextWaiterID
        }
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<PeerWireHandshake, any Error>) in
            let immediate: Result<PeerWireHandshake, any Error>? = state.withLockedValue { s in
                if let r = s.closedReason { return .failure(PeerWireError.closed(reason: r)) }
                if s.open, let hs = s.remote { return .success(hs) }
                s.openWaiters[id] = c
                return nil
            }
            if let immediate {
                c.resume(with: immediate)
                return
            }
            connection.eventLoop.scheduleTask(in: .nanoseconds(Self.nanoseconds(timeout))) { [weak self] in
                guard let self, let w = self.state.withLockedValue({ $0.openWaiters.removeValue(forKey: id) })
                else { return }
                w.resume(throwing: PeerWireError.timedOut(what: "the channel handshake", after: timeout))
            }
        }
    }

    public func request(
        method: String, path: String, headers: [String: String], body: [UInt8]?, timeout: Duration?
    ) async throws -> PeerWireResponse {
        let limit = options.maxPendingRequests
        let timeout = timeout ?? options.requestTimeout
        // Messages sent before the remote's open would be dropped by protomux: wait for the handshake first.
        if !isOpen { try await waitUntilOpen(timeout: timeout) }
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<PeerWireResponse, any Error>) in
            let outcome: Result<UInt64, PeerWireError> = state.withLockedValue { s in
                if let r = s.closedReason { return .failure(.closed(reason: r)) }
                guard s.pending.count < limit else { return .failure(.tooManyPendingRequests(limit: limit)) }
                let id = s.nextRequestID
                s.nextRequestID += 1
                s.pending[id] = c
                return .success(id)
            }
            let id: UInt64
            switch outcome {
            case .failure(let e):
                c.resume(throwing: e)
                return
            case .success(let i): id = i
            }
            let message = PeerWireMessage.request(
                PeerWireRequest(id: id, method: method, path: path, headers: headers, body: body))
            let bytes: [UInt8]
            do { bytes = try PeerWireCodec.encode(message) } catch {
                state.withLockedValue { $0.pending.removeValue(forKey: id) }?.resume(throwing: error)
                return
            }
            write(.request, bytes)
            connection.eventLoop.scheduleTask(in: .nanoseconds(Self.nanoseconds(timeout))) { [weak self] in
                guard let self, let p = self.state.withLockedValue({ $0.pending.removeValue(forKey: id) }) else {
                    return
                }
                p.resume(throwing: PeerWireError.timedOut(what: "\(method) \(path)", after: timeout))
            }
        }
    }

    public func health(timeout: Duration?) async throws -> PeerWireHealth {
        let timeout = timeout ?? options.requestTimeout
        if !isOpen { try await waitUntilOpen(timeout: timeout) }
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<PeerWireHealth, any Error>) in
            let outcome: Result<UInt64, PeerWireError> = state.withLockedValue { s in
                if let r = s.closedReason { return .failure(.closed(reason: r)) }
                let id = s.nextRequestID
                s.nextRequestID += 1
                s.pendingHealth[id] = c
                return .success(id)
            }
            guard case .success(let id) = outcome else {
                if case .failure(let e) = outcome { c.resume(throwing: e) }
                return
            }
            // Encoding a health envelope cannot fail.
            write(.health, try! PeerWireCodec.encode(.health(id: id)))
            connection.eventLoop.scheduleTask(in: .nanoseconds(Self.nanoseconds(timeout))) { [weak self] in
                guard let self, let p = self.state.withLockedValue({ $0.pendingHealth.removeValue(forKey: id) })
                else { return }
                p.resume(throwing: PeerWireError.timedOut(what: "health", after: timeout))
            }
        }
    }

    public func send(_ message: PeerWireMessage) throws {
        switch message.id {
        case .request, .response, .health, .healthResponse: throw PeerWireError.notOneWay(message.id)
        default: break
        }
        if let r = closedReason { throw PeerWireError.closed(reason: r) }
        guard isOpen else { throw PeerWireError.notOpen }
        let bytes = try PeerWireCodec.encode(message)
        guard bytes.count <= options.maxMessageBytes else {
            throw PeerWireError.messageTooLarge(bytes: bytes.count, limit: options.maxMessageBytes)
        }
        write(message.id, bytes)
    }

    public func messages(_ ids: Set<PeerWireMessageID>, bufferSize: Int) -> AsyncStream<PeerWireMessage> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: PeerWireMessage.self, bufferingPolicy: .bufferingNewest(max(1, bufferSize)))
        let id: UInt64? = state.withLockedValue { s in
            guard s.closedReason == nil else { return nil }
            let id = s.nextSubscriberID
            s.nextSubscriberID += 1
            s.subscribers[id] = Subscriber(ids: ids, continuation: continuation)
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLockedValue { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public func close(reason: String = "closed locally") {
        connection.eventLoop.execute { [self] in
            finish(reason: reason)
            channel?.close()
        }
    }

    public func waitUntilClosed() async -> String {
        await withCheckedContinuation { (c: CheckedContinuation<String, Never>) in
            let done: String? = state.withLockedValue { s in
                if let r = s.closedReason { return r }
                s.closeWaiters.append(c)
                return nil
            }
            if let done { c.resume(returning: done) }
        }
    }

    // MARK: wire

    private func write(_ id: PeerWireMessageID, _ bytes: [UInt8]) {
        connection.eventLoop.execute { [self] in
            _ = channel?.send(type: id.rawValue, bytes)
        }
    }

    private func received(type: UInt64, payload: [UInt8]) {
        guard payload.count <= options.maxMessageBytes else {
            logger.notice(
                "dropping oversized peer message",
                metadata: ["peer": "\(self)", "id": "\(type)", "bytes": "\(payload.count)"])
            return
        }
        let message: PeerWireMessage
        do {
            message = try PeerWireCodec.decode(id: type, payload: payload)
        } catch {
            logger.notice("ignoring malformed peer message", metadata: ["peer": "\(self)", "error": "\(error)"])
            if type == PeerWireMessageID.request.rawValue, let id = Self.requestID(payload) {
                reply(PeerWireResponse.error(400, error.description), to: id)
            }
            return
        }
        switch message {
        case .request(let r): handle(r)
        case .response(let r):
            state.withLockedValue { $0.pending.removeValue(forKey: r.id) }?.resume(returning: r)
        case .health(let id):
            if let onHealth {
                var h = onHealth()
                h.id = id
                write(.healthResponse, (try? PeerWireCodec.encode(.healthResponse(h))) ?? [])
            } else {
                write(
                    .healthResponse,
                    (try? PeerWireCodec.encode(.healthResponse(PeerWireHealth(id: id, status: "ok")))) ?? [])
            }
        case .healthResponse(let h):
            state.withLockedValue { $0.pendingHealth.removeValue(forKey: h.id) }?.resume(returning: h)
        default:
            onMessage?(message)
            let targets = state.withLockedValue { s in
                s.subscribers.values.filter { $0.ids.contains(message.id) }.map(\.continuation)
            }
            for t in targets {
                if case .dropped = t.yield(message) {
                    logger.notice(
                        "peer message subscriber is behind: dropped its oldest message",
                        metadata: ["peer": "\(self)", "id": "\(message.id)"])
                }
            }
        }
    }

    private func handle(_ request: PeerWireRequest) {
        let limit = options.maxConcurrentInboundRequests
        let admitted = state.withLockedValue { s -> Bool in
            guard s.inboundRequests < limit else { return false }
            s.inboundRequests += 1
            return true
        }
        guard admitted else {
            reply(.error(429, "more than \(limit) requests in flight on this channel"), to: request.id)
            return
        }
        guard let onRequest else {
            state.withLockedValue { $0.inboundRequests -= 1 }
            reply(.error(404, "no handler for \(request.method) \(request.route)"), to: request.id)
            return
        }
        Task { [self] in
            let response = await onRequest(request)
            state.withLockedValue { $0.inboundRequests -= 1 }
            reply(response, to: request.id)
        }
    }

    private func reply(_ response: PeerWireResponse, to id: UInt64) {
        var r = response
        r.id = id
        guard var bytes = try? PeerWireCodec.encode(.response(r)) else { return }
        if bytes.count > options.maxMessageBytes {
            // Encoding an error envelope cannot fail.
            bytes = try! PeerWireCodec.encode(
                .response(PeerWireResponse.error(500, "response exceeds \(options.maxMessageBytes) bytes").with(id: id))
            )
        }
        write(.response, bytes)
    }

    /// The `id` of a request whose payload did not decode, when it can be recovered (to answer 400).
    private static func requestID(_ payload: [UInt8]) -> UInt64? {
        guard let text = try? PeerWireCodec.jsonText(payload),
            let object = try? JSONSerialization.jsonObject(with: text) as? [String: Any],
            let n = object["id"] as? NSNumber, n.int64Value >= 0
        else { return nil }
        return UInt64(n.int64Value)
    }

    static func nanoseconds(_ d: Duration) -> Int64 {
        let (s, atto) = d.components
        return s * 1_000_000_000 + atto / 1_000_000_000
    }
}

extension PeerWireResponse {
    /// A copy with another id.
    func with(id: UInt64) -> PeerWireResponse {
        var r = self
        r.id = id
        return r
    }
}
