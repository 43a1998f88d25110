import Dispatcher
import Foundation
import TestSupport

/// Knobs of one simulated scenario (times in seconds of virtual time).
struct SimScenario: Sendable {
    var name: String
    var seed: UInt64 = 1
    var config = DispatcherConfig()
    var peers = 20
    /// Seconds during which clients send REQs.
    var arrivalSeconds = 120.0
    var arrivalsPerSecond = 20.0
    /// Per-result delay of a healthy peer, ms.
    var resultDelayMs: ClosedRange<Double> = 20...120
    /// Per-result delay when the gateway serves a job itself, ms (it is busy with client sockets).
    var gatewayDelayMs = 60.0
    var resultsPerJob: ClosedRange<Int> = 0...25
    /// Share of REQs with a limit.
    var limitShare = 0.3
    /// Peers that fail most of their jobs.
    var failingPeers = 0
    var failingProbability = 0.8
    /// Probability that a healthy peer fails a job.
    var backgroundFailure = 0.01
    /// Latency spikes per minute across all peers, and how much slower a spiking peer gets.
    var spikesPerMinute = 0.0
    var spikeFactor = 20.0
    /// Peers leaving, crashing and joining per minute.
    var churnPerMinute = 0.0
    /// Peers whose heartbeats stop (they keep working) per minute.
    var staleTelemetryPerMinute = 0.0
    /// Token revocations per minute (the peer is cut off mid-stream).
    var revocationsPerMinute = 0.0
    /// Replica lag excursions (>= 500 blocks) per minute.
    var lagExcursionsPerMinute = 0.0
    /// Share of jobs the client closes early.
    var cancelShare = 0.02
    /// Probability that a stopped peer still sends one more (stale) result.
    var lateResultProbability = 0.5
}

/// One event of a query's result set.
struct SimEvent: Hashable, Sendable {
    var createdAt: Int64
    var id: String
    var cursor: ResumeCursor { ResumeCursor(createdAt: createdAt, eventID: id) }
}

/// A fake peer's behaviour.
struct FakePeer {
    var id: PeerID
    var delayMs: Double
    var failProbability: Double
    var registered = true
    /// Crashed: no heartbeats, no results, no acknowledgements.
    var crashed = false
    /// Heartbeats no longer arrive (the peer still works).
    var silent = false
    var spikeUntil = -1.0
    var lagUntil = -1.0
    var lastHeartbeat = 0.0
    /// Moment the peer was cut off (revoked or left); starts after it are violations.
    var removedAt: Double?
}

enum SimAction {
    case arrival
    case result(job: JobID, attempt: UInt32, index: Int)
    case eose(job: JobID, attempt: UInt32)
    case fail(job: JobID, attempt: UInt32)
    case heartbeat(Int)
    case tick
    case chaos
    case clientClose(JobID)
}

/// Time-ordered event queue (ties broken by insertion order, so runs are deterministic).
struct SimQueue {
    private var items: [(t: Int64, seq: UInt64, action: SimAction)] = []
    private var seq: UInt64 = 0
    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ t: Int64, _ a: SimAction) {
        seq += 1
        items.append((t, seq, a))
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard less(i, p) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> (t: Int64, action: SimAction)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < items.count && less(l, m) { m = l }
            if r < items.count && less(r, m) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return (top.t, top.action)
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        items[a].t < items[b].t || (items[a].t == items[b].t && items[a].seq < items[b].seq)
    }
}

/// What one run measured.
struct SimReport {
    var scenario: String
    var seed: UInt64
    var admitted = 0
    var rejected = 0
    var completed = 0
    var failed: [String: Int] = [:]
    var cancelled = 0
    var reassignments = 0
    var staleResultsFenced = 0
    var duplicatesDropped = 0
    var completionSeconds: [Double] = []
    var completedBy: [String: Int] = [:]
    var violations: [String] = []
    /// Why attempts were stopped, by reason.
    var stops: [ReassignReason: Int] = [:]
    var counters = DispatcherCounters()

    func percentile(_ p: Double) -> Double {
        guard !completionSeconds.isEmpty else { return 0 }
        let s = completionSeconds.sorted()
        let rank = Int((p * Double(s.count)).rounded(.up))
        return s[max(0, min(s.count - 1, rank - 1))]
    }

    /// One summary row; per-peer share lists the gateway, the busiest three peers and the least busy one.
    var row: String {
        let total = max(1, completedBy.values.reduce(0, +))
        func pct(_ n: Int) -> String { String(format: "%.1f%%", 100 * Double(n) / Double(total)) }
        let peers = completedBy.filter { $0.key != "gateway" }.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
        var share = "gw \(pct(completedBy["gateway"] ?? 0))"
        for (k, v) in peers.prefix(3) { share += " \(k) \(pct(v))" }
        if let last = peers.last, peers.count > 3 { share += " .. \(last.key) \(pct(last.value))" }
        let failedTotal = failed.values.reduce(0, +)
        let cells = [
            pad(scenario, 19), pad("\(admitted)", 6, right: true), pad("\(rejected)", 6, right: true),
            pad("\(completed)", 6, right: true), pad("\(failedTotal)", 6, right: true),
            pad("\(cancelled)", 5, right: true), pad("\(reassignments)", 7, right: true),
            pad(String(format: "%.2f", percentile(0.5)), 7, right: true),
            pad(String(format: "%.2f", percentile(0.99)), 7, right: true), share,
        ]
        return cells.joined(separator: " ")
    }

    static let header = [
        pad("scenario", 19), pad("jobs", 6, right: true), pad("reject", 6, right: true), pad("done", 6, right: true),
        pad("failed", 6, right: true), pad("cancl", 5, right: true), pad("reassgn", 7, right: true),
        pad("p50 s", 7, right: true), pad("p99 s", 7, right: true), "per-peer share of completed jobs",
    ].joined(separator: " ")
}

private func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return right ? fill + s : s + fill
}
