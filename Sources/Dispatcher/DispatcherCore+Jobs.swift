/// Job lifecycle: admission, attempts, results, acknowledgements, reassignment, timeouts.
extension DispatcherCore {
    /// Admits a job: starts it on the best candidate, or queues it; refuses it when the queue is full.
    public mutating func assign(_ request: JobRequest, now: Moment, _ effects: inout [DispatchEffect])
        throws(DispatchError) -> Placement
    {
        if let l = request.limit, l < 0 { throw .invalidArgument("negative limit") }
        let t = now.nanoseconds
        // FIFO fairness: a new job never overtakes queued ones.
        let slot: Int32? = queuedLive == 0 ? pick(excluding: -1, now: t, &effects) : nil
        if slot == nil && queuedLive >= config.maxQueuedJobs {
            counters.rejectedBackpressure &+= 1
            throw .backpressure(queued: queuedLive)
        }
        guard let id = jobs.insert(JobRecord(request: request, admittedAt: t, queuedAt: t)) else {
            counters.rejectedBackpressure &+= 1
            throw .backpressure(queued: queuedLive)
        }
        counters.admitted &+= 1
        if let slot {
            return .started(start(id, on: slot, now: t, &effects))
        }
        queue.pushBack(id)
        queuedLive += 1
        return .queued(id, position: queuedLive - 1)
    }

    /// Checks one streamed result against the job's attempt, limit and cursor; advances the cursor if new.
    public mutating func recordResult(job: JobID, attempt: UInt32, cursor: ResumeCursor, now: Moment)
        -> ResultVerdict
    {
        guard let i = jobs.index(job), jobs[slot: i].phase == .running else { return .unknownJob }
        guard attempt == jobs[slot: i].attempt else { return .staleAttempt }
        if let limit = jobs[slot: i].request.limit, jobs[slot: i].delivered >= limit { return .limitReached }
        if let c = jobs[slot: i].cursor, !c.comesBefore(createdAt: cursor.createdAt, eventID: cursor.eventID) {
            counters.duplicatesDropped &+= 1
            return .duplicate
        }
        jobs[slot: i].cursor = cursor
        jobs[slot: i].delivered += 1
        jobs[slot: i].lastProgress = now.nanoseconds
        return .forward
    }

    /// Ends the current attempt with its outcome. Completion frees the slot; failure retries elsewhere.
    public mutating func acknowledge(
        job: JobID, attempt: UInt32, outcome: JobOutcome, now: Moment, _ effects: inout [DispatchEffect]
    ) throws(DispatchError) {
        guard let i = jobs.index(job), jobs[slot: i].phase == .running else { throw .unknownJob(job) }
        let current = jobs[slot: i].attempt
        guard attempt == current else { throw .staleAttempt(job, attempt: attempt, current: current) }
        let t = now.nanoseconds
        let started = jobs[slot: i].attemptStart
        let slot = detach(job)
        switch outcome {
        case .completed:
            peerSucceeded(slot, latencyMs: Double(t &- started) / 1e6, now: t)
            finish(job, .completed, now: t, &effects)
        case .rejected(let reason):
            refreshPosition(slot)
            finish(job, .failed(.rejected(reason)), now: t, &effects)
        case .failed(let reason):
            jobs[slot: i].lastFailure = reason
            jobs[slot: i].failures += 1
            peerFailed(slot, now: t, &effects)
            retryOrFail(job, excluding: slot, now: t, &effects)
        }
        drainQueue(now: t, &effects)
    }

