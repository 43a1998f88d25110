import Testing

@testable import Dispatcher

@Suite("Dispatcher: circuit breaker, reassignment from a cursor, failover")
struct FailoverTests {
    @Test("five consecutive failures open the circuit; after the timeout one probe is allowed; success closes it")
    func circuitBreaker() throws {
        var core = try makeCore {
            $0.maxAttempts = 100
            $0.queueTimeout = .seconds(600)
        }
        var fx: [DispatchEffect] = []
        try core.register("p", now: at(0), &fx)
        var current = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        // The only candidate: each failed attempt comes straight back to it, so failures are consecutive.
        for n in 1...5 {
            #expect(core.circuit(of: "p") == .closed)
            fx = []
            try core.acknowledge(
                job: current.job, attempt: current.attempt, outcome: .failed(reason: "f\(n)"), now: at(Double(n)), &fx)
            if n < 5 { current = try #require(fx.starts.first) }
        }
        #expect(core.circuit(of: "p") == .open(until: at(65)))
        #expect(fx.starts.isEmpty)
        // Open: nothing runs, new jobs wait.
        for _ in 0..<3 { #expect(try core.assign(req(), now: at(10), &fx).assignment == nil) }
        #expect(core.queuedCount == 4)
        try core.heartbeat(PeerHeartbeat(peer: "p"), now: at(40), &fx)
        #expect(core.inFlight(of: "p") == 0)
        // After the timeout: half-open, exactly one probe (the oldest queued job).
        try core.heartbeat(PeerHeartbeat(peer: "p"), now: at(64), &fx)
        fx = []
        core.tick(now: at(65), &fx)
        #expect(core.circuit(of: "p") == .halfOpen)
        #expect(fx.starts.map(\.job) == [current.job])
        #expect(core.inFlight(of: "p") == 1)
        let probe = try #require(fx.starts.first)
        fx = []
        try core.acknowledge(job: probe.job, attempt: probe.attempt, outcome: .completed, now: at(66), &fx)
        #expect(core.circuit(of: "p") == .closed)
        #expect(fx.starts.count == 3)  // the circuit closed: the three waiting jobs start
    }

    @Test("a failed half-open probe opens the circuit again")
    func failedProbe() throws {
        var core = try makeCore {
            $0.circuitBreakerThreshold = 1
            $0.maxAttempts = 1
        }
        var fx: [DispatchEffect] = []
        try core.register("p", now: at(0), &fx)
        let a = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        try core.acknowledge(job: a.job, attempt: 1, outcome: .failed(reason: "down"), now: at(1), &fx)
        #expect(fx.finishes.map(\.1) == [.failed(.attemptsExhausted(last: "down"))])
        #expect(core.circuit(of: "p") == .open(until: at(61)))
        try core.heartbeat(PeerHeartbeat(peer: "p"), now: at(61), &fx)
        let probe = try #require(try core.assign(req(), now: at(61), &fx).assignment)
        try core.acknowledge(job: probe.job, attempt: 1, outcome: .failed(reason: "still down"), now: at(62), &fx)
        #expect(core.circuit(of: "p") == .open(until: at(122)))
    }

    @Test("reassignment resumes after the last delivered result; old-attempt results and duplicates are dropped")
    func cursorResume() throws {
        var core = try makeCore()
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        try core.register("b", now: at(0), &fx)
        let first = try #require(try core.assign(req(limit: 10), now: at(0), &fx).assignment)
        #expect(first.resumeAfter == nil)
        let events = [(100, "aa"), (100, "bb"), (99, "01")]
        for (c, id) in events {
            #expect(
                core.recordResult(
                    job: first.job, attempt: 1, cursor: ResumeCursor(createdAt: Int64(c), eventID: id), now: at(1))
                    == .forward)
        }
        // A repeat of an already delivered event is a duplicate.
        #expect(
            core.recordResult(
                job: first.job, attempt: 1, cursor: ResumeCursor(createdAt: 100, eventID: "bb"), now: at(1))
                == .duplicate)
        fx = []
        try core.reassign(job: first.job, reason: .tooSlow, now: at(2), &fx)
        #expect(fx.stops.map(\.1) == [first.target])
        let second = try #require(fx.starts.first)
        #expect(second.target != first.target)
        #expect(second.attempt == 2)
        #expect(second.resumeAfter == ResumeCursor(createdAt: 99, eventID: "01"))
        #expect(second.delivered == 3)
        #expect(second.remainingLimit == 7)
        // Late results from the old peer are fenced off.
        #expect(
            core.recordResult(
                job: first.job, attempt: 1, cursor: ResumeCursor(createdAt: 98, eventID: "ff"), now: at(3))
                == .staleAttempt)
        // The new peer continues strictly after the cursor.
        #expect(
            core.recordResult(
                job: first.job, attempt: 2, cursor: ResumeCursor(createdAt: 99, eventID: "00"), now: at(3))
                == .duplicate)
        #expect(
            core.recordResult(
                job: first.job, attempt: 2, cursor: ResumeCursor(createdAt: 99, eventID: "02"), now: at(3)) == .forward)
    }

    @Test("the limit caps forwarded results")
    func limit() throws {
        var core = try makeCore()
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        let a = try #require(try core.assign(req(limit: 2), now: at(0), &fx).assignment)
        #expect(
            core.recordResult(job: a.job, attempt: 1, cursor: ResumeCursor(createdAt: 5, eventID: "a"), now: at(0))
                == .forward)
        #expect(
            core.recordResult(job: a.job, attempt: 1, cursor: ResumeCursor(createdAt: 4, eventID: "a"), now: at(0))
                == .forward)
        #expect(
            core.recordResult(job: a.job, attempt: 1, cursor: ResumeCursor(createdAt: 3, eventID: "a"), now: at(0))
                == .limitReached)
    }

    @Test("a peer that disappears loses all its jobs to others, each resuming from its cursor")
    func failover() throws {
        var core = try makeCore()
        var fx: [DispatchEffect] = []
        for p in ["a", "b", "c"] { try core.register(PeerID(p), now: at(0), &fx) }
        var onA: [Assignment] = []
        for i in 0..<6 {
            let a = try #require(try core.assign(req("s\(i)"), now: at(0), &fx).assignment)
            if a.target == .peer("a") { onA.append(a) }
        }
        #expect(onA.count == 2)
        _ = core.recordResult(
            job: onA[0].job, attempt: 1, cursor: ResumeCursor(createdAt: 7, eventID: "e7"), now: at(1))
        fx = []
        try core.removePeer("a", reason: .tokenRevoked, now: at(2), &fx)
        #expect(Set(fx.stops.map(\.0)) == Set(onA.map(\.job)))
        #expect(fx.stops.allSatisfy { $0.2 == .tokenRevoked })
        let moved = fx.starts
        #expect(Set(moved.map(\.job)) == Set(onA.map(\.job)))
        #expect(moved.allSatisfy { $0.target != .peer("a") })
        #expect(moved.first { $0.job == onA[0].job }?.resumeAfter == ResumeCursor(createdAt: 7, eventID: "e7"))
        // Revocation is not the job's fault: no attempt consumed.
        #expect(core.snapshot(now: at(2)).inFlight.allSatisfy { $0.failures == 0 })
        for p in ["b", "c"] { #expect(core.inFlight(of: PeerID(p)) == 3) }
        #expect(core.score(of: "a") == nil)
    }

    @Test("a peer whose heartbeat is stale gets no work and loses its jobs; a new heartbeat brings it back")
    func staleHeartbeat() throws {
        var core = try makeCore()
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        try core.register("b", now: at(0), &fx)
        let j = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        #expect(j.target == .peer("a"))
        try core.heartbeat(PeerHeartbeat(peer: "b"), now: at(25), &fx)
        // "a" last heard at 0; at 31 s it is stale (timeout 30 s): never picked, and found out when it would be.
        let next = try #require(try core.assign(req(), now: at(31), &fx).assignment)
        #expect(next.target == .peer("b"))
        fx = []
        let tie = try #require(try core.assign(req(), now: at(31), &fx).assignment)  // a and b tie; a is stale
        #expect(tie.target == .peer("b"))
        #expect(fx.stops.map(\.2) == [.heartbeatStale])
        #expect(fx.starts.map(\.job) == [j.job, tie.job])
        #expect(core.inFlight(of: "a") == 0)
        #expect(core.inFlight(of: "b") == 3)
        try core.heartbeat(PeerHeartbeat(peer: "a"), now: at(32), &fx)
        let back = try #require(try core.assign(req(), now: at(32), &fx).assignment)
        #expect(back.target == .peer("a"))
    }

    @Test("tick moves the jobs of a stale peer even when it is never at the top")
    func staleSweep() throws {
        var core = try makeCore()
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        try core.register("b", now: at(0), &fx)
        let j = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        try core.heartbeat(PeerHeartbeat(peer: "b"), now: at(25), &fx)
        fx = []
        core.tick(now: at(31), &fx)
        #expect(fx.stops.map(\.0) == [j.job])
        #expect(fx.starts.map(\.target) == [.peer("b")])
    }

    @Test("a replica 500 blocks behind gets no work and its jobs move")
    func replicaLag() throws {
        var core = try makeCore()
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        try core.register("b", now: at(0), &fx)
        let j = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        #expect(j.target == .peer("a"))
        fx = []
        try core.heartbeat(PeerHeartbeat(peer: "a", replicaLagBlocks: 499), now: at(1), &fx)
        #expect(fx.isEmpty)
        try core.heartbeat(PeerHeartbeat(peer: "a", replicaLagBlocks: 500), now: at(2), &fx)
        #expect(fx.stops.map(\.2) == [.replicaLag])
        #expect(fx.starts.map(\.target) == [.peer("b")])
        for _ in 0..<2 { #expect(try core.assign(req(), now: at(3), &fx).assignment?.target == .peer("b")) }
        #expect(try core.assign(req(), now: at(3), &fx).assignment == nil)
    }

    @Test("a job fails with its last reason once its attempts are used up")
    func attemptsExhausted() throws {
        var core = try makeCore {
            $0.maxAttempts = 3
            $0.circuitBreakerThreshold = 100
        }
        var fx: [DispatchEffect] = []
        for p in ["a", "b"] { try core.register(PeerID(p), now: at(0), &fx) }
        var a = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        for n in 1...3 {
            fx = []
            try core.acknowledge(
                job: a.job, attempt: a.attempt, outcome: .failed(reason: "err\(n)"), now: at(Double(n)), &fx)
            if n < 3 { a = try #require(fx.starts.first) }
        }
        #expect(fx.finishes.map(\.1) == [.failed(.attemptsExhausted(last: "err3"))])
        #expect(core.jobCount == 0)
    }

    @Test("attempt timeouts reassign; queued jobs time out with a reason")
    func timeouts() throws {
        var core = try makeCore {
            $0.maxConcurrentPerPeer = 1
            $0.attemptTimeout = .seconds(10)
            $0.queueTimeout = .seconds(5)
        }
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        try core.register("b", now: at(0), &fx)
        let j = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        let k = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        let q = try core.assign(req(), now: at(0), &fx)
        #expect(q.assignment == nil)
        // Progress on k keeps it alive.
        _ = core.recordResult(job: k.job, attempt: 1, cursor: ResumeCursor(createdAt: 1, eventID: "x"), now: at(8))
        try core.heartbeat(PeerHeartbeat(peer: "a"), now: at(6), &fx)
        try core.heartbeat(PeerHeartbeat(peer: "b"), now: at(6), &fx)
        fx = []
        core.tick(now: at(6), &fx)
        #expect(fx.finishes.map(\.1) == [.failed(.queueTimeout)])
        fx = []
        core.tick(now: at(11), &fx)
        #expect(fx.stops.map(\.0) == [j.job])
        #expect(fx.stops.map(\.2) == [.attemptTimeout])
    }

    @Test("cancelling a running job stops it and ends it once")
    func cancel() throws {
        var core = try makeCore()
        var fx: [DispatchEffect] = []
        try core.register("a", now: at(0), &fx)
        let j = try #require(try core.assign(req(), now: at(0), &fx).assignment)
        fx = []
        try core.cancel(job: j.job, now: at(1), &fx)
        #expect(fx.finishes.map(\.1) == [.cancelled])
        #expect(fx.stops.map(\.2) == [.clientClosed])
        #expect(throws: DispatchError.unknownJob(j.job)) { try core.cancel(job: j.job, now: at(1), &fx) }
        #expect(core.inFlight(of: "a") == 0)
    }
}
