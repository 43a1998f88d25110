/// The dispatcher's state machine: synchronous, single-threaded, allocation-free on the hot path.
/// ``LoadAwareDispatcher`` wraps it with a lock and telemetry; benchmarks and simulations may drive it directly.
///
/// Every mutating call appends the side effects the caller must perform to `effects`, in order.

/// How the best candidate is found.
public enum CandidatePicker: String, Sendable, Codable {
    /// Indexed min-heap of eligible candidates: O(1) pick, O(log n) update (default).
    case heap
    /// Scan every peer on each pick: O(n); kept as a baseline and as a test oracle.
    case linearScan
}

struct PeerRecord: Sendable {
    var id: PeerID
    var isGateway: Bool
    var live = true
    var cap: Int
    var inFlight = 0
    var latency: LatencyStats
    var failure: DecayingRate
    var consecutiveFailures = 0
    var circuit: CircuitState = .closed
    var lagBlocks: Int64 = 0
    var lastHeartbeat: Int64
    var stale = false
    /// Score without the in-flight term (refreshed on every change of the peer and on `tick`).
    var baseScore: Double = 0
    var assigned: UInt64 = 0
    var completed: UInt64 = 0
    var failed: UInt64 = 0
    var displaced: UInt64 = 0
}

enum JobPhase: Sendable {
    case queued, running
    /// Taken off its peer, about to be rerouted or finished (never seen between calls).
    case detached
}

struct JobRecord: Sendable {
    var request: JobRequest
    var admittedAt: Int64
    var phase: JobPhase = .queued
    var queuedAt: Int64
    var slot: Int32 = -1
    var attempt: UInt32 = 0
    var attemptStart: Int64 = 0
    var lastProgress: Int64 = 0
    var failures = 0
    var lastFailure = ""
    var cursor: ResumeCursor?
    var delivered = 0
}

/// Counters since the dispatcher started.
public struct DispatcherCounters: Sendable, Hashable, Codable {
    public var admitted: UInt64 = 0
    public var startedAttempts: UInt64 = 0
    public var reassignments: UInt64 = 0
    public var completed: UInt64 = 0
    public var failed: UInt64 = 0
    public var cancelled: UInt64 = 0
    public var rejectedBackpressure: UInt64 = 0
    public var duplicatesDropped: UInt64 = 0
    /// Times a peer's circuit opened (including failed half-open probes).
    public var circuitsOpened: UInt64 = 0
    /// Times a peer was found silent for longer than `heartbeatTimeout`.
    public var peersMarkedStale: UInt64 = 0
    public init() {}
}

public struct DispatcherCore: Sendable {
    public let config: DispatcherConfig
    public let picker: CandidatePicker
    var peers: [PeerRecord] = []
    var slotOf: [PeerID: Int32] = [:]
    var freeSlots: [Int32] = []
    var heap = CandidateHeap()
    var jobs: JobTable
    var queue = JobQueue()
    var queuedLive = 0
    /// Earliest moment an open circuit becomes half-open (Int64.max: none open).
    var nextCircuitDeadline = Int64.max
    public internal(set) var counters = DispatcherCounters()

    // Knobs converted once to nanoseconds.
    let heartbeatTimeoutNs: Int64
    let attemptTimeoutNs: Int64
    let queueTimeoutNs: Int64
    let circuitTimeoutNs: Int64

    /// - Parameters:
    ///   - firstJobID: first sequence number of job ids (ids increase with admission order).
    public init(
        config: DispatcherConfig = .default, picker: CandidatePicker = .heap, now: Moment, firstJobID: UInt64 = 1
    ) throws(DispatchError) {
        let problems = config.validate()
        guard problems.isEmpty else { throw .invalidConfig(problems) }
        self.config = config
        self.picker = picker
        jobs = JobTable(firstSequence: firstJobID)
        heartbeatTimeoutNs = config.heartbeatTimeout.nanoseconds
        attemptTimeoutNs = config.attemptTimeout.nanoseconds
        queueTimeoutNs = config.queueTimeout.nanoseconds
        circuitTimeoutNs = config.circuitBreakerTimeout.nanoseconds
        if config.gatewayIsCandidate && config.gatewayMaxConcurrent > 0 {
            var effects: [DispatchEffect] = []
            _ = addPeer(.gateway, isGateway: true, cap: config.gatewayMaxConcurrent, now: now.nanoseconds, &effects)
        }
    }

    /// Reserves storage so steady-state operation does not allocate.
    public mutating func reserve(peers n: Int, jobs j: Int) {
        peers.reserveCapacity(n + 1)
        slotOf.reserveCapacity(n + 1)
        heap.reserve(n + 1)
        jobs.reserve(j)
        queue.reserve(j)
    }

