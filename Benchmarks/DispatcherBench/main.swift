// DispatcherBench: assignment decisions per second with 1,000 peers and 10,000 queued jobs, and heap
// allocations per decision. Run in release: `swift run -c release DispatcherBench [cycles]`.
//
// Steady state: 1,000 peers (+ the gateway) at their cap of 3, 10,000 jobs queued behind them. One cycle =
// acknowledge the oldest running job (its peer's metrics and score are updated), which frees a slot and makes
// one assignment decision for the head of the queue, then admit one new job so the queue stays at 10,000.
// The baseline is the same dispatcher with a linear-scan picker (every peer scored on each decision).

import AllocationCounter
import Dispatcher
import Foundation

let peerCount = 1_000
let queuedTarget = 10_000
let cycles = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 1_000_000 : 1_000_000

struct Result {
    /// Decisions per second of wall time.
    var decisionsPerSecond: Double
    /// Decisions per second of this thread's CPU time (robust when the machine is shared).
    var decisionsPerCPUSecond: Double
    var allocationsPerDecision: Double
    var decisions: Int
}

func nowNs() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func cpuNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Runs `cycles` steady-state cycles on a `DispatcherCore` with the given picker.
func runCore(picker: CandidatePicker, cycles: Int) throws -> Result {
    var clock: Int64 = 1_000_000_000
    var core = try DispatcherCore(picker: picker, now: Moment(nanoseconds: clock))
    core.reserve(peers: peerCount, jobs: peerCount * 3 + queuedTarget + 16)
    var effects: [DispatchEffect] = []
    effects.reserveCapacity(64)
    for i in 0..<peerCount {
        try core.register(PeerID(String(format: "peer-%04d", i)), now: Moment(nanoseconds: clock), &effects)
    }
    let request = JobRequest(connectionID: "conn-1", subscriptionID: "sub-1", filtersJSON: "[{\"kinds\":[1]}]")
    // Running attempts, oldest first (a ring: each acknowledgement frees one, each decision adds one).
    let capacity = (peerCount + 1) * 3 + 1
    var ringJob = [JobID](repeating: JobID(0), count: capacity)
    var ringAttempt = [UInt32](repeating: 0, count: capacity)
    var head = 0
    var count = 0
    func push(_ effects: [DispatchEffect]) {
        for e in effects {
            if case .start(let a) = e {
                ringJob[(head + count) % capacity] = a.job
                ringAttempt[(head + count) % capacity] = a.attempt
                count += 1
            }
        }
    }
    while core.queuedCount < queuedTarget {
        effects.removeAll(keepingCapacity: true)
        _ = try core.assign(request, now: Moment(nanoseconds: clock), &effects)
        push(effects)
    }
    precondition(core.eligibleCount == 0 || picker == .linearScan, "expected every candidate saturated")

    func cycle() throws {
        clock &+= 1_000  // 1 µs of virtual time per cycle: latencies differ, nothing goes stale
        effects.removeAll(keepingCapacity: true)
        let job = ringJob[head]
        let attempt = ringAttempt[head]
        head = (head + 1) % capacity
        count -= 1
        try core.acknowledge(job: job, attempt: attempt, outcome: .completed, now: Moment(nanoseconds: clock), &effects)
        _ = try core.assign(request, now: Moment(nanoseconds: clock), &effects)
        push(effects)
    }
    // Warm-up (latency windows fill, storage reaches its steady size).
    for _ in 0..<min(cycles, 200_000) { try cycle() }
    let startAttempts = core.counters.startedAttempts
    allocation_counter_reset()
    let c0 = cpuNs()
    let t0 = nowNs()
    for _ in 0..<cycles { try cycle() }
    let t1 = nowNs()
    let c1 = cpuNs()
    let allocations = allocation_counter_get()
    let decisions = Int(core.counters.startedAttempts - startAttempts)
    precondition(decisions == cycles, "one decision per cycle expected, got \(decisions) for \(cycles)")
    precondition(core.queuedCount == queuedTarget)
    return Result(
        decisionsPerSecond: Double(decisions) / (Double(t1 - t0) / 1e9),
        decisionsPerCPUSecond: Double(decisions) / (Double(c1 - c0) / 1e9),
        allocationsPerDecision: Double(allocations) / Double(decisions), decisions: decisions)
}

