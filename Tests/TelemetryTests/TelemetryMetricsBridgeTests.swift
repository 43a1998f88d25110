import CoreMetrics
import MetricsTestKit
import Testing

@testable import Telemetry

@Suite("Telemetry to swift-metrics bridge")
struct TelemetryMetricsBridgeTests {
    @Test("peer load reports become per-peer gauges and a counter")
    func peerLoad() throws {
        let metrics = TestMetrics()
        let bridge = TelemetryMetricsBridge(bus: InProcessTelemetryBus(), factory: metrics)
        bridge.record(PeerLoadReport(peerID: "abc", latencyMs: 42.5, inFlightJobs: 2, replicaLagBlocks: 17))
        bridge.record(PeerLoadReport(peerID: "abc", latencyMs: 10, inFlightJobs: 1, replicaLagBlocks: 3))
        let latency = try metrics.expectGauge("hypertuna_peer_latency_ms", [("peer", "abc")])
        #expect(latency.lastValue == 10)
        #expect(latency.values == [42.5, 10])
        #expect(try metrics.expectGauge("hypertuna_peer_replica_lag_blocks", [("peer", "abc")]).lastValue == 3)
        #expect(try metrics.expectCounter("hypertuna_peer_load_reports_total").totalValue == 2)
    }

    @Test("log timings become a timer and a result counter; decisions and tokens become counters")
    func timersAndCounters() throws {
        let metrics = TestMetrics()
        let bridge = TelemetryMetricsBridge(bus: InProcessTelemetryBus(), factory: metrics, prefix: "ht")
        bridge.record(LogOperationTiming(operation: "append", nanoseconds: 1500))
        bridge.record(LogOperationTiming(operation: "append", nanoseconds: 2500, succeeded: false))
        let timer = try metrics.expectTimer("ht_log_operation_duration", [("operation", "append")])
        #expect(timer.values == [1500, 2500])
        #expect(
            try metrics.expectCounter("ht_log_operations_total", [("operation", "append"), ("result", "error")])
                .totalValue == 1)
        bridge.record(DispatchDecision(jobID: 1, action: .assigned, target: "p", queueDepth: 4))
        bridge.record(DispatchDecision(jobID: 1, action: .completed, queueDepth: 3, jobNanoseconds: 900))
        #expect(try metrics.expectCounter("ht_dispatcher_decisions_total", [("action", "assigned")]).totalValue == 1)
        #expect(try metrics.expectGauge("ht_dispatcher_queue_depth").lastValue == 3)
        #expect(try metrics.expectTimer("ht_dispatcher_job_duration", [("result", "completed")]).values == [900])
        bridge.record(TokenEvent(action: .revoked, peerID: "p"))
        #expect(try metrics.expectCounter("ht_token_events_total", [("action", "revoked")]).totalValue == 1)
        bridge.record(ReplicationProgress(peerID: "p", contiguousLength: 90, remoteLength: 100))
        #expect(try metrics.expectGauge("ht_replication_lag_blocks", [("peer", "p")]).lastValue == 10)
    }

    @Test("run() consumes the bus until it is finished")
    func runConsumesBus() async throws {
        let metrics = TestMetrics()
        let bus = InProcessTelemetryBus()
        let bridge = TelemetryMetricsBridge(bus: bus, factory: metrics)
        // The bridge says when its five subscriptions are in place. (This test used to spin 1,000 `Task.yield()`s
        // waiting for them: under a busy cooperative pool the bridge's task could still be subscribing, and the
        // count read 4. Yields are not a bound on another task's progress; the callback is.)
        let (ready, readyContinuation) = AsyncStream.makeStream(of: Void.self)
        let task = Task { await bridge.run { readyContinuation.finish() } }
        for await _ in ready {}
        #expect(bus.stats.subscribers == 5)
        for _ in 0..<3 { bus.publish(TokenEvent(action: .issued, peerID: "p")) }
        bus.finish()
        await task.value
        #expect(try metrics.expectCounter("hypertuna_token_events_total", [("action", "issued")]).totalValue == 3)
    }
}
