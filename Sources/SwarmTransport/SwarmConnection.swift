import HyperCrypto
import Logging
import NIOCore

/// Limits and timers of a swarm node.
public struct SwarmConfiguration: Sendable {
    /// Largest frame (ciphertext) accepted or produced; at most 2^24 - 1.
    public var maxFrameSize: Int = SecretStream.maxFrameSize
    /// Most protomux channels one connection may hold.
    public var maxChannelsPerConnection: Int = 128
    /// Most simultaneous connections to one peer (by public key); extra ones are closed.
    public var maxConnectionsPerPeer: Int = 2
    /// The handshake must finish within this time.
    public var handshakeTimeout: TimeAmount = .seconds(10)
    /// Send an empty (keep-alive) message when nothing was written for this long; nil disables.
    public var keepAliveInterval: TimeAmount? = .seconds(5)
    /// Close a connection that received nothing for this long; nil disables.
    public var idleTimeout: TimeAmount? = .seconds(20)
    /// Reconnect back-off for dropped or failed dials.
    public var backoff = Backoff()

    public init() {}
}

/// An established, authenticated, encrypted connection carrying protomux channels.
///
/// Thread-safety: `@unchecked Sendable` because all mutable state (`mux`, `failure`) is only touched on
/// `eventLoop`; public methods hop there.
public final class SwarmConnection: @unchecked Sendable, CustomStringConvertible {
    public let eventLoop: EventLoop
    public let isInitiator: Bool
    /// The remote's authenticated static public key.
    public let remotePublicKey: [UInt8]
    /// The 64-byte Noise handshake hash (capabilities are bound to it).
    public let handshakeHash: [UInt8]
    public let remoteAddress: SocketAddress?
    let channel: Channel
    /// The channel multiplexer; use only on `eventLoop` (see `execute`).
    public internal(set) var mux: Protomux!
    /// Why we ended the connection, if we did.
    public internal(set) var failure: SwarmTransportError?

    init(channel: Channel, isInitiator: Bool, result: NoiseResult) {
        self.channel = channel
        eventLoop = channel.eventLoop
        self.isInitiator = isInitiator
        remotePublicKey = result.remotePublicKey
        handshakeHash = result.handshakeHash
        remoteAddress = channel.remoteAddress
    }

    public var description: String {
        "SwarmConnection(\(isInitiator ? "out" : "in") \(remotePublicKey.hex.prefix(8)) \(remoteAddress?.description ?? "?"))"
    }

    /// Runs `body` on the connection's event loop with its multiplexer.
    public func execute(_ body: @escaping @Sendable (Protomux) -> Void) {
        eventLoop.execute { [self] in
            if let mux, channel.isActive { body(mux) }
        }
    }

    /// Runs `body` on the event loop and returns its result.
    public func submit<T: Sendable>(_ body: @escaping @Sendable (Protomux) throws -> T) async throws -> T {
        try await eventLoop.submit { [self] in
            guard let mux, channel.isActive else { throw SwarmTransportError.closed }
            return try body(mux)
        }.get()
    }

    /// Closes the connection.
    public func close() {
        channel.close(promise: nil)
    }

    /// Completes when the connection has closed.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    public var isActive: Bool { channel.isActive }

    /// Whether the outbound buffer is below its high watermark (NIO channel writability).
    var isWritable: Bool { channel.isWritable }

    /// Run once the connection is writable again; on the event loop only (`writabilityChanged` drains them).
    private var writableWaiters: [() -> Void] = []

    /// Runs `body` now if the outbound buffer has room, else when it drains (never if the connection closes first).
    /// On the event loop only. Lets large answers be sent piece by piece without queueing them all in memory.
    func whenWritable(_ body: @escaping () -> Void) {
        eventLoop.preconditionInEventLoop()
        if channel.isWritable { body() } else { writableWaiters.append(body) }
    }

    /// The connection closed: forget pending sends (on the event loop).
    func dropWritableWaiters() { writableWaiters = [] }

    /// Called by the handler when the channel's writability changed (on the event loop).
    func writabilityChanged() {
        guard channel.isWritable, !writableWaiters.isEmpty else { return }
        let waiters = writableWaiters
        writableWaiters = []
        for w in waiters { w() }
    }

    /// Opens a channel and exposes it as an async event stream (convenience for tasks that are not on the loop).
    public func openStream(protocol name: String, id: [UInt8]? = nil, handshake: [UInt8] = []) async throws
        -> ChannelStream
    {
        try await submit { mux in
            let stream = ChannelStream(eventLoop: self.eventLoop)
            guard
                let ch = mux.open(
                    protocol: name, id: id, handshake: handshake,
                    onOpen: { _, hs in stream.yield(.opened(hs)) },
                    onMessage: { _, t, p in stream.yield(.message(type: t, payload: p)) },
                    onClose: { _, remote in stream.finish(remote: remote) })
            else { throw ProtomuxError.malformed("channel \(name) already open") }
            stream.channel = ch
            return stream
        }
    }
}

