/// Worker -> gateway heartbeat / load report (every ~15 s). Field names follow the deployed JS telemetry where
/// they exist (`peerId`, `latencyMs`, `inFlightJobs`, `failureRate`, `hyperbee*`, `queueDepth`, `reportedAt`).
public struct PeerHeartbeat: PeerPayload {
    public static let supportedVersion = 1
    public var version: Int
    /// Worker swarm public key (hex).
    public var peerId: String
    /// Relay key (hex) this report is about.
    public var relayKey: String
    /// Unix milliseconds.
    public var reportedAt: UInt64
    /// REQs served in the last reporting window.
    public var recentReqCount: UInt64
    /// Query streams open now (JS `inFlightJobs`).
    public var inFlightJobs: UInt64
    /// Median query latency over the window, ms (0...3_600_000).
    public var latencyMs: Double
    /// Failed / attempted over the window (0...1).
    public var failureRate: Double
    /// Queued jobs not yet started.
    public var queueDepth: UInt64
    /// Remote relay log length known to the worker.
    public var hyperbeeLength: UInt64
    /// Blocks held contiguously from 0 (<= hyperbeeLength).
    public var hyperbeeContiguousLength: UInt64
    /// Blocks behind the gateway's log (<= hyperbeeLength).
    public var hyperbeeLag: UInt64
    /// Share of the blocks needed that are held (0...100).
    public var percentSynced: Double
    /// Queries answered from the local replica.
    public var localQueryHits: UInt64
    /// Queries that needed blocks the replica did not hold.
    public var localQueryMisses: UInt64

    public init(
        peerId: String, relayKey: String, reportedAt: UInt64, recentReqCount: UInt64 = 0, inFlightJobs: UInt64 = 0,
        latencyMs: Double = 0, failureRate: Double = 0, queueDepth: UInt64 = 0, hyperbeeLength: UInt64 = 0,
        hyperbeeContiguousLength: UInt64 = 0, hyperbeeLag: UInt64 = 0, percentSynced: Double = 0,
        localQueryHits: UInt64 = 0, localQueryMisses: UInt64 = 0
    ) {
        version = Self.supportedVersion
        self.peerId = peerId
        self.relayKey = relayKey
        self.reportedAt = reportedAt
        self.recentReqCount = recentReqCount
        self.inFlightJobs = inFlightJobs
        self.latencyMs = latencyMs
        self.failureRate = failureRate
        self.queueDepth = queueDepth
        self.hyperbeeLength = hyperbeeLength
        self.hyperbeeContiguousLength = hyperbeeContiguousLength
        self.hyperbeeLag = hyperbeeLag
        self.percentSynced = percentSynced
        self.localQueryHits = localQueryHits
        self.localQueryMisses = localQueryMisses
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        try Check.hexKey(peerId, at: Check.join(path, "peerId"))
        try Check.hexKey(relayKey, at: Check.join(path, "relayKey"))
        try Check.millisecondsTimestamp(reportedAt, at: Check.join(path, "reportedAt"))
        try Check.range(recentReqCount, 0...10_000_000, at: Check.join(path, "recentReqCount"))
        try Check.range(inFlightJobs, 0...100_000, at: Check.join(path, "inFlightJobs"))
        try Check.range(latencyMs, 0...3_600_000, at: Check.join(path, "latencyMs"))
        try Check.range(failureRate, 0...1, at: Check.join(path, "failureRate"))
        try Check.range(queueDepth, 0...1_000_000, at: Check.join(path, "queueDepth"))
        try Check.range(
            hyperbeeContiguousLength, 0...hyperbeeLength, at: Check.join(path, "hyperbeeContiguousLength"))
        try Check.range(hyperbeeLag, 0...hyperbeeLength, at: Check.join(path, "hyperbeeLag"))
        try Check.range(percentSynced, 0...100, at: Check.join(path, "percentSynced"))
    }
}
