import TestSupport
import Testing

@testable import Dispatcher

@Suite("Dispatcher: bad and late input never crashes or corrupts state")
struct BadInputTests {
    @Test("random forged ids, stale attempts and repeated removals leave the books consistent")
    func garbage() throws {
        var rng = SeededGenerator(seed: 77)
        var core = try makeCore { $0.maxQueuedJobs = 50 }
        var fx: [DispatchEffect] = []
        var known: [JobID] = []
        var ended = Set<JobID>()
        for p in 0..<5 { try core.register(PeerID("p\(p)"), now: at(0), &fx) }
        for step in 0..<5000 {
            let now = at(Double(step) * 0.01)
            fx = []
            let forged = JobID(UInt64.random(in: 0...UInt64.max, using: &rng))
            let some = known.randomElement(using: &rng) ?? forged
            let job = Bool.random(using: &rng) ? some : forged
            let attempt = UInt32.random(in: 0...3, using: &rng)
            switch Int.random(in: 0..<8, using: &rng) {
            case 0:
                if let p = try? core.assign(req(), now: now, &fx) { known.append(p.jobID) }
            case 1: try? core.acknowledge(job: job, attempt: attempt, outcome: .completed, now: now, &fx)
            case 2: try? core.acknowledge(job: job, attempt: attempt, outcome: .failed(reason: ""), now: now, &fx)
            case 3: try? core.reassign(job: job, reason: .tooSlow, now: now, &fx)
            case 4: try? core.cancel(job: job, now: now, &fx)
            case 5:
                _ = core.recordResult(
                    job: job, attempt: attempt,
                    cursor: ResumeCursor(createdAt: .random(in: -5...5, using: &rng), eventID: ""),
                    now: now)
            case 6:
                let p = PeerID("p\(Int.random(in: 0..<7, using: &rng))")
                if Bool.random(using: &rng) {
                    try? core.removePeer(p, reason: .peerDisconnected, now: now, &fx)
                } else {
                    try? core.register(p, now: now, &fx)
                }
            default: core.tick(now: now, &fx)
            }
            for (j, _) in fx.finishes {
                #expect(ended.insert(j).inserted, "\(j) finished twice")
            }
            let snap = core.snapshot(now: now)
            #expect(snap.peers.allSatisfy { $0.inFlight >= 0 && $0.inFlight <= $0.maxConcurrent })
            #expect(snap.inFlight.count == snap.peers.reduce(0) { $0 + $1.inFlight })
            #expect(core.jobCount == snap.inFlight.count + snap.queued.count)
        }
        #expect(!ended.isEmpty)
    }
}