/// A protomux channel seen from async code.
///
/// Thread-safety: `channel` is only touched on `eventLoop`; the continuation is thread-safe.
public final class ChannelStream: @unchecked Sendable {
    public enum Event: Sendable, Equatable {
        case opened([UInt8])
        case message(type: UInt64, payload: [UInt8])
        case closed(remote: Bool)
    }

    public let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    let eventLoop: EventLoop
    var channel: MuxChannel?

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
        (events, continuation) = AsyncStream.makeStream(of: Event.self)
    }

    func yield(_ e: Event) { continuation.yield(e) }

    func finish(remote: Bool) {
        continuation.yield(.closed(remote: remote))
        continuation.finish()
    }

    /// Sends a typed message.
    public func send(type: UInt64, _ payload: [UInt8]) {
        eventLoop.execute { [self] in channel?.send(type: type, payload) }
    }

    /// Closes the channel.
    public func close() {
        eventLoop.execute { [self] in channel?.close() }
    }
}

/// Owns the protomux of one connection: plaintext messages in, protomux frames out.
final class MuxHandler: ChannelInboundHandler {
    typealias InboundIn = PlainMessage
    typealias OutboundOut = ByteBuffer

    private let isInitiator: Bool
    private let config: SwarmConfiguration
    private let logger: Logger
    private let onEstablished: (SwarmConnection) -> Bool
    private let onClosed: (SwarmConnection) -> Void
    private var connection: SwarmConnection?

    /// - Parameter onEstablished: called on the event loop; return false to refuse the connection (limits).
    init(
        isInitiator: Bool, config: SwarmConfiguration, logger: Logger,
        onEstablished: @escaping (SwarmConnection) -> Bool, onClosed: @escaping (SwarmConnection) -> Void
    ) {
        self.isInitiator = isInitiator
        self.config = config
        self.logger = logger
        self.onEstablished = onEstablished
        self.onClosed = onClosed
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? SecretStreamEstablished {
            let conn = SwarmConnection(channel: context.channel, isInitiator: isInitiator, result: e.result)
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            conn.mux = Protomux(maxChannels: config.maxChannelsPerConnection) { frame in
                handler.value.write(frame, context: loopBound.value)
            }
            conn.mux.outputMessage = { header, payload in
                handler.value.write(header, payload, context: loopBound.value)
            }
            connection = conn
            if !onEstablished(conn) {
                context.close(promise: nil)
            }
            return
        }
        if let f = event as? ConnectionFailure {
            connection?.failure = f.reason
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Writes are flushed once per read burst (replies to pipelined requests share one syscall), or at the end of
    /// the current event-loop tick for writes made outside a read.
    private var inRead = false
    private var needsFlush = false
    private var flushScheduled = false

    private func write(_ frame: [UInt8], context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: frame)), promise: nil)
        scheduleFlush(context: context)
    }

    /// A channel message as its protomux header and payload, copied once into one buffer.
    private func write(_ header: [UInt8], _ payload: [UInt8], context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: header.count + payload.count)
        buffer.writeBytes(header)
        buffer.writeBytes(payload)
        context.write(wrapOutboundOut(buffer), promise: nil)
        scheduleFlush(context: context)
    }

    private func scheduleFlush(context: ChannelHandlerContext) {
        needsFlush = true
        if !inRead && !flushScheduled {
            flushScheduled = true
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.execute {
                handler.value.flushScheduled = false
                handler.value.flushIfNeeded(context: loopBound.value)
            }
        }
    }

    private func flushIfNeeded(context: ChannelHandlerContext) {
        guard needsFlush else { return }
        needsFlush = false
        context.flush()
    }

    /// Back-pressure: while our outbound buffer is over the high watermark (a peer that requests but does not
    /// read), stop reading its frames; resume once it drains.
    func channelWritabilityChanged(context: ChannelHandlerContext) {
        context.channel.setOption(ChannelOptions.autoRead, value: context.channel.isWritable).whenFailure { _ in }
        if context.channel.isWritable { context.read() }
        connection?.writabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inRead = false
        flushIfNeeded(context: context)
        context.fireChannelReadComplete()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inRead = true
        guard let conn = connection, let mux = conn.mux else { return }
        do {
            try mux.receive(unwrapInboundIn(data).bytes)
        } catch {
            conn.failure = .protomux(error)
            logger.notice("disconnecting peer", metadata: ["reason": "\(error)", "peer": "\(conn)"])
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let conn = connection {
            conn.dropWritableWaiters()
            conn.mux?.shutdown()
            onClosed(conn)
        }
        connection = nil
        context.fireChannelInactive()
    }
}
