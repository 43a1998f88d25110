import HyperCrypto
import Logging
import NIOCore

/// Why a connection was ended by us.
public enum SwarmTransportError: Error, Equatable, CustomStringConvertible {
    case frameTooLarge(size: Int, limit: Int)
    case handshakeTimeout
    case idleTimeout
    case secretStream(SecretStreamError)
    case protomux(ProtomuxError)
    case tooManyConnections(peer: String, limit: Int)
    case unexpectedPeer(expected: String, got: String)
    case closed

    public var description: String {
        switch self {
        case .frameTooLarge(let s, let l): return "frame of \(s) bytes exceeds limit \(l)"
        case .handshakeTimeout: return "handshake did not complete in time"
        case .idleTimeout: return "no data received within the idle timeout"
        case .secretStream(let e): return e.description
        case .protomux(let e): return e.description
        case .tooManyConnections(let p, let l): return "peer \(p) already has \(l) connections"
        case .unexpectedPeer(let e, let g): return "expected peer \(e), handshake authenticated \(g)"
        case .closed: return "connection closed"
        }
    }
}

/// Splits the byte stream into 3-byte little-endian length-prefixed frames, refusing frames over the limit.
final class FrameDecoderHandler: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer
    let maxFrameSize: Int

    init(maxFrameSize: Int) { self.maxFrameSize = maxFrameSize }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= 3,
            let b = buffer.getBytes(at: buffer.readerIndex, length: 3)
        else { return .needMoreData }
        let len = Int(b[0]) | Int(b[1]) << 8 | Int(b[2]) << 16
        guard len <= maxFrameSize else { throw SwarmTransportError.frameTooLarge(size: len, limit: maxFrameSize) }
        guard buffer.readableBytes >= 3 + len else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 3)
        context.fireChannelRead(wrapInboundOut(buffer.readSlice(length: len)!))
        return .continue
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// A decrypted application message travelling from `SecretStreamHandler` to `MuxHandler`: an array, so protomux
/// decodes it in place (a ByteBuffer would have to be copied into one).
struct PlainMessage {
    var bytes: [UInt8]
}

/// Fired inbound when the secret-stream handshake has completed.
struct SecretStreamEstablished {
    let result: NoiseResult
}

