import Foundation
import Testing

@testable import Dispatcher

@Suite("Dispatcher core: assignment, caps, queue")
struct DispatcherCoreTests {
    @Test("defaults are the deployed configuration's")
    func defaults() {
        let c = DispatcherConfig.default
        #expect(c.maxConcurrentPerPeer == 3)
        #expect(c.inFlightWeight == 25)
        #expect(c.latencyWeight == 1)
        #expect(c.failureWeight == 500)
        #expect(c.reassignLagBlocks == 500)
        #expect(c.circuitBreakerThreshold == 5)
        #expect(c.circuitBreakerTimeout == .seconds(60))
        #expect(c.validate().isEmpty)
    }

    @Test("a bad configuration is refused with every problem named")
    func badConfig() {
        var c = DispatcherConfig()
        c.maxConcurrentPerPeer = 0
        c.failureWeight = -1
        c.tailLatencyShare = 2
        c.heartbeatTimeout = .zero
        #expect(throws: DispatchError.self) { try DispatcherCore(config: c, now: at(0)) }
        #expect(c.validate().count == 5)  // the zero timeout is also shorter than the heartbeat interval
    }

    @Test("jobs go to the least loaded peer, and no peer ever exceeds its cap")
    func capsAndSpread() throws {
        var core = try makeCore()
        var fx: [DispatchEffect] = []
        for p in ["a", "b", "c"] { try core.register(PeerID(p), now: at(0), &fx) }
        var targets: [String] = []
        for i in 0..<9 {
            let placement = try core.assign(req("s\(i)"), now: at(1), &fx)
            targets.append(try #require(placement.assignment).target.description)
        }
        #expect(targets == ["a", "b", "c", "a", "b", "c", "a", "b", "c"])
        for p in ["a", "b", "c"] { #expect(core.inFlight(of: PeerID(p)) == 3) }
        // Saturated: the next job waits in the queue.
        let queued = try core.assign(req("s9"), now: at(1), &fx)
        guard case .queued(let id, let position) = queued else {
            Issue.record("expected the job to be queued")
            return
        }
        #expect(position == 0)
        #expect(id.sequence == 10)
        #expect(core.queuedCount == 1)
    }

    @Test("a job holds its slot until acknowledged; the acknowledgement starts the next queued job")
    func ackFreesSlot() throws {
        var core = try makeCore { $0.maxConcurrentPerPeer = 1 }
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        let first = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        let second = try core.assign(req(), now: at(0), &fx)
        #expect(second.assignment == nil)
        #expect(second.jobID.sequence == 2)
        fx = []
        try core.acknowledge(job: first.job, attempt: first.attempt, outcome: .completed, now: at(2), &fx)
        #expect(fx.finishes.map(\.0) == [first.job])
        #expect(fx.starts.map(\.job) == [second.jobID])
        #expect(core.inFlight(of: "a") == 1)
    }

    @Test("job ids are unique even when clients reuse a subscription id")
    func uniqueIDs() throws {
        var core = try makeCore { $0.maxQueuedJobs = 100 }
        var fx: [DispatchEffect] = []
        var ids = Set<JobID>()
        for _ in 0..<50 { ids.insert(try core.assign(req("same"), now: at(0), &fx).jobID) }
        #expect(ids.count == 50)
        // Slots are reused once jobs end, ids never are.
        var reuse = try makeCore()
        try reuse.register("a", now: at(0), &fx)
        var seen = Set<JobID>()
        for _ in 0..<200 {
            fx = []
            let p = try reuse.assign(req("same"), now: at(0), &fx)
            #expect(seen.insert(p.jobID).inserted)
            for a in fx.starts {
                try reuse.acknowledge(job: a.job, attempt: a.attempt, outcome: .completed, now: at(0), &fx)
            }
        }
        #expect(seen.count == 200)
        #expect(reuse.jobCount == 0)
    }

    @Test("when every candidate is saturated the bounded queue pushes back")
    func backpressure() throws {
        var core = try makeCore {
            $0.maxConcurrentPerPeer = 1
            $0.maxQueuedJobs = 2
        }
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        _ = try core.assign(req(), now: at(0), &fx)
        _ = try core.assign(req(), now: at(0), &fx)
        _ = try core.assign(req(), now: at(0), &fx)
        #expect(throws: DispatchError.backpressure(queued: 2)) { try core.assign(req(), now: at(0), &fx) }
        #expect(core.counters.rejectedBackpressure == 1)
    }

    @Test("the gateway is a candidate like any peer, and can be left out")
    func gatewayCandidate() throws {
        var fx: [DispatchEffect] = []
        var withGateway = try DispatcherCore(now: at(0))
        let a = try #require(try withGateway.assign(req(), now: at(0), &fx).assignment)
        #expect(a.target == .local)
        try withGateway.register("p", now: at(0), &fx)
        // Equal scores: the gateway has one job (25 points), the idle peer wins the next one.
        let b = try #require(try withGateway.assign(req(), now: at(0), &fx).assignment)
        #expect(b.target == .peer("p"))

        var without = try makeCore()
        let queued = try without.assign(req(), now: at(0), &fx)
        #expect(queued.assignment == nil)
        #expect(queued.jobID.sequence == 1)
    }

    @Test("the score is latency + failure + lag + in-flight terms with the configured weights")
    func scoreFormula() throws {
        var core = try makeCore {
            $0.tailLatencyShare = 0.5
            $0.lagWeight = 0.1
        }
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        try core.heartbeat(PeerHeartbeat(peer: "a", replicaLagBlocks: 100), now: at(0), &fx)
        let j = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        try core.acknowledge(job: j.job, attempt: 1, outcome: .completed, now: at(0.2), &fx)  // 200 ms
        let j2 = try #require(try core.assign(req(), now: at(1), &fx).assignment)
        // latency: EWMA 200, p95 200 -> 200; lag 100 * 0.1 = 10; one job in flight: 25.
        let s1: Double = try #require(core.score(of: "a"))
        #expect(abs(s1 - 235.0) < 1e-9)
        try core.acknowledge(job: j2.job, attempt: 1, outcome: .failed(reason: "boom"), now: at(1), &fx)
        // failure rate 0.2 after one failure: +100 points; the job has no other candidate and is requeued.
        let s2: Double = try #require(core.score(of: "a"))
        #expect(abs(s2 - 335.0) < 1e-6)
    }

    @Test("a slow peer loses to a fast one")
    func latencyMatters() throws {
        var core = try makeCore()
        var fx: [DispatchEffect] = []
        try core.register("slow", now: at(0), &fx)
        try core.register("fast", now: at(0), &fx)
        let a = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        let b = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        #expect([a.target, b.target] == [.peer("slow"), .peer("fast")])
        try core.acknowledge(job: b.job, attempt: 1, outcome: .completed, now: at(0.01), &fx)
        try core.acknowledge(job: a.job, attempt: 1, outcome: .completed, now: at(0.9), &fx)
        for _ in 0..<3 {
            let next = try #require(try core.assign(req(), now: at(1), &fx).assignment)
            #expect(next.target == .peer("fast"))
        }
        #expect(core.inFlight(of: "slow") == 0)
    }

    @Test("an acknowledgement for an old attempt or unknown job is refused and changes nothing")
    func staleAck() throws {
        var core = try makeCore()
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        try core.register("b", now: at(0), &fx)
        let a = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        try core.reassign(job: a.job, reason: .peerDisconnected, now: at(1), &fx)
        #expect(throws: DispatchError.staleAttempt(a.job, attempt: 1, current: 2)) {
            try core.acknowledge(job: a.job, attempt: 1, outcome: .completed, now: at(2), &fx)
        }
        #expect(throws: DispatchError.unknownJob(JobID(99))) {
            try core.acknowledge(job: JobID(99), attempt: 1, outcome: .completed, now: at(2), &fx)
        }
        #expect(core.inFlight(of: "b") == 1)
        #expect(core.jobCount == 1)
    }

