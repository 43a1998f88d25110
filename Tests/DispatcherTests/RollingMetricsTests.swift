import TestSupport
import Testing

@testable import Dispatcher

@Suite("Rolling metrics: latency EWMA and p95, decaying failure rate")
struct RollingMetricsTests {
    @Test("p95 is the exact nearest-rank percentile of the last N samples")
    func p95MatchesSort() {
        var rng = SeededGenerator(seed: 5)
        var stats = LatencyStats(capacity: 64, alpha: 0.2, initialMs: 0)
        var window: [Double] = []
        for _ in 0..<1000 {
            let v = Double(Int.random(in: 0...500, using: &rng))
            stats.add(v)
            window.append(v)
            if window.count > 64 { window.removeFirst() }
            let sorted = window.sorted()
            let rank = (95 * sorted.count + 99) / 100
            #expect(stats.p95Ms == sorted[rank - 1])
        }
        #expect(stats.count == 64)
    }

    @Test("the EWMA starts at the first sample and moves by alpha toward each new one")
    func ewma() {
        var stats = LatencyStats(capacity: 8, alpha: 0.5, initialMs: 0)
        stats.seed(reportedMs: 40)
        #expect(stats.ewmaMs == 40)
        stats.add(100)
        #expect(stats.ewmaMs == 100)  // measured samples replace the reported seed
        stats.add(0)
        #expect(stats.ewmaMs == 50)
        stats.add(.nan)
        #expect(stats.ewmaMs == 50)
        stats.seed(reportedMs: 7)
        #expect(stats.ewmaMs == 50)  // a seed never overrides measurements
    }

    @Test("the failure rate rises by alpha per failure and halves every half-life")
    func decay() {
        var r = DecayingRate(alpha: 0.5, halfLifeNs: 10_000_000_000, now: 0)
        r.record(failure: true, now: 0)
        #expect(r.value == 0.5)
        r.record(failure: true, now: 0)
        #expect(r.value == 0.75)
        #expect(abs(r.decay(now: 10_000_000_000) - 0.375) < 1e-12)
        #expect(abs(r.decay(now: 30_000_000_000) - 0.09375) < 1e-12)
        r.record(failure: false, now: 30_000_000_000)
        #expect(abs(r.value - 0.046875) < 1e-12)
    }

    @Test("the job queue keeps order across wrap-around, push-front and growth")
    func jobQueue() {
        var q = JobQueue()
        var model: [UInt64] = []
        var rng = SeededGenerator(seed: 9)
        var n: UInt64 = 0
        for _ in 0..<2000 {
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                n += 1
                q.pushBack(JobID(n))
                model.append(n)
            case 1:
                n += 1
                q.pushFront(JobID(n))
                model.insert(n, at: 0)
            default:
                #expect(q.popFront()?.rawValue == (model.isEmpty ? nil : model.removeFirst()))
            }
            #expect(q.count == model.count)
        }
        #expect(q.entries.map(\.rawValue) == model)
    }

    @Test("the candidate heap always yields the minimum (key, slot)")
    func heapOrder() {
        var rng = SeededGenerator(seed: 3)
        var h = CandidateHeap()
        var model: [Int32: Double] = [:]
        for _ in 0..<3000 {
            let slot = Int32.random(in: 0..<50, using: &rng)
            if Int.random(in: 0..<4, using: &rng) == 0 {
                h.remove(slot)
                model[slot] = nil
            } else {
                let k = Double(Int.random(in: 0..<20, using: &rng))
                h.upsert(slot, key: k)
                model[slot] = k
            }
            let best = model.min { ($0.value, $0.key) < ($1.value, $1.key) }?.key
            #expect(h.top == best)
            #expect(h.count == model.count)
        }
    }
}
