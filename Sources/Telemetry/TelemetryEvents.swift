/// The typed events Hypertuna components publish.

/// A peer's periodic load report (the worker heartbeat, every 15 s by default).
public struct PeerLoadReport: TelemetryEvent, Equatable, Codable {
    public static let kind = "peer_load"
    /// Peer identity (hex public key, or `gateway`).
    public var peerID: String
    /// Round-trip latency the peer reports, in milliseconds.
    public var latencyMs: Double
    /// Jobs the peer says it is running.
    public var inFlightJobs: Int
    /// Failure rate the peer reports, 0...1.
    public var failureRate: Double
    /// Blocks the peer's replica is behind the gateway's log.
    public var replicaLagBlocks: Int64
    /// Requests queued at the peer.
    public var queueDepth: Int

    public init(
        peerID: String, latencyMs: Double = 0, inFlightJobs: Int = 0, failureRate: Double = 0,
        replicaLagBlocks: Int64 = 0, queueDepth: Int = 0
    ) {
        self.peerID = peerID
        self.latencyMs = latencyMs
        self.inFlightJobs = inFlightJobs
        self.failureRate = failureRate
        self.replicaLagBlocks = replicaLagBlocks
        self.queueDepth = queueDepth
    }
}

/// The duration of one operation on the relay log (append, get, proof, range...).
public struct LogOperationTiming: TelemetryEvent, Equatable, Codable {
    public static let kind = "log_operation"
    /// Operation name, a small fixed vocabulary (used as a metric dimension).
    public var operation: String
    /// Duration in nanoseconds.
    public var nanoseconds: Int64
    /// Whether the operation succeeded.
    public var succeeded: Bool

    public init(operation: String, nanoseconds: Int64, succeeded: Bool = true) {
        self.operation = operation
        self.nanoseconds = nanoseconds
        self.succeeded = succeeded
    }
}

/// Replication progress of one replica of the relay log.
public struct ReplicationProgress: TelemetryEvent, Equatable, Codable {
    public static let kind = "replication_progress"
    public var peerID: String
    /// Blocks held contiguously from index 0.
    public var contiguousLength: UInt64
    /// Length of the log the replica knows about.
    public var remoteLength: UInt64

    /// Blocks still missing before the replica is contiguous with what it knows.
    public var lagBlocks: UInt64 { remoteLength > contiguousLength ? remoteLength - contiguousLength : 0 }

    public init(peerID: String, contiguousLength: UInt64, remoteLength: UInt64) {
        self.peerID = peerID
        self.contiguousLength = contiguousLength
        self.remoteLength = remoteLength
    }
}

/// One decision taken by the dispatcher.
public struct DispatchDecision: TelemetryEvent, Equatable, Codable {
    public static let kind = "dispatch_decision"

    /// What happened to the job.
    public enum Action: String, Sendable, Codable, CaseIterable {
        case assigned, assignedLocal, queued, rejected, reassigned, completed, failed, cancelled
    }

    public var jobID: UInt64
    public var action: Action
    /// Peer chosen (or `gateway`), when the action names one.
    public var target: String?
    /// Why the job was reassigned, failed or rejected.
    public var reason: String?
    /// Jobs waiting in the dispatcher's queue after the decision.
    public var queueDepth: Int
    /// For `completed` and `failed`: nanoseconds since the job was admitted.
    public var jobNanoseconds: Int64?

    public init(
        jobID: UInt64, action: Action, target: String? = nil, reason: String? = nil, queueDepth: Int = 0,
        jobNanoseconds: Int64? = nil
    ) {
        self.jobID = jobID
        self.action = action
        self.target = target
        self.reason = reason
        self.queueDepth = queueDepth
        self.jobNanoseconds = jobNanoseconds
    }
}

/// A per-peer token lifecycle event.
public struct TokenEvent: TelemetryEvent, Equatable, Codable {
    public static let kind = "token"

    public enum Action: String, Sendable, Codable, CaseIterable {
        case issued, refreshed, revoked, rejected
    }

    public var action: Action
    public var peerID: String
    /// Sequence number of the signed control frame, when one was sent.
    public var sequence: UInt64?

    public init(action: Action, peerID: String, sequence: UInt64? = nil) {
        self.action = action
        self.peerID = peerID
        self.sequence = sequence
    }
}
