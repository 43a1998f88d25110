/// Every dispatcher knob, with the defaults of the deployed configuration where it had one
/// (`GATEWAY_DISPATCHER_*`). See Docs/dispatcher.md for the scoring formula.
public struct DispatcherConfig: Sendable, Equatable, Codable {
    /// Jobs a peer may run at once (`GATEWAY_DISPATCHER_MAX_CONCURRENT`, 3).
    public var maxConcurrentPerPeer: Int = 3
    /// Score points per job in flight (`GATEWAY_DISPATCHER_INFLIGHT_WEIGHT`, 25).
    public var inFlightWeight: Double = 25
    /// Score points per millisecond of latency (`GATEWAY_DISPATCHER_LATENCY_WEIGHT`, 1).
    public var latencyWeight: Double = 1
    /// Share of the p95 in the latency term, 0...1: latency = (1 - s) * EWMA + s * p95 (0.25).
    public var tailLatencyShare: Double = 0.25
    /// Score points for a failure rate of 1.0 (`GATEWAY_DISPATCHER_FAILURE_WEIGHT`, 500).
    public var failureWeight: Double = 500
    /// Score points per block of replica lag (0.1: 500 blocks weigh as much as two jobs in flight).
    public var lagWeight: Double = 0.1
    /// A peer this many blocks behind gets no work and loses its jobs (`GATEWAY_DISPATCHER_REASSIGN_LAG`, 500).
    public var reassignLagBlocks: Int64 = 500
    /// Consecutive failures that open a peer's circuit (`GATEWAY_DISPATCHER_CB_THRESHOLD`, 5).
    public var circuitBreakerThreshold: Int = 5
    /// How long an open circuit stays open before one half-open probe (`GATEWAY_DISPATCHER_CB_TIMEOUT_MS`, 60 s).
    public var circuitBreakerTimeout: Duration = .seconds(60)
    /// Smoothing factor of the latency EWMA (weight of the newest sample), 0...1 (0.2).
    public var latencyEWMAAlpha: Double = 0.2
    /// Latency samples kept per peer for the p95 (64).
    public var latencyWindow: Int = 64
    /// Weight of the newest outcome in the failure rate (0.2).
    public var failureRateAlpha: Double = 0.2
    /// Half-life of the failure rate's decay toward 0 while nothing fails (60 s).
    public var failureRateHalfLife: Duration = .seconds(60)
    /// Expected interval between peer heartbeats (15 s, the deployed telemetry interval).
    public var heartbeatInterval: Duration = .seconds(15)
    /// A peer silent this long is unhealthy: no new work, its jobs move (30 s: one missed heartbeat, so work
    /// stops within one heartbeat interval of the first missed heartbeat).
    public var heartbeatTimeout: Duration = .seconds(30)
    /// An attempt with no result and no acknowledgement for this long is reassigned (30 s).
    public var attemptTimeout: Duration = .seconds(30)
    /// Failed attempts (peer failures, timeouts, explicit reassignments) before a job fails (4).
    public var maxAttempts: Int = 4
    /// Jobs admitted but waiting for a free slot; more are refused with backpressure (10,000).
    public var maxQueuedJobs: Int = 10_000
    /// A job waiting this long in the queue fails with `queueTimeout` (30 s).
    public var queueTimeout: Duration = .seconds(30)
    /// Whether the gateway itself is a candidate (true).
    public var gatewayIsCandidate: Bool = true
    /// Jobs the gateway runs at once when it is the chosen candidate (3).
    public var gatewayMaxConcurrent: Int = 3
    /// Extra score points for the gateway (0: a candidate like any peer).
    public var gatewayScorePenalty: Double = 0
    /// Latency assumed for a peer with no samples yet, in ms (0, as the deployed dispatcher).
    public var initialLatencyMs: Double = 0

    public init() {}

    /// Defaults from the deployed JS configuration.
    public static let `default` = DispatcherConfig()

    /// Problems with the knobs, empty when the configuration is usable.
    public func validate() -> [String] {
        var problems: [String] = []
        if maxConcurrentPerPeer < 1 { problems.append("maxConcurrentPerPeer must be >= 1") }
        if gatewayMaxConcurrent < 0 { problems.append("gatewayMaxConcurrent must be >= 0") }
        for (name, w) in [
            ("inFlightWeight", inFlightWeight), ("latencyWeight", latencyWeight), ("failureWeight", failureWeight),
            ("lagWeight", lagWeight), ("gatewayScorePenalty", gatewayScorePenalty),
            ("initialLatencyMs", initialLatencyMs),
        ] where !(w.isFinite && w >= 0) {
            problems.append("\(name) must be a finite number >= 0")
        }
        for (name, a) in [
            ("tailLatencyShare", tailLatencyShare), ("latencyEWMAAlpha", latencyEWMAAlpha),
            ("failureRateAlpha", failureRateAlpha),
        ] where !(a >= 0 && a <= 1) {
            problems.append("\(name) must be within 0...1")
        }
        if reassignLagBlocks < 1 { problems.append("reassignLagBlocks must be >= 1") }
        if circuitBreakerThreshold < 1 { problems.append("circuitBreakerThreshold must be >= 1") }
        if latencyWindow < 1 || latencyWindow > 4096 { problems.append("latencyWindow must be within 1...4096") }
        if maxAttempts < 1 { problems.append("maxAttempts must be >= 1") }
        if maxQueuedJobs < 0 { problems.append("maxQueuedJobs must be >= 0") }
        for (name, d) in [
            ("circuitBreakerTimeout", circuitBreakerTimeout), ("failureRateHalfLife", failureRateHalfLife),
            ("heartbeatInterval", heartbeatInterval), ("heartbeatTimeout", heartbeatTimeout),
            ("attemptTimeout", attemptTimeout), ("queueTimeout", queueTimeout),
        ] where d <= .zero {
            problems.append("\(name) must be positive")
        }
        if heartbeatTimeout < heartbeatInterval {
            problems.append("heartbeatTimeout must be at least heartbeatInterval (a peer would go stale between beats)")
        }
        return problems
    }
}