    @Test("bad input is refused with typed errors")
    func badInput() throws {
        var core = try makeCore()
        var fx: [DispatchEffect] = []
        #expect(throws: DispatchError.self) { try core.register("", now: at(0), &fx) }
        #expect(throws: DispatchError.self) { try core.register(.gateway, now: at(0), &fx) }
        #expect(throws: DispatchError.self) { try core.register("a", maxConcurrent: 0, now: at(0), &fx) }
        #expect(throws: DispatchError.unknownPeer("zz")) {
            try core.heartbeat(PeerHeartbeat(peer: "zz"), now: at(0), &fx)
        }
        try core.register("a", now: at(0), &fx)
        #expect(throws: DispatchError.self) {
            try core.heartbeat(PeerHeartbeat(peer: "a", replicaLagBlocks: -1), now: at(0), &fx)
        }
        #expect(throws: DispatchError.self) { try core.assign(req(limit: -1), now: at(0), &fx) }
        #expect(throws: DispatchError.unknownPeer("b")) {
            try core.removePeer("b", reason: .peerReleased, now: at(0), &fx)
        }
    }

    @Test("the snapshot lists queued and running jobs and per-peer state, and encodes as JSON")
    func snapshot() throws {
        var core = try makeCore { $0.maxConcurrentPerPeer = 1 }
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        _ = try core.assign(req("one"), now: at(0), &fx)
        _ = try core.assign(req("two"), now: at(0), &fx)
        let snap = core.snapshot(now: at(3))
        #expect(snap.inFlight.map(\.subscriptionID) == ["one"])
        #expect(snap.inFlight.first?.target == "a")
        #expect(snap.queued.map(\.subscriptionID) == ["two"])
        #expect(snap.peers.map(\.id) == ["a"])
        #expect(snap.peers.first?.inFlight == 1)
        #expect(snap.peers.first?.eligible == false)
        #expect(snap.peers.first?.secondsSinceHeartbeat == 3)
        let json = try JSONEncoder().encode(snap)
        #expect(try JSONDecoder().decode(DispatcherSnapshot.self, from: json) == snap)
    }
}
