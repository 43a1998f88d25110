import Dispatcher
import Foundation
import TestSupport

/// Deterministic simulation of a gateway, its dispatcher and fake peers on a virtual clock.
///
/// Properties checked on every run (violations are collected in the report):
/// - every admitted job ends exactly once (completed, failed with a reason, or cancelled);
/// - the client receives exactly the expected results, in order, with no duplicate and no gap, even across
///   reassignments (a failed or cancelled job received a gap-free prefix);
/// - no peer ever runs more jobs than its cap (counted from the effects, independently of the dispatcher);
/// - an unhealthy peer stops receiving work within one heartbeat: nothing is started on a removed or revoked
///   peer, on a peer reporting too much lag, on an open circuit, or on a silent peer later than its last
///   heartbeat + `heartbeatTimeout` (one interval after its first missed heartbeat).
final class Simulation {
    let scenario: SimScenario
    let clock = VirtualClock()
    let dispatcher: LoadAwareDispatcher
    var rng: SeededGenerator
    var queue = SimQueue()
    var peers: [FakePeer] = []
    var indexOf: [PeerID: Int] = [:]
    var report: SimReport

    // Client-side truth.
    var expected: [JobID: [SimEvent]] = [:]
    var received: [JobID: [SimEvent]] = [:]
    var admittedAt: [JobID: Double] = [:]
    var finishCount: [JobID: Int] = [:]
    // Attempt bookkeeping, from the effects only.
    var current: [JobID: (attempt: UInt32, target: DispatchTarget)] = [:]
    var active: [DispatchTarget: Int] = [:]
    var runs: [String: [SimEvent]] = [:]  // "job/attempt" -> events the runner will send
    var stopped: Set<String> = []
    var lateAllowance: [String: Int] = [:]
    var now: Double = 0
    let endOfArrivals: Double
    var nextPeerNumber = 0

    init(_ scenario: SimScenario) throws {
        self.scenario = scenario
        rng = SeededGenerator(seed: scenario.seed)
        dispatcher = try LoadAwareDispatcher(config: scenario.config, clock: clock)
        report = SimReport(scenario: scenario.name, seed: scenario.seed)
        endOfArrivals = scenario.arrivalSeconds
    }

    func key(_ j: JobID, _ a: UInt32) -> String { "\(j.rawValue)/\(a)" }
    func uniform(_ r: ClosedRange<Double>) -> Double { Double.random(in: r, using: &rng) }
    func chance(_ p: Double) -> Bool { p > 0 && Double.random(in: 0..<1, using: &rng) < p }
    func schedule(_ at: Double, _ a: SimAction) { queue.push(Int64(at * 1e9), a) }
    func violation(_ s: String) { if report.violations.count < 50 { report.violations.append("t=\(now): \(s)") } }

    // MARK: running

    func run() -> SimReport {
        for _ in 0..<scenario.peers { addPeer(failing: peers.count < scenario.failingPeers) }
        schedule(0, .arrival)
        schedule(5, .tick)
        schedule(1, .chaos)
        let hardEnd = endOfArrivals + 900
        while let (t, action) = queue.pop() {
            now = Double(t) / 1e9
            if now > hardEnd { break }
            clock.advance(to: Moment(nanoseconds: t))
            handle(action)
            if now > endOfArrivals && finishCount.count == expected.count { break }
        }
        for (job, _) in expected where finishCount[job] == nil { violation("\(job) never ended") }
        for (job, n) in finishCount where n != 1 { violation("\(job) ended \(n) times") }
        let counters = dispatcher.snapshot().counters
        report.counters = counters
        report.reassignments = Int(counters.reassignments)
        report.duplicatesDropped = Int(counters.duplicatesDropped)
        return report
    }

    func addPeer(failing: Bool) {
        let id = PeerID(String(format: "p%02d", nextPeerNumber))
        nextPeerNumber += 1
        var p = FakePeer(
            id: id, delayMs: uniform(scenario.resultDelayMs),
            failProbability: failing ? scenario.failingProbability : scenario.backgroundFailure)
        p.lastHeartbeat = now
        indexOf[id] = peers.count
        peers.append(p)
        apply { try dispatcher.register(peer: id, maxConcurrent: nil) }
        schedule(now + uniform(1...15), .heartbeat(peers.count - 1))
    }

