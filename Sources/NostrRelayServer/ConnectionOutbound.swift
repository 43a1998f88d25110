import Synchronization
import WSCore

/// The bounded outbound queue of one websocket connection.
///
/// The engine calls `send` synchronously; a writer task drains the queue into the socket. When `capacity` frames are
/// already waiting (a slow reader), `send` returns false and the connection is closed without flushing, so a slow
/// client can never make the gateway's memory grow.
public final class ConnectionOutbound: Sendable {
    private enum CloseRequest: Sendable {
        case none
        case close(code: UInt16, reason: String, flush: Bool)
    }
    private struct State {
        var close: CloseRequest = .none
    }

    private let stream: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    private let state = Mutex(State())
    /// Maximum number of frames waiting to be written.
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        (stream, continuation) = AsyncStream.makeStream(
            of: String.self, bufferingPolicy: .bufferingOldest(self.capacity))
    }

    /// Queues one text frame. Returns false when the queue is full or the connection is closing.
    public func send(_ text: String) -> Bool {
        switch continuation.yield(text) {
        case .enqueued: return true
        case .dropped:
            // Slow reader: give up on this connection without flushing what is queued.
            requestClose(code: 1008, reason: "slow reader: outbound buffer full", flush: false)
            return false
        case .terminated: return false
        @unknown default: return false
        }
    }

    /// Asks for the connection to be closed after what is already queued has been written.
    public func close(code: UInt16, reason: String) {
        requestClose(code: code, reason: reason, flush: true)
    }

    private func requestClose(code: UInt16, reason: String, flush: Bool) {
        let first = state.withLock { s -> Bool in
            if case .none = s.close {
                s.close = .close(code: code, reason: reason, flush: flush)
                return true
            }
            return false
        }
        if first { continuation.finish() }
    }

    /// True once the engine or the queue asked to close.
    public var isClosing: Bool {
        state.withLock { if case .none = $0.close { return false } else { return true } }
    }

    /// Ends the queue (the connection is gone).
    func finish() { continuation.finish() }

    /// Writes queued frames until the queue ends, then sends the requested close frame if any.
    /// Returns when the engine asked to close (true) or the queue was finished because the socket is gone (false).
    func drain(into outbound: WebSocketOutboundWriter) async throws -> Bool {
        for await text in stream {
            if case .close(_, _, false) = state.withLock({ $0.close }) { break }
            try await outbound.write(.text(text))
        }
        guard case .close(let code, let reason, _) = state.withLock({ $0.close }) else { return false }
        try await outbound.close(.init(codeNumber: Int(code)), reason: reason)
        return true
    }
}
