/// Dispatcher contract: load-aware assignment of subscription work to peers (or the gateway itself),
/// with acknowledgement-based slots, reassignment from a cursor, failover and a snapshot for the admin API.
///
/// Every mutating call returns the side effects the caller must carry out, in order: `.start` (send the
/// job, resuming after the cursor), `.stop` (tell a peer to stop; its later results are fenced off) and
/// `.finished` (exactly once per job). A job holds its slot until its outcome is acknowledged. If a call throws
/// after the dispatcher had to act (e.g. it found a stale peer and moved its jobs), those effects are returned
/// first by the next call that succeeds (`tick()` always does).
public protocol JobDispatcher: AnyObject, Sendable {
    /// Adds a peer (or refreshes a known one) with an optional concurrency cap.
    func register(peer: PeerID, maxConcurrent: Int?) throws(DispatchError) -> [DispatchEffect]
    /// A heartbeat: freshness, replica lag, self-reported latency.
    func heartbeat(_ heartbeat: PeerHeartbeat) throws(DispatchError) -> [DispatchEffect]
    /// Admits a job: started on a peer or on the gateway, queued, or refused (`.backpressure`).
    func assign(_ request: JobRequest) throws(DispatchError) -> (placement: Placement, effects: [DispatchEffect])
    /// Checks one streamed result: forward it to the client only when the verdict is `.forward`.
    func recordResult(job: JobID, attempt: UInt32, cursor: ResumeCursor) -> ResultVerdict
    /// Ends the current attempt with its outcome.
    func acknowledge(job: JobID, attempt: UInt32, outcome: JobOutcome) throws(DispatchError) -> [DispatchEffect]
    /// Moves a running job to another candidate, resuming from its cursor.
    func reassign(job: JobID, reason: ReassignReason) throws(DispatchError) -> [DispatchEffect]
    /// The client closed the subscription.
    func cancel(job: JobID) throws(DispatchError) -> [DispatchEffect]
    /// A peer leaves gracefully: no new work, its jobs move.
    func release(peer: PeerID) throws(DispatchError) -> [DispatchEffect]
    /// Failover: a peer disappeared (disconnect, token revoked, ...): its jobs move.
    func peerLost(peer: PeerID, reason: ReassignReason) throws(DispatchError) -> [DispatchEffect]
    /// Housekeeping: call at least once per heartbeat interval.
    func tick() -> [DispatchEffect]
    /// Queues and per-peer state, for the admin API.
    func snapshot() -> DispatcherSnapshot
}