    func handle(_ action: SimAction) {
        switch action {
        case .arrival:
            arrival()
            if now < endOfArrivals {
                let gap = -log(1 - Double.random(in: 0..<1, using: &rng)) / scenario.arrivalsPerSecond
                schedule(now + gap, .arrival)
            }
        case .result(let job, let attempt, let index): result(job, attempt, index)
        case .eose(let job, let attempt): ack(job, attempt, .completed)
        case .fail(let job, let attempt): ack(job, attempt, .failed(reason: "peer error"))
        case .heartbeat(let i): heartbeat(i)
        case .tick:
            apply { dispatcher.tick() }
            checkDispatcherCaps()
            schedule(now + 5, .tick)
        case .chaos:
            chaos()
            if now < endOfArrivals { schedule(now + 1, .chaos) }
        case .clientClose(let job):
            guard finishCount[job] == nil, expected[job] != nil else { return }
            apply { try dispatcher.cancel(job: job) }
        }
    }

    func arrival() {
        let n = Int.random(in: scenario.resultsPerJob, using: &rng)
        var events = Set<SimEvent>()
        for _ in 0..<n {
            // Few distinct seconds: many events share a created_at, as in the field.
            let id = String(format: "%016llx", UInt64.random(in: 0...UInt64.max, using: &rng))
            events.insert(SimEvent(createdAt: Int64.random(in: 1_700_000_000...1_700_000_008, using: &rng), id: id))
        }
        let all = events.sorted { $0.createdAt > $1.createdAt || ($0.createdAt == $1.createdAt && $0.id < $1.id) }
        let limit: Int? = chance(scenario.limitShare) ? Int.random(in: 1...10, using: &rng) : nil
        let request = JobRequest(
            connectionID: "conn\(Int.random(in: 0..<50, using: &rng))", subscriptionID: "sub", limit: limit)
        let placement: Placement
        let effects: [DispatchEffect]
        do {
            (placement, effects) = try dispatcher.assign(request)
        } catch .backpressure {
            report.rejected += 1
            return
        } catch {
            violation("assign failed: \(error)")
            return
        }
        let job: JobID
        switch placement {
        case .started(let a): job = a.job
        case .queued(let j, _): job = j
        }
        guard expected[job] == nil else {
            violation("job id \(job) handed out twice")
            return
        }
        report.admitted += 1
        expected[job] = limit.map { Array(all.prefix($0)) } ?? all
        universe[job] = all
        received[job] = []
        admittedAt[job] = now
        if chance(scenario.cancelShare) { schedule(now + uniform(0.01...2), .clientClose(job)) }
        process(effects)
    }

    var universe: [JobID: [SimEvent]] = [:]

    func heartbeat(_ i: Int) {
        var p = peers[i]
        guard p.registered, !p.crashed else { return }
        schedule(now + uniform(14.5...15.5), .heartbeat(i))
        guard !p.silent else { return }
        p.lastHeartbeat = now
        peers[i] = p
        let lag: Int64 =
            now < p.lagUntil ? Int64.random(in: 500...900, using: &rng) : Int64.random(in: 0...40, using: &rng)
        reportedLag[p.id] = lag
        apply {
            try dispatcher.heartbeat(PeerHeartbeat(peer: p.id, replicaLagBlocks: lag, reportedLatencyMs: p.delayMs))
        }
    }

    /// Last replica lag each peer reported.
    var reportedLag: [PeerID: Int64] = [:]

    func chaos() {
        let perSecond = 1.0 / 60
        let live = peers.indices.filter { peers[$0].registered && !peers[$0].crashed }
        if chance(scenario.spikesPerMinute * perSecond), let i = live.randomElement(using: &rng) {
            peers[i].spikeUntil = now + uniform(10...40)
        }
        if chance(scenario.lagExcursionsPerMinute * perSecond), let i = live.randomElement(using: &rng) {
            peers[i].lagUntil = now + uniform(20...60)
        }
        if chance(scenario.staleTelemetryPerMinute * perSecond), let i = live.randomElement(using: &rng) {
            peers[i].silent = true
        }
        if chance(scenario.revocationsPerMinute * perSecond), let i = live.randomElement(using: &rng) {
            cutOff(i, reason: .tokenRevoked)
        }
        if chance(scenario.churnPerMinute * perSecond) {
            // Half joins, a quarter leaves, a quarter crashes: the population stays about the same.
            switch Int.random(in: 0..<4, using: &rng) {
            case 0, 1: addPeer(failing: false)
            case 2: if let i = live.randomElement(using: &rng) { cutOff(i, reason: .peerReleased) }
            default: if let i = live.randomElement(using: &rng) { peers[i].crashed = true }
            }
        }
    }

