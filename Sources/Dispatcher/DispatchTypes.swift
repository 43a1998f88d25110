/// Value types of the dispatcher contract.

/// A peer's identity (its hex public key); ``gateway`` names the gateway itself.
public struct PeerID: Hashable, Sendable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }
    /// The gateway as a candidate.
    public static let gateway = PeerID("gateway")
}

/// A job id, unique per gateway process (never the client's subscription id, which collides).
///
/// Opaque: the high 40 bits are an admission sequence number that never repeats (so ids order by
/// admission), the low 24 bits locate the record inside the dispatcher.
public struct JobID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: JobID, b: JobID) -> Bool { a.rawValue < b.rawValue }
    /// Admission sequence number (1, 2, 3... by default).
    public var sequence: UInt64 { rawValue >> 24 }
    public var description: String { "job-\(sequence)" }
}

/// Where a job runs.
public enum DispatchTarget: Hashable, Sendable, Codable, CustomStringConvertible {
    case peer(PeerID)
    /// The gateway serves the job from its own log.
    case local

    public var peerID: PeerID {
        switch self {
        case .peer(let p): return p
        case .local: return .gateway
        }
    }
    public var description: String { peerID.rawValue }
}

/// What the client asked for: opaque to the dispatcher apart from `limit`.
public struct JobRequest: Sendable, Hashable, Codable {
    /// The client's connection and subscription ids (for routing results; not unique, not a job id).
    public var connectionID: String
    public var subscriptionID: String
    /// The REQ filters as JSON, handed to whoever runs the job.
    public var filtersJSON: String
    /// Maximum results the client wants (nil: no limit).
    public var limit: Int?

    public init(connectionID: String, subscriptionID: String, filtersJSON: String = "[]", limit: Int? = nil) {
        self.connectionID = connectionID
        self.subscriptionID = subscriptionID
        self.filtersJSON = filtersJSON
        self.limit = limit
    }
}

/// The last result delivered to the client: results are ordered by `created_at` descending, then id ascending
/// (newest first), so a resumed query returns only events strictly after this cursor in that order.
public struct ResumeCursor: Hashable, Sendable, Codable, CustomStringConvertible {
    public var createdAt: Int64
    /// Event id, lowercase hex.
    public var eventID: String

    public init(createdAt: Int64, eventID: String) {
        self.createdAt = createdAt
        self.eventID = eventID
    }

    /// Whether an event comes strictly after this cursor in delivery order (newest first, ties by lowest id).
    public func comesBefore(createdAt c: Int64, eventID id: String) -> Bool {
        c < createdAt || (c == createdAt && id > eventID)
    }

    public var description: String { "\(createdAt):\(eventID)" }
}

/// Instructions to run one attempt of a job.
public struct Assignment: Sendable, Hashable, Codable {
    public var job: JobID
    /// Attempt number, from 1; results and acknowledgements must quote it (older attempts are fenced off).
    public var attempt: UInt32
    public var target: DispatchTarget
    public var request: JobRequest
    /// Resume strictly after this result (nil: from the start).
    public var resumeAfter: ResumeCursor?
    /// Results already delivered to the client (the new attempt needs only `limit - delivered` more).
    public var delivered: Int

    /// Results still wanted, when the request has a limit.
    public var remainingLimit: Int? { request.limit.map { max(0, $0 - delivered) } }
}

/// How one attempt ended, as reported by whoever ran it.
public enum JobOutcome: Sendable, Hashable, Codable {
    /// All stored results were delivered (EOSE).
    case completed
    /// The peer failed; the job moves to another candidate while attempts remain.
    case failed(reason: String)
    /// The request itself is bad (no retry, no penalty for the peer).
    case rejected(reason: String)
}

/// Why a job or an attempt left a peer.
public enum ReassignReason: String, Sendable, Hashable, Codable {
    /// The peer reported a failure.
    case peerFailed
    /// The peer was too slow (the caller's decision) or the attempt timed out.
    case tooSlow
    case attemptTimeout
    /// The peer left gracefully (`release`).
    case peerReleased
    /// The peer's connection went away.
    case peerDisconnected
    /// The peer's token was revoked.
    case tokenRevoked
    /// No heartbeat within `heartbeatTimeout`.
    case heartbeatStale
    /// The peer's replica is `reassignLagBlocks` or more behind.
    case replicaLag
    /// The peer's circuit opened.
    case circuitOpen
    /// The client closed the subscription (only in `.stop`).
    case clientClosed
    /// The dispatcher is shutting down (only in `.stop`).
    case shutdown