/// Runs the secret-stream handshake and then encrypts outbound / decrypts inbound messages.
///
/// Inbound: frame payloads in, plaintext messages out. Outbound: plaintext messages in, framed ciphertext out.
/// Also sends keep-alives when idle and closes the connection when the remote goes silent.
final class SecretStreamHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = PlainMessage
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var stream: SecretStream
    private let config: SwarmConfiguration
    private let logger: Logger
    private var pending: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var handshakeTimer: Scheduled<Void>?
    private var keepAliveTask: RepeatedTask?
    private var idleTask: RepeatedTask?
    private var lastRead = NIODeadline.now()
    private var wroteSinceTick = false
    private var failed = false

    init(isInitiator: Bool, keyPair: Ed25519KeyPair, config: SwarmConfiguration, logger: Logger) {
        stream = SecretStream(isInitiator: isInitiator, keyPair: keyPair)
        self.config = config
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        lastRead = .now()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        handshakeTimer = context.eventLoop.scheduleTask(in: config.handshakeTimeout) {
            handler.value.fail(context: loopBound.value, .handshakeTimeout)
        }
        do {
            emit(try stream.start(), context: context)
        } catch {
            fail(context: context, .secretStream(error))
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopTimers()
        for (_, p) in pending { p?.fail(SwarmTransportError.closed) }
        pending = []
        context.fireChannelInactive()
    }

    private func stopTimers() {
        handshakeTimer?.cancel()
        keepAliveTask?.cancel()
        idleTask?.cancel()
        handshakeTimer = nil
        keepAliveTask = nil
        idleTask = nil
    }

    private func emit(_ events: [SecretStream.Event], context: ChannelHandlerContext) {
        for e in events {
            switch e {
            case .send(let bytes):
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            case .handshake(let r):
                handshakeTimer?.cancel()
                handshakeTimer = nil
                startTimers(context: context)
                context.fireUserInboundEventTriggered(SecretStreamEstablished(result: r))
                flushPending(context: context)
            case .message(let m):
                context.fireChannelRead(wrapInboundOut(PlainMessage(bytes: m)))
            }
        }
    }

    private func startTimers(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        if let ka = config.keepAliveInterval {
            keepAliveTask = context.eventLoop.scheduleRepeatedTask(initialDelay: ka, delay: ka) { _ in
                let h = handler.value
                if !h.wroteSinceTick { h.sendKeepAlive(context: loopBound.value) }
                h.wroteSinceTick = false
            }
        }
        if let idle = config.idleTimeout {
            let tick = TimeAmount.nanoseconds(max(idle.nanoseconds / 4, 1_000_000))
            idleTask = context.eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in
                let h = handler.value
                if NIODeadline.now() - h.lastRead > idle { h.fail(context: loopBound.value, .idleTimeout) }
            }
        }
    }

    private func sendKeepAlive(context: ChannelHandlerContext) {
        guard stream.canSend, !failed else { return }
        if let frame = try? stream.seal([]) {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: frame)), promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        lastRead = .now()
        var frame = unwrapInboundIn(data)
        if stream.isEstablished {
            let n = frame.readableBytes
            guard n >= SecretStream.overhead else {
                fail(context: context, .secretStream(.frameTooShort(n)))
                return
            }
            if n == SecretStream.overhead {
                // Keep-alive: authenticate and drop.
                do { _ = try stream.open(frame.readBytes(length: n)!) } catch {
                    fail(context: context, .secretStream(error))
                }
                return
            }
            let size = n - SecretStream.overhead
            let out: [UInt8]
            do {
                out = try frame.withUnsafeReadableBytes { src in
                    try [UInt8](unsafeUninitializedCapacity: size) { dst, count in
                        try stream.open(src, into: UnsafeMutableRawBufferPointer(dst))
                        count = size
                    }
                }
            } catch let e as SecretStreamError {
                fail(context: context, .secretStream(e))
                return
            } catch {
                fail(context: context, .secretStream(.decryptionFailed))
                return
            }
            context.fireChannelRead(wrapInboundOut(PlainMessage(bytes: out)))
            return
        }
        do {
            emit(try stream.receive(frame: frame.readBytes(length: frame.readableBytes)!), context: context)
        } catch {
            fail(context: context, .secretStream(error))
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let plain = unwrapOutboundIn(data)
        guard stream.canSend, pending.isEmpty else {
            pending.append((plain, promise))
            return
        }
        writeSealed(plain, context: context, promise: promise)
    }

    private func writeSealed(_ plain: ByteBuffer, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        let n = plain.readableBytes
        let size = n + SecretStream.overhead
        guard size <= config.maxFrameSize else {
            promise?.fail(SwarmTransportError.frameTooLarge(size: size, limit: config.maxFrameSize))
            return
        }
        var out = context.channel.allocator.buffer(capacity: size + 3)
        out.writeInteger(UInt8(size & 0xff))
        out.writeInteger(UInt8((size >> 8) & 0xff))
        out.writeInteger(UInt8((size >> 16) & 0xff))
        do {
            _ = try plain.withUnsafeReadableBytes { src in
                try out.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { dst in
                    try stream.seal(src, into: UnsafeMutableRawBufferPointer(rebasing: dst[0..<size]))
                    return size
                }
            }
        } catch {
            promise?.fail(error)
            return
        }
        wroteSinceTick = true
        context.write(wrapOutboundOut(out), promise: promise)
    }

    private func flushPending(context: ChannelHandlerContext) {
        guard stream.canSend else { return }
        let queued = pending
        pending = []
        for (b, p) in queued { writeSealed(b, context: context, promise: p) }
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let e = error as? SwarmTransportError {
            fail(context: context, e)
        } else if let e = error as? ByteToMessageDecoderError, case .leftoverDataWhenDone = e {
            context.close(promise: nil)
        } else {
            logger.debug("connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// Ends the connection with a logged reason.
    private func fail(context: ChannelHandlerContext, _ reason: SwarmTransportError) {
        guard !failed else { return }
        failed = true
        stopTimers()
        logger.notice(
            "disconnecting peer",
            metadata: ["reason": "\(reason)", "remote": "\(context.channel.remoteAddress?.description ?? "?")"])
        context.fireUserInboundEventTriggered(ConnectionFailure(reason: reason))
        context.close(promise: nil)
    }
}

/// Fired inbound when a handler ends the connection for a protocol reason.
struct ConnectionFailure {
    let reason: SwarmTransportError
}