    func cutOff(_ i: Int, reason: ReassignReason) {
        peers[i].registered = false
        peers[i].removedAt = now
        let id = peers[i].id
        apply {
            reason == .peerReleased
                ? try dispatcher.release(peer: id) : try dispatcher.peerLost(peer: id, reason: reason)
        }
    }

    // MARK: fake peer execution

    func startRun(_ a: Assignment) {
        let k = key(a.job, a.attempt)
        let all = universe[a.job] ?? []
        var rest = all.filter { a.resumeAfter?.comesBefore(createdAt: $0.createdAt, eventID: $0.id) ?? true }
        if let remaining = a.remainingLimit { rest = Array(rest.prefix(remaining)) }
        runs[k] = rest
        lateAllowance[k] = chance(scenario.lateResultProbability) ? 1 : 0
        let (delay, failP) = behaviour(a.target)
        if case .peer(let id) = a.target, let i = indexOf[id], peers[i].crashed { return }  // hangs
        if chance(failP) {
            let upTo = Int.random(in: 0...rest.count, using: &rng)
            scheduleResults(a, count: upTo, delay: delay)
            schedule(now + delay * Double(upTo + 1), .fail(job: a.job, attempt: a.attempt))
        } else {
            scheduleResults(a, count: rest.count, delay: delay)
            schedule(now + delay * Double(rest.count + 1), .eose(job: a.job, attempt: a.attempt))
        }
    }

    func scheduleResults(_ a: Assignment, count: Int, delay: Double) {
        for i in 0..<count { schedule(now + delay * Double(i + 1), .result(job: a.job, attempt: a.attempt, index: i)) }
    }

    /// Per-result delay (s) and failure probability of whoever runs the job.
    func behaviour(_ t: DispatchTarget) -> (Double, Double) {
        guard case .peer(let id) = t, let i = indexOf[id] else { return (scenario.gatewayDelayMs / 1000, 0) }
        let p = peers[i]
        let spike = now < p.spikeUntil ? scenario.spikeFactor : 1.0
        return (p.delayMs * spike / 1000, p.failProbability)
    }

    func isMuted(_ job: JobID, _ attempt: UInt32) -> Bool {
        let k = key(job, attempt)
        if let runner = runnerOf[k], case .peer(let id) = runner, let i = indexOf[id], peers[i].crashed { return true }
        if stopped.contains(k) {
            // A stopped peer may still have one result on the wire.
            if let n = lateAllowance[k], n > 0 {
                lateAllowance[k] = n - 1
                return false
            }
            return true
        }
        return false
    }

    var runnerOf: [String: DispatchTarget] = [:]

    func result(_ job: JobID, _ attempt: UInt32, _ index: Int) {
        let k = key(job, attempt)
        guard !isMuted(job, attempt), let events = runs[k], index < events.count else { return }
        let e = events[index]
        let verdict = dispatcher.recordResult(job: job, attempt: attempt, cursor: e.cursor)
        switch verdict {
        case .forward:
            received[job, default: []].append(e)
            if finishCount[job] != nil { violation("\(job): result forwarded after the job ended") }
        case .staleAttempt, .unknownJob:
            report.staleResultsFenced += 1
        case .duplicate, .limitReached:
            break
        }
    }

    func ack(_ job: JobID, _ attempt: UInt32, _ outcome: JobOutcome) {
        let k = key(job, attempt)
        if crashedRunner(k) { return }  // a crashed peer sends nothing
        if stopped.contains(k) {
            // Late acknowledgement from a stopped attempt: must be refused.
            do {
                _ = try dispatcher.acknowledge(job: job, attempt: attempt, outcome: outcome)
                violation("\(job): acknowledgement of stopped attempt \(attempt) accepted")
            } catch {}
            return
        }
        guard let c = current[job], c.attempt == attempt else { return }
        active[c.target, default: 0] -= 1
        current[job] = nil
        if outcome == .completed { finalTarget[job] = c.target }
        apply { try dispatcher.acknowledge(job: job, attempt: attempt, outcome: outcome) }
    }

    func crashedRunner(_ k: String) -> Bool {
        if let runner = runnerOf[k], case .peer(let id) = runner, let i = indexOf[id] { return peers[i].crashed }
        return false
    }