    public var queuedCount: Int { queuedLive }
    public var jobCount: Int { jobs.count }
    public var eligibleCount: Int { heap.count }

    // MARK: peers

    /// Adds a peer (or refreshes a known one, like a heartbeat), then gives it queued work.
    public mutating func register(
        _ peer: PeerID, maxConcurrent: Int? = nil, now: Moment, _ effects: inout [DispatchEffect]
    ) throws(DispatchError) {
        guard peer != .gateway else { throw .invalidArgument("the gateway is registered by the dispatcher itself") }
        guard !peer.rawValue.isEmpty else { throw .invalidArgument("empty peer id") }
        if let m = maxConcurrent, m < 1 { throw .invalidArgument("maxConcurrent must be >= 1") }
        let t = now.nanoseconds
        if let slot = slotOf[peer] {
            if let m = maxConcurrent { peers[Int(slot)].cap = m }
            peers[Int(slot)].lastHeartbeat = t
            peers[Int(slot)].stale = false
            refresh(slot, now: t)
        } else {
            _ = addPeer(peer, isGateway: false, cap: maxConcurrent ?? config.maxConcurrentPerPeer, now: t, &effects)
        }
        drainQueue(now: t, &effects)
    }

    /// Records a heartbeat: freshness, replica lag, self-reported latency. A lag of `reassignLagBlocks` or
    /// more moves the peer's jobs elsewhere.
    public mutating func heartbeat(_ hb: PeerHeartbeat, now: Moment, _ effects: inout [DispatchEffect])
        throws(DispatchError)
    {
        guard let slot = slotOf[hb.peer], !peers[Int(slot)].isGateway else { throw .unknownPeer(hb.peer) }
        guard hb.replicaLagBlocks >= 0 else { throw .invalidArgument("negative replica lag") }
        let t = now.nanoseconds
        let i = Int(slot)
        peers[i].lastHeartbeat = t
        peers[i].stale = false
        peers[i].lagBlocks = hb.replicaLagBlocks
        if let r = hb.reportedLatencyMs { peers[i].latency.seed(reportedMs: r) }
        refresh(slot, now: t)
        if hb.replicaLagBlocks >= config.reassignLagBlocks {
            displaceJobs(of: slot, reason: .replicaLag, now: t, &effects)
        }
        drainQueue(now: t, &effects)
    }

    /// Removes a peer: graceful leave (`.peerReleased`), disconnect, revocation. Its jobs move elsewhere,
    /// resuming from their cursors.
    public mutating func removePeer(
        _ peer: PeerID, reason: ReassignReason, now: Moment, _ effects: inout [DispatchEffect]
    ) throws(DispatchError) {
        guard let slot = slotOf[peer], !peers[Int(slot)].isGateway else { throw .unknownPeer(peer) }
        let t = now.nanoseconds
        peers[Int(slot)].live = false
        heap.remove(slot)
        displaceJobs(of: slot, reason: reason, now: t, &effects)
        slotOf[peer] = nil
        freeSlots.append(slot)
        drainQueue(now: t, &effects)
    }

