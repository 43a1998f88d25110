import Foundation
import PeerProtocol
import SwarmTransport

/// The gateway ⇄ worker channel `hypertuna-relay-v2` (Docs/peer-wire.md): one protomux channel on an authenticated
/// `SwarmConnection`, carrying HTTP-like requests with correlated responses (ids 0/1), websocket frames of
/// peer-hosted relays (2), health (3/4), worker telemetry (5), signed control frames (6) and delegated-job
/// messages (7-10). Both sides use this one implementation; payload types and validators are PeerProtocol's.
///
/// Lifecycle: open the channel from the node's connection handler (`PeerWireSession.open(on:...)`, before the
/// connection processes any frame, so the remote's open pairs with ours), wait for `waitUntilOpen`, then talk.
/// Closing the channel (or the connection) fails every pending request with `PeerWireError.closed`.
public protocol PeerWireChannel: AnyObject, Sendable {
    /// The remote's swarm public key, authenticated by the Noise handshake of the connection.
    var remotePublicKey: [UInt8] { get }
    /// The remote's channel handshake, once the channel is open.
    var remoteHandshake: PeerWireHandshake? { get }
    /// True between the handshake exchange and the close.
    var isOpen: Bool { get }
    /// True once the channel closed (locally, remotely, or with its connection).
    var isClosed: Bool { get }

    /// Waits until both handshakes are exchanged (or throws `closed` / `timedOut`).
    @discardableResult
    func waitUntilOpen(timeout: Duration) async throws -> PeerWireHandshake

    /// Sends a request (message 0) and waits for the response with the same id (message 1); before the handshake it
    /// first waits for the channel to open. A non-2xx status is a normal response, not an error; transport failures
    /// and timeouts throw `PeerWireError`.
    func request(method: String, path: String, headers: [String: String], body: [UInt8]?, timeout: Duration?)
        async throws -> PeerWireResponse

    /// Health round trip (message 3, answered by message 4).
    func health(timeout: Duration?) async throws -> PeerWireHealth

    /// Sends a one-way message (ids 2, 5-10; requests, responses and health go through `request` / `health` and
    /// the handlers). Throws `notOpen` before the handshake and `closed` when the channel is gone.
    func send(_ message: PeerWireMessage) throws

    /// Inbound one-way messages whose id is in `ids`, in arrival order, until the channel closes. Several
    /// subscriptions may be open at once; each gets its own copy. At most `bufferSize` undelivered messages are
    /// kept per subscription (the oldest are dropped, counted in the log).
    func messages(_ ids: Set<PeerWireMessageID>, bufferSize: Int) -> AsyncStream<PeerWireMessage>

    /// Closes the channel (the connection stays open).
    func close(reason: String)

    /// Returns once the channel closed, with the reason.
    func waitUntilClosed() async -> String
}

extension PeerWireChannel {
    /// `request` with a JSON body encoded from `body` (sorted keys) and a `content-type: application/json` header.
    public func request<Body: Encodable>(
        method: String, path: String, json body: Body, timeout: Duration? = nil
    ) async throws -> PeerWireResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try await request(
            method: method, path: path, headers: ["content-type": "application/json"],
            body: Array(try encoder.encode(body)), timeout: timeout)
    }

    /// `request` without headers.
    public func request(method: String, path: String, body: [UInt8]? = nil, timeout: Duration? = nil)
        async throws -> PeerWireResponse
    {
        try await request(method: method, path: path, headers: [:], body: body, timeout: timeout)
    }

    /// Subscription with a 1,024-message buffer.
    public func messages(_ ids: Set<PeerWireMessageID>) -> AsyncStream<PeerWireMessage> {
        messages(ids, bufferSize: 1024)
    }

    /// `health` with the default timeout.
    public func health() async throws -> PeerWireHealth { try await health(timeout: nil) }
}

/// Why a channel operation failed.
public enum PeerWireError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The channel (or its connection) closed; `reason` says why.
    case closed(reason: String)
    /// No answer within the timeout.
    case timedOut(what: String, after: Duration)
    /// The remote's handshake is not a `hypertuna-relay-v2` 2.x handshake.
    case incompatibleHandshake(String)
    /// Too many of our requests await answers.
    case tooManyPendingRequests(limit: Int)
    /// A message that does not decode (its id and why).
    case malformed(messageID: UInt64, reason: String)
    /// A message larger than the channel accepts.
    case messageTooLarge(bytes: Int, limit: Int)
    /// `send` was given a request, response or health message (owned by `request` / `health` and the handlers).
    case notOneWay(PeerWireMessageID)
    /// `send` before the handshake exchange (wait for `waitUntilOpen`): protomux would drop the message.
    case notOpen

    public var description: String {
        switch self {
        case .closed(let reason): return "peer channel closed: \(reason)"
        case .timedOut(let what, let after): return "peer channel: no answer to \(what) within \(after)"
        case .incompatibleHandshake(let why): return "peer channel: incompatible handshake: \(why)"
        case .tooManyPendingRequests(let limit): return "peer channel: more than \(limit) requests awaiting answers"
        case .malformed(let id, let reason): return "peer channel: malformed message \(id): \(reason)"
        case .messageTooLarge(let bytes, let limit):
            return "peer channel: message of \(bytes) bytes exceeds the \(limit)-byte limit"
        case .notOneWay(let id): return "peer channel: \(id) is not a one-way message"
        case .notOpen: return "peer channel: not open yet (wait for the handshake)"
        }
    }
}