    /// Moves a running job to another candidate (the current one is told to stop). Reasons that blame the
    /// peer (`tooSlow`, `attemptTimeout`, `peerFailed`) count against it and consume an attempt.
    public mutating func reassign(
        job: JobID, reason: ReassignReason, now: Moment, _ effects: inout [DispatchEffect]
    ) throws(DispatchError) {
        guard let j = jobs[job] else { throw .unknownJob(job) }
        guard j.phase == .running else { return }  // queued: already waiting for a candidate
        let t = now.nanoseconds
        let slot = detach(job)
        peers[Int(slot)].displaced &+= 1
        effects.append(.stop(job: job, attempt: j.attempt, target: target(slot), reason: reason))
        if reason.countsAsFailure {
            let i = jobs.index(job)!
            jobs[slot: i].lastFailure = reason.rawValue
            jobs[slot: i].failures += 1
            if reason != .peerFailed { peers[Int(slot)].latency.add(Double(t &- j.attemptStart) / 1e6) }
            peerFailed(slot, now: t, &effects)
            retryOrFail(job, excluding: slot, now: t, &effects)
        } else {
            refreshPosition(slot)
            reroute(job, excluding: slot, now: t, &effects)
        }
        drainQueue(now: t, &effects)
    }

    /// The client closed the subscription: the job ends as cancelled.
    public mutating func cancel(job: JobID, now: Moment, _ effects: inout [DispatchEffect]) throws(DispatchError) {
        guard let j = jobs[job] else { throw .unknownJob(job) }
        let t = now.nanoseconds
        if j.phase == .running {
            let slot = detach(job)
            refreshPosition(slot)
            effects.append(.stop(job: job, attempt: j.attempt, target: target(slot), reason: .clientClosed))
        } else {
            queuedLive -= 1
        }
        finish(job, .cancelled, now: t, &effects)
        drainQueue(now: t, &effects)
    }

    /// Periodic housekeeping (call every heartbeat interval or more often): half-open probes, stale peers,
    /// failure-rate decay, attempt and queue timeouts; then queued jobs take the free slots.
    public mutating func tick(now: Moment, _ effects: inout [DispatchEffect]) {
        let t = now.nanoseconds
        promoteHalfOpen(now: t)
        for i in peers.indices where peers[i].live {
            let slot = Int32(i)
            if !peers[i].stale && isStale(peers[i], now: t) {
                markStale(slot, now: t, &effects)
            } else {
                refresh(slot, now: t)
            }
        }
        var timedOut: [JobID] = []
        for id in jobs.liveIDs {
            let j = jobs[slot: jobs.index(id)!]
            if j.phase == .running && t &- max(j.lastProgress, j.attemptStart) > attemptTimeoutNs {
                timedOut.append(id)
            }
        }
        for id in timedOut {
            // A job may have moved while handling an earlier one; re-check.
            guard let j = jobs[id], j.phase == .running, t &- max(j.lastProgress, j.attemptStart) > attemptTimeoutNs
            else { continue }
            try? reassign(job: id, reason: .attemptTimeout, now: now, &effects)
        }
        if queuedLive > 0 {
            var expired: [JobID] = []
            queue.retain { id in
                guard let j = jobs[id], j.phase == .queued else { return false }
                if t &- j.queuedAt > queueTimeoutNs {
                    expired.append(id)
                    return false
                }
                return true
            }
            for id in expired {
                queuedLive -= 1
                finish(id, .failed(.queueTimeout), now: t, &effects)
            }
        }
        drainQueue(now: t, &effects)
    }

    /// Ends every job (failed: shutdown).
    public mutating func shutdown(now: Moment, _ effects: inout [DispatchEffect]) {
        let t = now.nanoseconds
        for id in jobs.liveIDs {
            let j = jobs[id]!
            if j.phase == .running {
                let slot = detach(id)
                refreshPosition(slot)
                effects.append(.stop(job: id, attempt: j.attempt, target: target(slot), reason: .shutdown))
            }
            finish(id, .failed(.shutdown), now: t, &effects)
        }
        queue = JobQueue()
        queuedLive = 0
    }

    // MARK: internals

    @inline(__always)
    func target(_ slot: Int32) -> DispatchTarget {
        let p = peers[Int(slot)]
        return p.isGateway ? .local : .peer(p.id)
    }