    @discardableResult
    mutating func addPeer(_ id: PeerID, isGateway: Bool, cap: Int, now: Int64, _ effects: inout [DispatchEffect])
        -> Int32
    {
        let record = PeerRecord(
            id: id, isGateway: isGateway, cap: cap,
            latency: LatencyStats(
                capacity: config.latencyWindow, alpha: config.latencyEWMAAlpha, initialMs: config.initialLatencyMs),
            failure: DecayingRate(
                alpha: config.failureRateAlpha, halfLifeNs: config.failureRateHalfLife.nanoseconds, now: now),
            lastHeartbeat: now)
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            peers[Int(slot)] = record
        } else {
            slot = Int32(peers.count)
            peers.append(record)
        }
        slotOf[id] = slot
        refresh(slot, now: now)
        return slot
    }

    // MARK: scoring and eligibility

    @inline(__always)
    func key(_ p: PeerRecord) -> Double { p.baseScore + config.inFlightWeight * Double(p.inFlight) }

    @inline(__always)
    func effectiveCap(_ p: PeerRecord) -> Int {
        if case .halfOpen = p.circuit { return 1 }
        return p.cap
    }

    /// Eligible for new work, ignoring heartbeat staleness (checked lazily against the clock when picking).
    @inline(__always)
    func isEligible(_ p: PeerRecord) -> Bool {
        guard p.live, !p.stale, p.inFlight < effectiveCap(p), p.lagBlocks < config.reassignLagBlocks else {
            return false
        }
        if case .open = p.circuit { return false }
        return true
    }

    @inline(__always)
    func isStale(_ p: PeerRecord, now: Int64) -> Bool {
        !p.isGateway && now &- p.lastHeartbeat > heartbeatTimeoutNs
    }

    /// Recomputes the peer's base score from its rolling metrics.
    mutating func rescore(_ slot: Int32, now: Int64) {
        let i = Int(slot)
        let rate = peers[i].failure.decay(now: now)
        let lat = peers[i].latency
        let share = config.tailLatencyShare
        let latencyMs = (1 - share) * lat.ewmaMs + share * lat.p95Ms
        var s = config.latencyWeight * latencyMs + config.failureWeight * rate
        s += config.lagWeight * Double(peers[i].lagBlocks)
        if peers[i].isGateway { s += config.gatewayScorePenalty }
        peers[i].baseScore = s
    }

    /// Rescores the peer and puts it in (or takes it out of) the candidate heap.
    mutating func refresh(_ slot: Int32, now: Int64) {
        rescore(slot, now: now)
        refreshPosition(slot)
    }

    /// Updates the heap after an in-flight change only (the base score is unchanged).
    @inline(__always)
    mutating func refreshPosition(_ slot: Int32) {
        guard picker == .heap else { return }
        let p = peers[Int(slot)]
        if isEligible(p) { heap.upsert(slot, key: key(p)) } else { heap.remove(slot) }
    }

    /// The best eligible candidate, or nil. Peers found stale on the way are marked and lose their jobs.
    mutating func pick(excluding excluded: Int32, now: Int64, _ effects: inout [DispatchEffect]) -> Int32? {
        if now >= nextCircuitDeadline { promoteHalfOpen(now: now) }
        switch picker {
        case .heap:
            while true {
                // Peek past the excluded peer, then put it back before anything can recurse (marking a
                // stale peer reroutes its jobs, and those may go to the excluded peer).
                var removed = false
                if excluded >= 0 && heap.contains(excluded) {
                    heap.remove(excluded)
                    removed = true
                }
                let top = heap.top
                if removed { refreshPosition(excluded) }
                guard let top else { return nil }
                if isStale(peers[Int(top)], now: now) {
                    markStale(top, now: now, &effects)
                    continue
                }
                return top
            }
        case .linearScan:
            while true {
                var best: Int32 = -1
                var bestKey = Double.infinity
                for i in peers.indices where Int32(i) != excluded {
                    let p = peers[i]
                    guard isEligible(p) else { continue }
                    let k = key(p)
                    if best < 0 || k < bestKey {
                        best = Int32(i)
                        bestKey = k
                    }
                }
                guard best >= 0 else { return nil }
                if isStale(peers[Int(best)], now: now) {
                    markStale(best, now: now, &effects)
                    continue
                }
                return best
            }
        }
    }

    mutating func markStale(_ slot: Int32, now: Int64, _ effects: inout [DispatchEffect]) {
        peers[Int(slot)].stale = true
        counters.peersMarkedStale &+= 1
        heap.remove(slot)
        displaceJobs(of: slot, reason: .heartbeatStale, now: now, &effects)
    }

    /// Moves open circuits whose timeout passed to half-open.
    mutating func promoteHalfOpen(now: Int64) {
        var next = Int64.max
        for i in peers.indices where peers[i].live {
            guard case .open(let until) = peers[i].circuit else { continue }
            if until.nanoseconds <= now {
                peers[i].circuit = .halfOpen
                refreshPosition(Int32(i))
            } else {
                next = min(next, until.nanoseconds)
            }
        }
        nextCircuitDeadline = next
    }

    /// Records a failure against the peer; opens its circuit at the threshold (or on a failed probe).
    mutating func peerFailed(_ slot: Int32, now: Int64, _ effects: inout [DispatchEffect]) {
        let i = Int(slot)
        peers[i].failed &+= 1
        peers[i].failure.record(failure: true, now: now)
        peers[i].consecutiveFailures += 1
        var open = peers[i].consecutiveFailures >= config.circuitBreakerThreshold
        if case .halfOpen = peers[i].circuit { open = true }
        if open {
            counters.circuitsOpened &+= 1
            let until = now &+ circuitTimeoutNs
            peers[i].circuit = .open(until: Moment(nanoseconds: until))
            nextCircuitDeadline = min(nextCircuitDeadline, until)
            heap.remove(slot)
            rescore(slot, now: now)
            displaceJobs(of: slot, reason: .circuitOpen, now: now, &effects)
        } else {
            refresh(slot, now: now)
        }
    }

    mutating func peerSucceeded(_ slot: Int32, latencyMs: Double, now: Int64) {
        let i = Int(slot)
        peers[i].completed &+= 1
        peers[i].failure.record(failure: false, now: now)
        peers[i].consecutiveFailures = 0
        peers[i].latency.add(latencyMs)
        if case .halfOpen = peers[i].circuit { peers[i].circuit = .closed }
        refresh(slot, now: now)
    }
}
