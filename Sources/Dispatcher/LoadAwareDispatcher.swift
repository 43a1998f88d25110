import Foundation
import Telemetry

/// The ``JobDispatcher``: a ``DispatcherCore`` behind a lock, reading time from a ``DispatcherClock`` and
/// publishing a ``DispatchDecision`` per decision on an optional ``TelemetryBus`` (after the lock is released).
public final class LoadAwareDispatcher: JobDispatcher, @unchecked Sendable {
    // Invariant: `core` and `carried` are only read or written while `lock` is held; no callback runs under
    // the lock.
    private let lock = NSLock()
    private var core: DispatcherCore
    /// Effects produced by a call that then threw (for example a stale peer found while a job was refused);
    /// they are returned, first, by the next call that succeeds.
    private var carried: [DispatchEffect] = []
    private let clock: any DispatcherClock
    private let telemetry: (any TelemetryBus)?

    public init(
        config: DispatcherConfig = .default, clock: any DispatcherClock = SystemDispatcherClock(),
        telemetry: (any TelemetryBus)? = nil, picker: CandidatePicker = .heap
    ) throws(DispatchError) {
        self.clock = clock
        self.telemetry = telemetry
        core = try DispatcherCore(config: config, picker: picker, now: clock.now())
    }

    public var config: DispatcherConfig { core.config }

    private func run(_ body: (inout DispatcherCore, Moment, inout [DispatchEffect]) throws(DispatchError) -> Void)
        throws(DispatchError) -> [DispatchEffect]
    {
        lock.lock()
        var effects: [DispatchEffect] = []
        if !carried.isEmpty { swap(&effects, &carried) }
        let already = effects.count
        let now = clock.now()
        do throws(DispatchError) {
            try body(&core, now, &effects)
        } catch {
            carried = effects
            let depth = core.queuedCount
            lock.unlock()
            publish(effects[already...], queueDepth: depth)
            throw error
        }
        let depth = core.queuedCount
        lock.unlock()
        publish(effects[already...], queueDepth: depth)
        return effects
    }

    public func register(peer: PeerID, maxConcurrent: Int? = nil) throws(DispatchError) -> [DispatchEffect] {
        try run { (c, now, e) throws(DispatchError) in try c.register(peer, maxConcurrent: maxConcurrent, now: now, &e)
        }
    }

    public func heartbeat(_ heartbeat: PeerHeartbeat) throws(DispatchError) -> [DispatchEffect] {
        try run { (c, now, e) throws(DispatchError) in try c.heartbeat(heartbeat, now: now, &e) }
    }

    public func assign(_ request: JobRequest) throws(DispatchError) -> (
        placement: Placement, effects: [DispatchEffect]
    ) {
        var placement: Placement?
        let effects: [DispatchEffect]
        do throws(DispatchError) {
            effects = try run { (c, now, e) throws(DispatchError) in placement = try c.assign(request, now: now, &e) }
        } catch {
            if case .backpressure(let q) = error {
                telemetry?.publish(DispatchDecision(jobID: 0, action: .rejected, reason: "backpressure", queueDepth: q))
            }
            throw error
        }
        if case .queued(let id, let pos)? = placement {
            telemetry?.publish(DispatchDecision(jobID: id.rawValue, action: .queued, queueDepth: pos + 1))
        }
        return (placement!, effects)
    }

    public func recordResult(job: JobID, attempt: UInt32, cursor: ResumeCursor) -> ResultVerdict {
        lock.lock()
        defer { lock.unlock() }
        return core.recordResult(job: job, attempt: attempt, cursor: cursor, now: clock.now())
    }

    public func acknowledge(job: JobID, attempt: UInt32, outcome: JobOutcome) throws(DispatchError)
        -> [DispatchEffect]
    {
        try run { (c, now, e) throws(DispatchError) in
            try c.acknowledge(job: job, attempt: attempt, outcome: outcome, now: now, &e)
        }
    }

    public func reassign(job: JobID, reason: ReassignReason) throws(DispatchError) -> [DispatchEffect] {
        try run { (c, now, e) throws(DispatchError) in try c.reassign(job: job, reason: reason, now: now, &e) }
    }

    public func cancel(job: JobID) throws(DispatchError) -> [DispatchEffect] {
        try run { (c, now, e) throws(DispatchError) in try c.cancel(job: job, now: now, &e) }
    }

    public func release(peer: PeerID) throws(DispatchError) -> [DispatchEffect] {
        try run { (c, now, e) throws(DispatchError) in try c.removePeer(peer, reason: .peerReleased, now: now, &e) }
    }

    public func peerLost(peer: PeerID, reason: ReassignReason) throws(DispatchError) -> [DispatchEffect] {
        try run { (c, now, e) throws(DispatchError) in try c.removePeer(peer, reason: reason, now: now, &e) }
    }

    public func tick() -> [DispatchEffect] {
        (try? run { (c, now, e) throws(DispatchError) in c.tick(now: now, &e) }) ?? []
    }

    /// Ends every job (failed: shutdown).
    public func shutdown() -> [DispatchEffect] {
        (try? run { (c, now, e) throws(DispatchError) in c.shutdown(now: now, &e) }) ?? []
    }

    public func snapshot() -> DispatcherSnapshot {
        lock.lock()
        defer { lock.unlock() }
        return core.snapshot(now: clock.now())
    }

    /// Reads the core under the lock (diagnostics and tests).
    public func withCore<T>(_ body: (DispatcherCore) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(core)
    }

    private func publish(_ effects: ArraySlice<DispatchEffect>, queueDepth: Int) {
        guard let bus = telemetry, !effects.isEmpty else { return }
        for effect in effects {
            switch effect {
            case .start(let a):
                let action: DispatchDecision.Action =
                    a.attempt > 1 ? .reassigned : (a.target == .local ? .assignedLocal : .assigned)
                bus.publish(
                    DispatchDecision(
                        jobID: a.job.rawValue, action: action, target: a.target.description, queueDepth: queueDepth))
            case .stop:
                continue
            case .finished(let job, _, let resolution, let elapsed):
                let ns = elapsed.nanoseconds
                switch resolution {
                case .completed:
                    bus.publish(
                        DispatchDecision(
                            jobID: job.rawValue, action: .completed, queueDepth: queueDepth, jobNanoseconds: ns))
                case .cancelled:
                    bus.publish(
                        DispatchDecision(
                            jobID: job.rawValue, action: .cancelled, queueDepth: queueDepth, jobNanoseconds: ns))
                case .failed(let f):
                    bus.publish(
                        DispatchDecision(
                            jobID: job.rawValue, action: .failed, reason: f.description, queueDepth: queueDepth,
                            jobNanoseconds: ns))
                }
            }
        }
    }
}

extension PeerHeartbeat {
    /// The dispatcher's view of a worker's load report (its replica lag and self-measured latency).
    public init(_ report: PeerLoadReport) {
        self.init(
            peer: PeerID(report.peerID), replicaLagBlocks: max(0, report.replicaLagBlocks),
            reportedLatencyMs: report.latencyMs.isFinite && report.latencyMs >= 0 ? report.latencyMs : nil)
    }
}