    /// Starts a new attempt of `job` on `slot`.
    mutating func start(_ job: JobID, on slot: Int32, now: Int64, _ effects: inout [DispatchEffect]) -> Assignment {
        let i = jobs.index(job)!
        jobs[slot: i].phase = .running
        jobs[slot: i].slot = slot
        jobs[slot: i].attempt &+= 1
        jobs[slot: i].attemptStart = now
        jobs[slot: i].lastProgress = now
        let j = jobs[slot: i]
        peers[Int(slot)].inFlight += 1
        peers[Int(slot)].assigned &+= 1
        refreshPosition(slot)
        counters.startedAttempts &+= 1
        if j.attempt > 1 { counters.reassignments &+= 1 }
        let a = Assignment(
            job: job, attempt: j.attempt, target: target(slot), request: j.request, resumeAfter: j.cursor,
            delivered: j.delivered)
        effects.append(.start(a))
        return a
    }

    /// Takes a running job off its peer (frees the slot; the heap is refreshed by the caller) and returns the slot.
    /// A detached job is invisible to `displaceJobs`, so nested failover never handles it twice.
    mutating func detach(_ job: JobID) -> Int32 {
        let i = jobs.index(job)!
        let slot = jobs[slot: i].slot
        jobs[slot: i].phase = .detached
        jobs[slot: i].slot = -1
        peers[Int(slot)].inFlight -= 1
        return slot
    }

    /// After a failure: another attempt if any remain, else the job fails.
    mutating func retryOrFail(_ job: JobID, excluding slot: Int32, now: Int64, _ effects: inout [DispatchEffect]) {
        let j = jobs[job]!
        if j.failures >= config.maxAttempts {
            finish(job, .failed(.attemptsExhausted(last: j.lastFailure)), now: now, &effects)
        } else {
            reroute(job, excluding: slot, now: now, &effects)
        }
    }

    /// Starts the job on the best other candidate, or puts it at the front of the queue.
    mutating func reroute(_ job: JobID, excluding slot: Int32, now: Int64, _ effects: inout [DispatchEffect]) {
        if let next = pick(excluding: slot, now: now, &effects) {
            _ = start(job, on: next, now: now, &effects)
        } else {
            let i = jobs.index(job)!
            jobs[slot: i].phase = .queued
            jobs[slot: i].slot = -1
            jobs[slot: i].queuedAt = now
            queue.pushFront(job)
            queuedLive += 1
        }
    }

    /// Stops and moves every job running on `slot`.
    mutating func displaceJobs(of slot: Int32, reason: ReassignReason, now: Int64, _ effects: inout [DispatchEffect]) {
        guard peers[Int(slot)].inFlight > 0 else { return }
        var moving: [JobID] = []
        for id in jobs.liveIDs {
            let j = jobs[slot: jobs.index(id)!]
            if j.phase == .running && j.slot == slot { moving.append(id) }
        }
        for id in moving {
            // An earlier reroute in this loop may have touched the job (it cannot have, but stay safe).
            guard let j = jobs[id], j.phase == .running, j.slot == slot else { continue }
            _ = detach(id)
            peers[Int(slot)].displaced &+= 1
            effects.append(.stop(job: id, attempt: j.attempt, target: target(slot), reason: reason))
            reroute(id, excluding: slot, now: now, &effects)
        }
        refreshPosition(slot)
    }

    /// Ends a job (exactly once: the record is removed).
    mutating func finish(_ job: JobID, _ resolution: JobResolution, now: Int64, _ effects: inout [DispatchEffect]) {
        guard let j = jobs.remove(job) else { return }
        switch resolution {
        case .completed: counters.completed &+= 1
        case .failed: counters.failed &+= 1
        case .cancelled: counters.cancelled &+= 1
        }
        effects.append(
            .finished(job: job, request: j.request, resolution: resolution, elapsed: .nanoseconds(now &- j.admittedAt)))
    }

    /// Gives free slots to queued jobs, front first.
    mutating func drainQueue(now: Int64, _ effects: inout [DispatchEffect]) {
        while queuedLive > 0 {
            guard let slot = pick(excluding: -1, now: now, &effects) else { return }
            // Skip entries of jobs that ended while queued.
            var next: JobID?
            while let id = queue.popFront() {
                if let i = jobs.index(id), jobs[slot: i].phase == .queued {
                    next = id
                    break
                }
            }
            guard let id = next else {
                queuedLive = 0
                return
            }
            queuedLive -= 1
            _ = start(id, on: slot, now: now, &effects)
        }
    }
}