/// The same cycle through the public, locked `LoadAwareDispatcher` API (effects returned as arrays).
func runAPI(cycles: Int) throws -> Result {
    let clock = VirtualClock(start: Moment(nanoseconds: 1_000_000_000))
    let d = try LoadAwareDispatcher(clock: clock)
    for i in 0..<peerCount { _ = try d.register(peer: PeerID(String(format: "peer-%04d", i)), maxConcurrent: nil) }
    let request = JobRequest(connectionID: "conn-1", subscriptionID: "sub-1", filtersJSON: "[{\"kinds\":[1]}]")
    var running: [(JobID, UInt32)] = []
    running.reserveCapacity((peerCount + 1) * 3 + 1)
    var head = 0
    func push(_ effects: [DispatchEffect]) {
        for e in effects { if case .start(let a) = e { running.append((a.job, a.attempt)) } }
    }
    while d.withCore({ $0.queuedCount }) < queuedTarget { push(try d.assign(request).effects) }
    func cycle() throws {
        clock.advance(by: .microseconds(1))
        let (job, attempt) = running[head]
        head += 1
        if head > 4096 {  // compact without reallocating
            running.removeFirst(head)
            head = 0
        }
        push(try d.acknowledge(job: job, attempt: attempt, outcome: .completed))
        push(try d.assign(request).effects)
    }
    for _ in 0..<min(cycles, 100_000) { try cycle() }
    let before = d.withCore { $0.counters.startedAttempts }
    allocation_counter_reset()
    let c0 = cpuNs()
    let t0 = nowNs()
    for _ in 0..<cycles { try cycle() }
    let t1 = nowNs()
    let c1 = cpuNs()
    let allocations = allocation_counter_get()
    let decisions = Int(d.withCore { $0.counters.startedAttempts } - before)
    return Result(
        decisionsPerSecond: Double(decisions) / (Double(t1 - t0) / 1e9),
        decisionsPerCPUSecond: Double(decisions) / (Double(c1 - c0) / 1e9),
        allocationsPerDecision: Double(allocations) / Double(decisions), decisions: decisions)
}

func fmt(_ x: Double) -> String {
    x >= 1e6 ? String(format: "%.2f M", x / 1e6) : String(format: "%.0f k", x / 1e3)
}

print("DispatcherBench: \(peerCount) peers (+ gateway) at cap 3, \(queuedTarget) queued jobs, \(cycles) cycles")
print("allocation counting: \(allocation_counter_supported() != 0 ? "on (malloc family interposed)" : "unavailable")")
let baselineCycles = max(1_000, cycles / 20)
let heap = try runCore(picker: .heap, cycles: cycles)
let linear = try runCore(picker: .linearScan, cycles: baselineCycles)
let api = try runAPI(cycles: max(1_000, cycles / 2))
func row(_ name: String, _ r: Result) -> String {
    name.padding(toLength: 40, withPad: " ", startingAt: 0)
        + fmt(r.decisionsPerSecond).padding(toLength: 12, withPad: " ", startingAt: 0)
        + fmt(r.decisionsPerCPUSecond).padding(toLength: 12, withPad: " ", startingAt: 0)
        + String(format: "%.2f", r.allocationsPerDecision)
}
print("")
print("variant                                 wall/s      CPU/s       allocs/decision")
print(row("DispatcherCore, heap picker", heap))
print(row("baseline: DispatcherCore, linear scan", linear))
print(row("LoadAwareDispatcher API (lock, arrays)", api))
print("")
print(
    String(
        format: "ratio heap / linear-scan baseline: %.1fx (wall), %.1fx (CPU)",
        heap.decisionsPerSecond / linear.decisionsPerSecond, heap.decisionsPerCPUSecond / linear.decisionsPerCPUSecond))
print(
    "target >= 1,000,000 decisions/s (CPU time): "
        + (heap.decisionsPerCPUSecond >= 1_000_000 ? "met" : "NOT met") + " (core), "
        + (api.decisionsPerCPUSecond >= 1_000_000 ? "met" : "NOT met") + " (API)")
