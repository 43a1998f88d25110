import Foundation
import Telemetry
import Testing

@testable import Dispatcher

@Suite("LoadAwareDispatcher: the locked contract implementation")
struct LoadAwareDispatcherTests {
    @Test("decisions are published on the telemetry bus")
    func publishesDecisions() async throws {
        let bus = InProcessTelemetryBus()
        let decisions = bus.subscribe(DispatchDecision.self, bufferSize: 64)
        var config = DispatcherConfig()
        config.gatewayMaxConcurrent = 1
        config.maxQueuedJobs = 1
        let clock = VirtualClock()
        let d: any JobDispatcher = try LoadAwareDispatcher(config: config, clock: clock, telemetry: bus)
        let (first, _) = try d.assign(req())
        guard case .started(let a) = first else {
            Issue.record("expected the gateway to take the first job")
            return
        }
        #expect(a.target == .local)
        let (second, _) = try d.assign(req())
        #expect(second.jobID.sequence == 2)
        #expect(throws: DispatchError.backpressure(queued: 1)) { try d.assign(req()) }
        clock.advance(by: .milliseconds(30))
        let fx = try d.acknowledge(job: a.job, attempt: a.attempt, outcome: .completed)
        #expect(fx.starts.map(\.job) == [second.jobID])
        _ = try d.cancel(job: second.jobID)
        bus.finish()
        var actions: [DispatchDecision.Action] = []
        var completedNs: Int64?
        for await e in decisions {
            actions.append(e.action)
            if e.action == .completed { completedNs = e.jobNanoseconds }
        }
        #expect(actions == [.assignedLocal, .queued, .rejected, .completed, .assignedLocal, .cancelled])
        #expect(completedNs == 30_000_000)
    }

    @Test("the contract works from many tasks at once and the books balance")
    func concurrentUse() async throws {
        let d = try LoadAwareDispatcher(clock: VirtualClock())
        for i in 0..<8 { _ = try d.register(peer: PeerID("p\(i)"), maxConcurrent: 2) }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<200 {
                        guard let (_, fx) = try? d.assign(req()) else { continue }
                        var pending = fx.starts
                        var rounds = 0
                        while let a = pending.popLast(), rounds < 1000 {
                            rounds += 1
                            if let more = try? d.acknowledge(job: a.job, attempt: a.attempt, outcome: .completed) {
                                pending.append(contentsOf: more.starts)
                            }
                        }
                    }
                }
            }
        }
        // Whatever interleaving happened, drain what is left.
        var snap = d.snapshot()
        var guardRounds = 0
        while !snap.inFlight.isEmpty && guardRounds < 10_000 {
            guardRounds += 1
            let j = snap.inFlight[0]
            _ = try? d.acknowledge(job: JobID(j.id), attempt: j.attempt, outcome: .completed)
            snap = d.snapshot()
        }
        #expect(snap.inFlight.isEmpty)
        #expect(snap.queued.isEmpty)
        #expect(snap.counters.admitted == snap.counters.completed)
        #expect(snap.peers.allSatisfy { $0.inFlight == 0 })
    }

    @Test("a worker load report becomes a heartbeat")
    func heartbeatFromReport() {
        let hb = PeerHeartbeat(PeerLoadReport(peerID: "abc", latencyMs: 12, replicaLagBlocks: 7))
        #expect(hb == PeerHeartbeat(peer: "abc", replicaLagBlocks: 7, reportedLatencyMs: 12))
        let bad = PeerHeartbeat(PeerLoadReport(peerID: "abc", latencyMs: .nan, replicaLagBlocks: -3))
        #expect(bad.replicaLagBlocks == 0)
        #expect(bad.reportedLatencyMs == nil)
    }

    @Test("shutdown ends every job exactly once")
    func shutdown() throws {
        let d = try LoadAwareDispatcher(clock: VirtualClock())
        for _ in 0..<5 { _ = try d.assign(req()) }
        let fx = d.shutdown()
        #expect(fx.finishes.count == 5)
        #expect(fx.finishes.allSatisfy { $0.1 == .failed(.shutdown) })
        #expect(fx.stops.count == 3)  // the gateway was running three of them
        #expect(d.snapshot().inFlight.isEmpty)
    }
}

@Suite("LoadAwareDispatcher: effects of a failed call are not lost")
struct CarriedEffectsTests {
    @Test("a stale peer found while a job is refused: its moves come back with the next call")
    func carried() throws {
        var config = DispatcherConfig()
        config.gatewayIsCandidate = false
        config.maxQueuedJobs = 0
        let clock = VirtualClock()
        let d = try LoadAwareDispatcher(config: config, clock: clock)
        _ = try d.register(peer: "a", maxConcurrent: 2)
        let (first, _) = try d.assign(req())
        let job = first.jobID
        clock.advance(by: .seconds(31))
        #expect(throws: DispatchError.self) { try d.assign(req()) }
        let fx = d.tick()
        #expect(fx.stops.map(\.0) == [job])
        #expect(fx.stops.map(\.2) == [.heartbeatStale])
        #expect(d.tick().stops.isEmpty)  // returned once, not again
    }
}
