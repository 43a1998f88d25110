import CoreMetrics
import NostrRelay
import Telemetry

/// An `EventStore` that times every group commit into the relay log: the timer `gateway_relay_append_duration`
/// and a `LogOperationTiming("append")` on the telemetry bus (shown as `hypertuna_log_operation_duration`).
public final class TimedEventStore: EventStore {
    public let base: any EventStore
    private let bus: (any TelemetryBus)?
    private let timer = CoreMetrics.Timer(label: "gateway_relay_append_duration")

    public init(_ base: any EventStore, telemetry: (any TelemetryBus)? = nil) {
        self.base = base
        self.bus = telemetry
    }

    private func timed<T>(_ body: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        do {
            let r = try await body()
            record(ContinuousClock.now - start, ok: true)
            return r
        } catch {
            record(ContinuousClock.now - start, ok: false)
            throw error
        }
    }

    private func record(_ d: Duration, ok: Bool) {
        let ns = d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
        timer.recordNanoseconds(ns)
        bus?.publish(LogOperationTiming(operation: "append", nanoseconds: ns, succeeded: ok))
    }

    public func insert(_ events: [NostrEvent]) async throws -> [InsertOutcome] {
        try await timed { try await base.insert(events) }
    }

    public func insert(_ events: [NostrEvent], checks: [NewEventCheck]) async throws -> [InsertOutcome] {
        try await timed { try await base.insert(events, checks: checks) }
    }

    public func checkNew(_ event: NostrEvent) async throws -> NewEventCheck { try await base.checkNew(event) }

    public func query(_ filters: [Filter], limit: Int, now: Int64) async throws -> [NostrEvent] {
        try await base.query(filters, limit: limit, now: now)
    }

    public func count(_ filters: [Filter], now: Int64) async throws -> Int { try await base.count(filters, now: now) }

    public func allEvents() -> AsyncThrowingStream<NostrEvent, any Error> { base.allEvents() }

    public func close() async throws { try await base.close() }

    public func purgeExpired(now: Int64) async throws -> Int { try await base.purgeExpired(now: now) }
}