    /// Whether the reason is the peer misbehaving on this job (consumes an attempt, counts as a failure).
    public var countsAsFailure: Bool {
        switch self {
        case .peerFailed, .tooSlow, .attemptTimeout: return true
        default: return false
        }
    }
}

/// How a job ended. Every admitted job ends exactly once.
public enum JobResolution: Sendable, Hashable, Codable {
    case completed
    case failed(JobFailure)
    /// The client closed the subscription.
    case cancelled
}

/// Why a job failed.
public enum JobFailure: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `maxAttempts` attempts failed; the last reason is kept.
    case attemptsExhausted(last: String)
    /// Waited `queueTimeout` without a free candidate.
    case queueTimeout
    /// The request was refused by whoever ran it.
    case rejected(String)
    /// The dispatcher was shut down.
    case shutdown

    public var description: String {
        switch self {
        case .attemptsExhausted(let r): return "attempts exhausted (last: \(r))"
        case .queueTimeout: return "queue timeout"
        case .rejected(let r): return "rejected: \(r)"
        case .shutdown: return "dispatcher shut down"
        }
    }
}

/// Side effects the caller must carry out, in order, after each dispatcher call.
public enum DispatchEffect: Sendable, Hashable {
    /// Send the job to `assignment.target` (or run it locally), resuming after `assignment.resumeAfter`.
    case start(Assignment)
    /// Tell the target of this attempt to stop: its results are no longer accepted.
    case stop(job: JobID, attempt: UInt32, target: DispatchTarget, reason: ReassignReason)
    /// The job ended (exactly once per job): tell the client (EOSE, CLOSED) as appropriate. `elapsed` is the
    /// time since the job was admitted.
    case finished(job: JobID, request: JobRequest, resolution: JobResolution, elapsed: Duration)
}

/// What `assign` decided.
public enum Placement: Sendable, Hashable {
    /// Running on a peer or on the gateway (`assignment.target`).
    case started(Assignment)
    /// Admitted and waiting for a free slot, at this 0-based position in the queue.
    case queued(JobID, position: Int)
}

/// What the gateway should do with one result a peer streamed back.
public enum ResultVerdict: Sendable, Hashable {
    /// Forward it to the client (the cursor moved).
    case forward
    /// Already delivered, or not after the cursor: drop it.
    case duplicate
    /// From an attempt that is no longer current: drop it.
    case staleAttempt
    /// No such job in flight.
    case unknownJob
    /// The limit was already reached: drop it.
    case limitReached
}

/// Errors of the dispatcher contract.
public enum DispatchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Queue full: the client should retry later (backpressure).
    case backpressure(queued: Int)
    case unknownJob(JobID)
    /// An acknowledgement quoted an attempt that is not the current one.
    case staleAttempt(JobID, attempt: UInt32, current: UInt32)
    case unknownPeer(PeerID)
    case invalidConfig([String])
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .backpressure(let q): return "dispatcher queue full (\(q) jobs waiting); retry later"
        case .unknownJob(let j): return "unknown job \(j)"
        case .staleAttempt(let j, let a, let c): return "\(j): attempt \(a) is stale (current attempt \(c))"
        case .unknownPeer(let p): return "unknown peer \(p)"
        case .invalidConfig(let p): return "invalid dispatcher config: " + p.joined(separator: "; ")
        case .invalidArgument(let m): return "invalid argument: \(m)"
        }
    }
}

/// A peer heartbeat as the dispatcher uses it.
public struct PeerHeartbeat: Sendable, Hashable, Codable {
    public var peer: PeerID
    /// Blocks the replica is behind.
    public var replicaLagBlocks: Int64
    /// Latency the peer measured itself, used until the gateway has its own samples (nil: none).
    public var reportedLatencyMs: Double?

    public init(peer: PeerID, replicaLagBlocks: Int64 = 0, reportedLatencyMs: Double? = nil) {
        self.peer = peer
        self.replicaLagBlocks = replicaLagBlocks
        self.reportedLatencyMs = reportedLatencyMs
    }
}