    // MARK: effects and properties

    func apply(_ call: () throws -> [DispatchEffect]) {
        do {
            process(try call())
        } catch {
            violation("dispatcher call failed: \(error)")
        }
    }

    func process(_ effects: [DispatchEffect]) {
        for effect in effects {
            switch effect {
            case .start(let a):
                checkStart(a)
                if let c = current[a.job] { violation("\(a.job) started while attempt \(c.attempt) still active") }
                current[a.job] = (a.attempt, a.target)
                active[a.target, default: 0] += 1
                runnerOf[key(a.job, a.attempt)] = a.target
                let cap =
                    a.target == .local ? scenario.config.gatewayMaxConcurrent : scenario.config.maxConcurrentPerPeer
                if active[a.target, default: 0] > cap {
                    violation("\(a.target) runs \(active[a.target, default: 0]) jobs, cap \(cap)")
                }
                let delivered = received[a.job]?.count ?? 0
                if a.delivered != delivered {
                    violation("\(a.job): assignment says \(a.delivered) delivered, client saw \(delivered)")
                }
                if a.resumeAfter != received[a.job]?.last?.cursor {
                    violation("\(a.job): cursor does not match last delivered")
                }
                startRun(a)
            case .stop(let job, let attempt, let target, let reason):
                report.stops[reason, default: 0] += 1
                stopped.insert(key(job, attempt))
                if let c = current[job], c.attempt == attempt {
                    current[job] = nil
                    active[target, default: 0] -= 1
                } else {
                    violation("\(job): stop for attempt \(attempt) that is not active")
                }
            case .finished(let job, _, let resolution, let elapsed):
                finishCount[job, default: 0] += 1
                if let c = current[job] {
                    // Ended without a stop: only legitimate right after its own acknowledgement.
                    violation("\(job) finished while attempt \(c.attempt) still active on \(c.target)")
                }
                let expectedElapsed = now - (admittedAt[job] ?? now)
                if abs(Double(elapsed.nanoseconds) / 1e9 - expectedElapsed) > 1e-6 {
                    violation("\(job): elapsed \(elapsed) but admitted \(expectedElapsed) s ago")
                }
                verifyContent(job, resolution)
            }
        }
    }

    func checkStart(_ a: Assignment) {
        guard case .peer(let id) = a.target else { return }
        guard let i = indexOf[id] else {
            violation("\(a.job) started on unknown peer \(id)")
            return
        }
        let p = peers[i]
        if let r = p.removedAt { violation("\(a.job) started on \(id) removed at \(r)") }
        let timeout = Double(scenario.config.heartbeatTimeout.nanoseconds) / 1e9
        if now > p.lastHeartbeat + timeout + 1e-9 {
            violation("\(a.job) started on \(id) silent since \(p.lastHeartbeat) (heartbeat timeout \(timeout) s)")
        }
        if let lag = reportedLag[id], lag >= scenario.config.reassignLagBlocks {
            violation("\(a.job) started on \(id) which reported \(lag) blocks of lag")
        }
        if case .open = dispatcher.withCore({ $0.circuit(of: id) }) {
            violation("\(a.job) started on \(id) with an open circuit")
        }
    }

    func checkDispatcherCaps() {
        let snap = dispatcher.snapshot()
        for p in snap.peers where p.inFlight > p.maxConcurrent {
            violation("dispatcher reports \(p.id) with \(p.inFlight) jobs, cap \(p.maxConcurrent)")
        }
    }

    func verifyContent(_ job: JobID, _ resolution: JobResolution) {
        let got = received[job] ?? []
        let want = expected[job] ?? []
        switch resolution {
        case .completed:
            report.completed += 1
            report.completionSeconds.append(now - (admittedAt[job] ?? now))
            if let c = finalTarget[job] { report.completedBy[c.description, default: 0] += 1 }
            if got != want {
                violation("\(job): client got \(got.count) results, expected \(want.count) (dup/gap/order)")
            }
        case .failed(let f):
            report.failed[String(describing: f).components(separatedBy: " (").first ?? "?", default: 0] += 1
            if got != Array(want.prefix(got.count)) { violation("\(job): failed job's results are not a clean prefix") }
        case .cancelled:
            report.cancelled += 1
            if got != Array(want.prefix(got.count)) {
                violation("\(job): cancelled job's results are not a clean prefix")
            }
        }
    }

    var finalTarget: [JobID: DispatchTarget] = [:]
}
