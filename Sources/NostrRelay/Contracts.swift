import Logging

// The contracts of the relay engine. The websocket server implements `RelayOutbound`; storage implements
// `EventStore`; the operator chooses a `WritePolicy`. `Relay` and `RelayConnection` (Relay.swift,
// RelayConnection.swift) are the engine the server drives.

/// Where a connection's outbound frames go; implemented by the websocket server.
public protocol RelayOutbound: Sendable {
    /// Queues one text frame. Returns false when the connection's bounded outbound buffer is full;
    /// the engine then closes the connection (a slow reader is dropped, never allowed to grow memory).
    func send(_ text: String) -> Bool
    /// Closes the connection with a websocket close code and a reason.
    func close(code: UInt16, reason: String)
}

/// What happened to one event handed to `EventStore.insert`.
public enum InsertOutcome: Sendable, Equatable {
    /// Stored (and, for replaceable/addressable kinds, older versions removed).
    case stored
    /// Not stored; `message` is the full NIP-01 OK message with its prefix (`duplicate: ...`, `blocked: ...`).
    case rejected(message: String)

    /// Whether the event is now stored.
    public var isStored: Bool { self == .stored }
}

/// The result of `EventStore.checkNew`, an early duplicate check done outside the writer.
public enum NewEventCheck: Sendable, Equatable {
    /// The event is already stored: refuse it as a duplicate without queueing it.
    case alreadyStored
    /// The event was not stored as of the store's commit number `commit`; `insert` only re-checks it against
    /// the commits made since.
    case absent(asOfCommit: UInt64)
    /// No early check was made; `insert` does the full check.
    case notChecked
}

/// Durable storage of Nostr events: kind rules (replaceable, addressable), NIP-09 deletion, NIP-40 expiration,
/// indexed queries. Ephemeral events never reach a store.
public protocol EventStore: Sendable {
    /// Stores a group of events atomically (one commit), in order, and returns one outcome per event.
    /// Events must already be verified (id and signature). This is also the bulk import path.
    func insert(_ events: [NostrEvent]) async throws -> [InsertOutcome]
    /// Events matching any of `filters`, newest first (ties: lowest id), at most `limit` in total;
    /// events expired at `now` (NIP-40) are left out.
    func query(_ filters: [Filter], limit: Int, now: Int64) async throws -> [NostrEvent]
    /// How many stored events match any of `filters` (NIP-45), expired events left out.
    func count(_ filters: [Filter], now: Int64) async throws -> Int
    /// Every stored event, oldest first (export).
    func allEvents() -> AsyncThrowingStream<NostrEvent, any Error>
    /// Flushes and closes the store; later calls throw.
    func close() async throws
    /// Removes events whose NIP-40 expiration is at or before `now`; returns how many (0 if unsupported).
    func purgeExpired(now: Int64) async throws -> Int
    /// Checks, concurrently with the writer, whether `event` is already stored (a read, no write).
    func checkNew(_ event: NostrEvent) async throws -> NewEventCheck
    /// As `insert(_:)`, with one `checkNew` result per event (the store then skips lookups it already did).
    func insert(_ events: [NostrEvent], checks: [NewEventCheck]) async throws -> [InsertOutcome]
}

extension EventStore {
    /// Default: no early check.
    public func checkNew(_ event: NostrEvent) async throws -> NewEventCheck { .notChecked }
    /// Default: the checks are ignored.
    public func insert(_ events: [NostrEvent], checks: [NewEventCheck]) async throws -> [InsertOutcome] {
        try await insert(events)
    }

    /// Default: the store keeps expired events (they are still hidden from queries).
    public func purgeExpired(now: Int64) async throws -> Int { 0 }
}

/// Facts about the writer of an event, given to a `WritePolicy`.
public struct WriteContext: Sendable {
    /// Remote address of the connection (as given to `Relay.connect`); "import" for bulk imports.
    public var remoteAddress: String
    /// Public keys (hex) this connection has authenticated as with NIP-42.
    public var authenticatedPubkeys: Set<String>

    public init(remoteAddress: String, authenticatedPubkeys: Set<String>) {
        self.remoteAddress = remoteAddress
        self.authenticatedPubkeys = authenticatedPubkeys
    }
}

/// A write policy's verdict.
public enum WriteDecision: Sendable, Equatable {
    case accept
    /// Refused; `message` is the full OK message with a standard prefix (`blocked:`, `restricted:`,
    /// `auth-required:`).
    case reject(message: String)
}

/// Who may write. Decided after the signature check and before storage.
public protocol WritePolicy: Sendable {
    /// A short human-readable description, logged at start ("open", "allow-list of 3 keys", ...).
    var summary: String { get }
    /// Whether NIP-11 should advertise `restricted_writes`.
    var restrictsWrites: Bool { get }
    /// Decides whether `event` may be stored.
    func decide(_ event: NostrEvent, context: WriteContext) -> WriteDecision
}

/// Who answers the stored part of a REQ (everything up to EOSE). By default the relay's own store; the gateway's
/// dispatcher installs one that delegates REQs to peers (`Relay.setStoredQueryExecutor`). The engine keeps the rest
/// of the REQ: subscription state, live events buffered until EOSE and sent after it without duplicates, EOSE once.
public protocol StoredQueryExecutor: Sendable {
    /// The events `store.query(filters, limit: limit, now: now)` would return, newest first.
    func storedEvents(_ filters: [Filter], limit: Int, now: Int64, context: QueryContext) async throws -> [NostrEvent]
}

/// Where a REQ comes from (for routing and logs; not unique across connections).
public struct QueryContext: Sendable {
    /// Unique per open connection of this relay.
    public var connectionID: String
    public var subscriptionID: String
    public var remoteAddress: String

    public init(connectionID: String, subscriptionID: String, remoteAddress: String) {
        self.connectionID = connectionID
        self.subscriptionID = subscriptionID
        self.remoteAddress = remoteAddress
    }
}
