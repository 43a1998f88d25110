import Foundation
import HyperCrypto
import Logging
import Metrics

/// One relay (one per gateway). Thread-safe: the websocket server calls it from every connection.
public final class Relay: Sendable {
    public let configuration: RelayConfiguration
    public let store: any EventStore
    public let policy: any WritePolicy
    let logger: Logger
    /// Wall-clock seconds (injectable for tests).
    let clock: @Sendable () -> Double

    /// The NIP-11 information document (Codable; the server serves it with `RelayInformation.corsHeaders`).
    public let information: RelayInformation
    /// `information` as JSON text.
    public let informationJSON: String

    let writer: GroupWriter
    let eventsPerIP: TokenBucketTable
    let eventsPerPubkey: TokenBucketTable
    let queriesPerIP: TokenBucketTable
    private let connections = Locked<[ObjectIdentifier: RelayConnection]>([:])

    let eventCounters: [String: Counter]
    let requestCounter: Counter
    let connectionGauge: Gauge

    /// Builds a relay over `store`, deciding writes with `policy`. `clock` returns Unix time in seconds.
    public init(
        configuration: RelayConfiguration, store: any EventStore, policy: any WritePolicy, logger: Logger,
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }
    ) {
        self.configuration = configuration
        self.store = store
        self.policy = policy
        self.logger = logger
        self.clock = clock
        self.information = RelayInformation(configuration: configuration, restrictedWrites: policy.restrictsWrites)
        self.informationJSON = information.jsonString()
        self.eventsPerIP = TokenBucketTable(limit: configuration.eventsPerIP)
        self.eventsPerPubkey = TokenBucketTable(limit: configuration.eventsPerPubkey)
        self.queriesPerIP = TokenBucketTable(limit: configuration.queriesPerIP)
        var counters: [String: Counter] = [:]
        for result in [
            "stored", "duplicate", "invalid", "blocked", "rate-limited", "restricted", "auth-required",
            "error", "ephemeral",
        ] {
            counters[result] = Counter(label: "nostr_relay_events_total", dimensions: [("result", result)])
        }
        self.eventCounters = counters
        self.requestCounter = Counter(label: "nostr_relay_requests_total")
        self.connectionGauge = Gauge(label: "nostr_relay_connections")
        let connections = self.connections
        self.writer = GroupWriter(store: store, maxBatch: configuration.maxBatchSize, logger: logger) { events in
            let targets = connections.withLock { Array($0.values) }
            for connection in targets { connection.deliver(events) }
        }
    }

    /// Registers a new websocket connection (sends the NIP-42 AUTH challenge when AUTH is enabled).
    public func connect(remoteAddress: String, outbound: any RelayOutbound) -> RelayConnection {
        let connection = RelayConnection(relay: self, remoteAddress: remoteAddress, outbound: outbound)
        let count = connections.withLock { table -> Int in
            table[ObjectIdentifier(connection)] = connection
            return table.count
        }
        connectionGauge.record(count)
        connection.start()
        return connection
    }

    /// Open connections.
    public var connectionCount: Int { connections.withLock { $0.count } }

    private let queryExecutor = Locked<(any StoredQueryExecutor)?>(nil)

    /// Installs who answers the stored part of REQs (nil: the relay's own store).
    public func setStoredQueryExecutor(_ executor: (any StoredQueryExecutor)?) {
        queryExecutor.withLock { $0 = executor }
    }

    /// The stored part of a REQ, from the installed executor or the store.
    func storedEvents(_ filters: [Filter], limit: Int, now: Int64, context: QueryContext) async throws -> [NostrEvent] {
        if let executor = queryExecutor.withLock({ $0 }) {
            return try await executor.storedEvents(filters, limit: limit, now: now, context: context)
        }
        return try await store.query(filters, limit: limit, now: now)
    }

    func forget(_ connection: RelayConnection) {
        let count = connections.withLock { table -> Int in
            table[ObjectIdentifier(connection)] = nil
            return table.count
        }
        connectionGauge.record(count)
    }

    /// Delivers ephemeral events to live subscribers (they are never stored).
    func broadcast(_ events: [NostrEvent]) {
        let targets = connections.withLock { Array($0.values) }
        for connection in targets { connection.deliver(events) }
    }

    /// Queues a verified event for the group writer; `completion` gets the store's outcome.
    func submit(_ event: NostrEvent, completion: @escaping @Sendable (InsertOutcome) -> Void) {
        writer.submit(event, completion: completion)
    }

    /// Returns once every event queued so far is committed and acknowledged.
    public func flush() async { await writer.flush() }

    /// Removes expired events (NIP-40) from the store; call it periodically. Returns how many were removed.
    @discardableResult
    public func purgeExpired() async throws -> Int { try await store.purgeExpired(now: now) }

    /// Flushes pending writes and closes the store (graceful shutdown). Open connections are closed with 1001.
    public func shutdown() async throws {
        await writer.close()
        let open = connections.withLock { table -> [RelayConnection] in
            let all = Array(table.values)
            table.removeAll()
            return all
        }
        for connection in open { connection.closeForShutdown() }
        connectionGauge.record(0)
        try await store.close()
    }

    /// Current Unix time in whole seconds.
    var now: Int64 { Int64(clock().rounded(.down)) }

    func count(_ result: String) { eventCounters[result]?.increment() }
}
