import Dispatcher
import Testing

/// Scenarios of the deterministic simulation; each runs with several seeds and prints a summary table.
enum SimScenarios {
    static func all(seed: UInt64) -> [SimScenario] {
        var steady = SimScenario(name: "steady", seed: seed)
        steady.arrivalsPerSecond = 15

        var spikes = SimScenario(name: "latency spikes", seed: seed)
        spikes.spikesPerMinute = 12
        spikes.spikeFactor = 100
        spikes.config.attemptTimeout = .seconds(5)

        var failing = SimScenario(name: "failing peers", seed: seed)
        failing.failingPeers = 4
        failing.failingProbability = 1  // broken peers: their circuits must open
        failing.arrivalsPerSecond = 30

        var churn = SimScenario(name: "churn", seed: seed)
        churn.churnPerMinute = 20

        var stale = SimScenario(name: "stale telemetry", seed: seed)
        stale.staleTelemetryPerMinute = 4
        stale.lagExcursionsPerMinute = 6

        var revocation = SimScenario(name: "token revocation", seed: seed)
        revocation.revocationsPerMinute = 6
        revocation.resultDelayMs = 100...400  // long streams, so revocations land mid-stream

        var saturated = SimScenario(name: "all saturated", seed: seed)
        saturated.peers = 8
        saturated.arrivalsPerSecond = 80
        saturated.arrivalSeconds = 60
        saturated.config.maxQueuedJobs = 300
        saturated.config.queueTimeout = .seconds(5)

        var mixed = SimScenario(name: "everything at once", seed: seed)
        mixed.failingPeers = 2
        mixed.spikesPerMinute = 6
        mixed.churnPerMinute = 10
        mixed.staleTelemetryPerMinute = 2
        mixed.revocationsPerMinute = 3
        mixed.lagExcursionsPerMinute = 3
        mixed.config.maxQueuedJobs = 500
        mixed.arrivalsPerSecond = 30

        return [steady, spikes, failing, churn, stale, revocation, saturated, mixed]
    }
}

@Suite("Dispatcher simulation (virtual clock, seeded)")
struct SimulationTests {
    @Test(
        "every scenario keeps the properties: each job ends once, no duplicate or gap, caps, unhealthy peers skipped",
        arguments: [UInt64(1), 2, 3])
    func scenarios(seed: UInt64) throws {
        var rows = ["seed \(seed)", SimReport.header]
        for scenario in SimScenarios.all(seed: seed) {
            let report = try Simulation(scenario).run()
            rows.append(report.row)
            if !report.failed.isEmpty { rows.append("    failures: \(report.failed.sorted { $0.key < $1.key })") }
            #expect(
                report.violations.isEmpty,
                "\(scenario.name) seed \(seed):\n\(report.violations.prefix(10).joined(separator: "\n"))")
            #expect(report.admitted > 0)
            #expect(report.completed + report.failed.values.reduce(0, +) + report.cancelled == report.admitted)
        }
        print(rows.joined(separator: "\n"))
    }

    @Test("the same seed gives the same run")
    func deterministic() throws {
        var s = SimScenarios.all(seed: 7)[7]
        s.arrivalSeconds = 30
        let a = try Simulation(s).run()
        let b = try Simulation(s).run()
        #expect(a.row == b.row)
        #expect(a.completionSeconds == b.completionSeconds)
    }

    @Test("failures and disruptions actually happen in the scenarios (the properties are not vacuous)")
    func scenariosExerciseFailover() throws {
        let scenarios = SimScenarios.all(seed: 1)
        let spikes = try Simulation(scenarios[1]).run()
        #expect(spikes.stops[.attemptTimeout, default: 0] > 0)
        let failing = try Simulation(scenarios[2]).run()
        #expect(failing.reassignments > 20)
        #expect(failing.counters.circuitsOpened > 0)
        let churn = try Simulation(scenarios[3]).run()
        #expect(churn.stops[.peerReleased, default: 0] > 0)
        #expect(churn.stops[.heartbeatStale, default: 0] > 0)  // crashed peers
        let stale = try Simulation(scenarios[4]).run()
        #expect(stale.stops[.heartbeatStale, default: 0] > 0)
        #expect(stale.counters.peersMarkedStale > 0)
        #expect(stale.stops[.replicaLag, default: 0] > 0)
        let revocation = try Simulation(scenarios[5]).run()
        #expect(revocation.stops[.tokenRevoked, default: 0] > 0)
        #expect(revocation.staleResultsFenced > 0)
        let saturated = try Simulation(scenarios[6]).run()
        #expect(saturated.rejected > 0)
        #expect((saturated.failed["queue timeout"] ?? 0) > 0)
    }
}
