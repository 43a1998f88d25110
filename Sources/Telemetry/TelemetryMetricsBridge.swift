import CoreMetrics
import Foundation

/// Turns bus events into swift-metrics counters, gauges and timers, so `/metrics` shows them.
///
/// Metric names (all prefixed with `prefix`, default `hypertuna`):
/// - `peer_latency_ms`, `peer_inflight_jobs`, `peer_failure_rate`, `peer_replica_lag_blocks`,
///   `peer_queue_depth` (gauges, dimension `peer`); `peer_load_reports_total` (counter)
/// - `log_operation_duration` (timer, dimension `operation`); `log_operations_total` (counter, `operation`,
///   `result`)
/// - `replication_contiguous_length`, `replication_lag_blocks` (gauges, `peer`)
/// - `dispatcher_decisions_total` (counter, `action`); `dispatcher_queue_depth` (gauge);
///   `dispatcher_job_duration` (timer, `result`)
/// - `token_events_total` (counter, `action`)
/// - `telemetry_dropped_total` (counter: events the bridge's own subscriptions dropped)
public final class TelemetryMetricsBridge: Sendable {
    private let bus: any TelemetryBus
    private let factory: any MetricsFactory
    private let prefix: String
    private let bufferSize: Int
    private let cache = MetricCache()

    /// - Parameters:
    ///   - factory: where metrics go; defaults to the process-wide `MetricsSystem.factory`.
    ///   - bufferSize: buffer of each subscription the bridge opens in ``run()``.
    public init(
        bus: any TelemetryBus, factory: any MetricsFactory = MetricsSystem.factory, prefix: String = "hypertuna",
        bufferSize: Int = 4096
    ) {
        self.bus = bus
        self.factory = factory
        self.prefix = prefix
        self.bufferSize = bufferSize
    }

    /// Consumes every event type until the bus is finished or the task is cancelled. `subscribed` is called once
    /// every subscription is in place: events published after it are all recorded (a bus delivers only to the
    /// subscribers it has when an event is published, so a caller that must not lose early events waits for it).
    public func run(subscribed: @Sendable () -> Void = {}) async {
        let loads = bus.subscribe(PeerLoadReport.self, bufferSize: bufferSize)
        let logOps = bus.subscribe(LogOperationTiming.self, bufferSize: bufferSize)
        let repl = bus.subscribe(ReplicationProgress.self, bufferSize: bufferSize)
        let decisions = bus.subscribe(DispatchDecision.self, bufferSize: bufferSize)
        let tokens = bus.subscribe(TokenEvent.self, bufferSize: bufferSize)
        subscribed()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.drain(loads) }
            group.addTask { await self.drain(logOps) }
            group.addTask { await self.drain(repl) }
            group.addTask { await self.drain(decisions) }
            group.addTask { await self.drain(tokens) }
        }
    }

    private func drain<E: TelemetryEvent>(_ sub: TelemetrySubscription<E>) async {
        var seenDrops: UInt64 = 0
        for await event in sub {
            record(event)
            let drops = sub.droppedCount
            if drops > seenDrops {
                counter("telemetry_dropped_total", [("type", E.kind)]).increment(by: Int64(drops - seenDrops))
                seenDrops = drops
            }
        }
    }

    /// Records one event synchronously (what ``run()`` does for each event it receives).
    public func record(_ event: any TelemetryEvent) {
        switch event {
        case let e as PeerLoadReport:
            let dims = [("peer", e.peerID)]
            gauge("peer_latency_ms", dims).record(e.latencyMs)
            gauge("peer_inflight_jobs", dims).record(e.inFlightJobs)
            gauge("peer_failure_rate", dims).record(e.failureRate)
            gauge("peer_replica_lag_blocks", dims).record(e.replicaLagBlocks)
            gauge("peer_queue_depth", dims).record(e.queueDepth)
            counter("peer_load_reports_total", []).increment()
        case let e as LogOperationTiming:
            timer("log_operation_duration", [("operation", e.operation)]).recordNanoseconds(e.nanoseconds)
            counter("log_operations_total", [("operation", e.operation), ("result", e.succeeded ? "ok" : "error")])
                .increment()
        case let e as ReplicationProgress:
            let dims = [("peer", e.peerID)]
            gauge("replication_contiguous_length", dims).record(Int64(clamping: e.contiguousLength))
            gauge("replication_lag_blocks", dims).record(Int64(clamping: e.lagBlocks))
        case let e as DispatchDecision:
            counter("dispatcher_decisions_total", [("action", e.action.rawValue)]).increment()
            gauge("dispatcher_queue_depth", []).record(e.queueDepth)
            if let ns = e.jobNanoseconds {
                timer("dispatcher_job_duration", [("result", e.action.rawValue)]).recordNanoseconds(ns)
            }
        case let e as TokenEvent:
            counter("token_events_total", [("action", e.action.rawValue)]).increment()
        default:
            counter("telemetry_unmapped_total", [("type", type(of: event).kind)]).increment()
        }
    }

    private func counter(_ name: String, _ dims: [(String, String)]) -> Counter {
        cache.get(.counter, prefix + "_" + name, dims) { Counter(label: $0, dimensions: $1, factory: factory) }
    }
    private func gauge(_ name: String, _ dims: [(String, String)]) -> Gauge {
        cache.get(.gauge, prefix + "_" + name, dims) { Gauge(label: $0, dimensions: $1, factory: factory) }
    }
    private func timer(_ name: String, _ dims: [(String, String)]) -> CoreMetrics.Timer {
        cache.get(.timer, prefix + "_" + name, dims) {
            CoreMetrics.Timer(label: $0, dimensions: $1, factory: factory)
        }
    }
}

/// Metric objects by (kind, label, dimensions), so each is created once.
///
/// Invariant: `store` is only touched while `lock` is held.
private final class MetricCache: @unchecked Sendable {
    enum Kind: UInt8 { case counter, gauge, timer }
    private struct Key: Hashable {
        var kind: Kind
        var label: String
        var dims: [String]
    }
    private let lock = NSLock()
    private var store: [Key: AnyObject] = [:]

    func get<M: AnyObject>(
        _ kind: Kind, _ label: String, _ dims: [(String, String)], make: (String, [(String, String)]) -> M
    ) -> M {
        let key = Key(kind: kind, label: label, dims: dims.flatMap { [$0.0, $0.1] })
        lock.lock()
        defer { lock.unlock() }
        if let m = store[key] as? M { return m }
        let m = make(label, dims)
        store[key] = m
        return m
    }
}
