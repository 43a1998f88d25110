import TestSupport
import Testing

@testable import Dispatcher

@Suite("Heap picker agrees with the linear-scan oracle")
struct PickerEquivalenceTests {
    @Test(
        "random operation sequences give identical effects with both pickers", arguments: Array(UInt64(11)...UInt64(18))
    )
    func sameDecisions(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var config = DispatcherConfig()
        config.maxQueuedJobs = 40
        config.attemptTimeout = .seconds(8)
        config.queueTimeout = .seconds(12)
        var heap = try DispatcherCore(config: config, picker: .heap, now: at(0))
        var scan = try DispatcherCore(config: config, picker: .linearScan, now: at(0))
        var running: [Assignment] = []
        var peers: [PeerID] = []
        var nextPeer = 0
        var t = 0.0
        var starts = 0
        for step in 0..<3000 {
            t += Double.random(in: 0...0.4, using: &rng)
            let now = at(t)
            var fxH: [DispatchEffect] = []
            var fxS: [DispatchEffect] = []
            var errH: DispatchError?
            var errS: DispatchError?
            func both(_ body: (inout DispatcherCore, inout [DispatchEffect]) throws(DispatchError) -> Void) {
                do throws(DispatchError) { try body(&heap, &fxH) } catch { errH = error }
                do throws(DispatchError) { try body(&scan, &fxS) } catch { errS = error }
            }
            let roll = Int.random(in: 0..<100, using: &rng)
            switch roll {
            case 0..<6:
                let id = PeerID("p\(nextPeer)")
                nextPeer += 1
                peers.append(id)
                let cap = Int.random(in: 1...4, using: &rng)
                both { (c, fx) throws(DispatchError) in try c.register(id, maxConcurrent: cap, now: now, &fx) }
            case 6..<20 where !peers.isEmpty:
                let id = peers.randomElement(using: &rng)!
                let lag = Int64.random(in: 0...700, using: &rng)
                let lat = Double.random(in: 1...300, using: &rng)
                both { (c, fx) throws(DispatchError) in
                    try c.heartbeat(
                        PeerHeartbeat(peer: id, replicaLagBlocks: lag, reportedLatencyMs: lat), now: now, &fx)
                }
            case 20..<50:
                let limit: Int? = Bool.random(using: &rng) ? Int.random(in: 1...5, using: &rng) : nil
                both { (c, fx) throws(DispatchError) in _ = try c.assign(req(limit: limit), now: now, &fx) }
            case 50..<75 where !running.isEmpty:
                let a = running.randomElement(using: &rng)!
                let outcome: JobOutcome =
                    Int.random(in: 0..<4, using: &rng) == 0 ? .failed(reason: "x") : .completed
                both { (c, fx) throws(DispatchError) in
                    try c.acknowledge(job: a.job, attempt: a.attempt, outcome: outcome, now: now, &fx)
                }
            case 75..<82 where !running.isEmpty:
                let a = running.randomElement(using: &rng)!
                let reason: ReassignReason = Bool.random(using: &rng) ? .tooSlow : .peerDisconnected
                both { (c, fx) throws(DispatchError) in try c.reassign(job: a.job, reason: reason, now: now, &fx) }
            case 82..<85 where !peers.isEmpty:
                let i = Int.random(in: 0..<peers.count, using: &rng)
                let id = peers.remove(at: i)
                both { (c, fx) throws(DispatchError) in try c.removePeer(id, reason: .tokenRevoked, now: now, &fx) }
            case 85..<90 where !running.isEmpty:
                let a = running.randomElement(using: &rng)!
                let createdAt = Int64.random(in: 0...1000, using: &rng)
                let h = heap.recordResult(
                    job: a.job, attempt: a.attempt, cursor: ResumeCursor(createdAt: createdAt, eventID: "e"), now: now)
                let s = scan.recordResult(
                    job: a.job, attempt: a.attempt, cursor: ResumeCursor(createdAt: createdAt, eventID: "e"), now: now)
                #expect(h == s)
            default:
                both { (c, fx) throws(DispatchError) in c.tick(now: now, &fx) }
            }
            #expect(fxH == fxS, "step \(step): effects differ")
            #expect(errH == errS, "step \(step): errors differ")
            if fxH != fxS { return }
            for e in fxH {
                switch e {
                case .start(let a):
                    running.removeAll { $0.job == a.job }
                    running.append(a)
                    starts += 1
                case .stop(let job, _, _, _), .finished(let job, _, _, _):
                    running.removeAll { $0.job == job }
                }
            }
            // Caps hold in both.
            for p in peers { #expect(heap.inFlight(of: p) <= 4) }
        }
        #expect(starts > 300)
        #expect(heap.snapshot(now: at(t)) == scan.snapshot(now: at(t)))
    }
}
