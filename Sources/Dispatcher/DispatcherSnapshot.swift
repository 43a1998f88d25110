/// Queues and per-peer state for the admin API (`dispatcher queue dump`), Codable as JSON.
public struct DispatcherSnapshot: Sendable, Equatable, Codable {
    public struct Peer: Sendable, Hashable, Codable {
        public var id: String
        public var isGateway: Bool
        public var inFlight: Int
        public var maxConcurrent: Int
        public var eligible: Bool
        /// Current score (lower is better): base score + in-flight weight x in-flight.
        public var score: Double
        public var latencyEWMAMs: Double
        public var latencyP95Ms: Double
        public var latencySamples: Int
        public var failureRate: Double
        public var consecutiveFailures: Int
        public var circuit: String
        public var replicaLagBlocks: Int64
        public var stale: Bool
        public var secondsSinceHeartbeat: Double
        public var assigned: UInt64
        public var completed: UInt64
        public var failed: UInt64
        public var displaced: UInt64
    }

    public struct Job: Sendable, Hashable, Codable {
        public var id: UInt64
        public var connectionID: String
        public var subscriptionID: String
        /// Peer id or `gateway`; nil while queued.
        public var target: String?
        public var attempt: UInt32
        public var failures: Int
        public var delivered: Int
        public var cursor: String?
        public var secondsSinceAdmitted: Double
    }

    public var queued: [Job]
    public var inFlight: [Job]
    public var peers: [Peer]
    public var counters: DispatcherCounters
    public var config: DispatcherConfig
}

extension DispatcherCore {
    /// The current state, peers in registration-slot order, jobs by id.
    public func snapshot(now: Moment) -> DispatcherSnapshot {
        let t = now.nanoseconds
        func job(_ id: JobID, _ j: JobRecord) -> DispatcherSnapshot.Job {
            DispatcherSnapshot.Job(
                id: id.rawValue, connectionID: j.request.connectionID, subscriptionID: j.request.subscriptionID,
                target: j.phase == .running ? peers[Int(j.slot)].id.rawValue : nil, attempt: j.attempt,
                failures: j.failures, delivered: j.delivered, cursor: j.cursor?.description,
                secondsSinceAdmitted: Double(t &- j.admittedAt) / 1e9)
        }
        var queued: [DispatcherSnapshot.Job] = []
        for id in queue.entries {
            if let j = jobs[id], j.phase == .queued { queued.append(job(id, j)) }
        }
        let running = jobs.liveIDs.map { ($0, jobs[$0]!) }.filter { $0.1.phase == .running }.map {
            job($0.0, $0.1)
        }
        var list: [DispatcherSnapshot.Peer] = []
        for p in peers where p.live {
            list.append(
                DispatcherSnapshot.Peer(
                    id: p.id.rawValue, isGateway: p.isGateway, inFlight: p.inFlight, maxConcurrent: p.cap,
                    eligible: isEligible(p) && !isStale(p, now: t), score: key(p), latencyEWMAMs: p.latency.ewmaMs,
                    latencyP95Ms: p.latency.p95Ms, latencySamples: p.latency.count, failureRate: p.failure.value,
                    consecutiveFailures: p.consecutiveFailures, circuit: p.circuit.description,
                    replicaLagBlocks: p.lagBlocks, stale: p.stale || isStale(p, now: t),
                    secondsSinceHeartbeat: p.isGateway ? 0 : Double(t &- p.lastHeartbeat) / 1e9,
                    assigned: p.assigned, completed: p.completed, failed: p.failed, displaced: p.displaced))
        }
        return DispatcherSnapshot(queued: queued, inFlight: running, peers: list, counters: counters, config: config)
    }

    /// Current score of a peer (nil if unknown), for tests and diagnostics.
    public func score(of peer: PeerID) -> Double? {
        guard let s = slotOf[peer] else { return nil }
        return key(peers[Int(s)])
    }

    /// Jobs currently running on a peer (0 if unknown).
    public func inFlight(of peer: PeerID) -> Int {
        guard let s = slotOf[peer] else { return 0 }
        return peers[Int(s)].inFlight
    }

    /// Circuit state of a peer (nil if unknown).
    public func circuit(of peer: PeerID) -> CircuitState? {
        guard let s = slotOf[peer] else { return nil }
        return peers[Int(s)].circuit
    }
}
