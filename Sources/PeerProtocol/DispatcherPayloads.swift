import NostrRelay

/// Gateway -> worker: answer the stored part of a client REQ from the local replica (Docs/peer-wire.md "Delegated
/// jobs"; message 7, and the payload of a `reassign` control frame when `attempt > 1`).
///
/// The answer is defined as `IndexedEventStore.query(filters, limit: limit, now: now)` on the relay tree checked out
/// at version `snapshotLength`; with `resumeAfter` the worker sends only the events after that cursor.
public struct DispatcherAssignment: PeerPayload {
    public static let supportedVersion = 1
    public var version: Int
    /// Unique job id chosen by the gateway (`[A-Za-z0-9._:-]`, 1...128); never the client's subscription id.
    public var jobId: String
    /// Relay key (hex).
    public var relayKey: String
    /// Client subscription id (NIP-01: 1...64 bytes), for logs.
    public var subscriptionId: String
    /// The REQ's filters (the relay's own `Filter`, NIP-01 JSON; limits already clamped by the gateway), 1...32.
    public var filters: [Filter]
    /// Total cap of the answer (the relay's effective maximum limit), 1...100_000.
    public var limit: Int
    /// Relay log length the answer must reflect (the tree version to check out).
    public var snapshotLength: UInt64
    /// Unix seconds used for NIP-40 expiry.
    public var now: Int64
    /// Resume strictly after this event (newest-first order), if set.
    public var resumeAfter: JobCursor?
    /// Unix milliseconds when assigned.
    public var assignedAt: UInt64
    /// Milliseconds the worker has before the gateway reassigns (100...300_000).
    public var deadlineMs: Int
    /// 1 for the first assignment, higher on reassignment (1...16).
    public var attempt: Int

    public init(
        jobId: String, relayKey: String, subscriptionId: String, filters: [Filter], limit: Int, snapshotLength: UInt64,
        now: Int64, resumeAfter: JobCursor? = nil, assignedAt: UInt64, deadlineMs: Int, attempt: Int = 1
    ) {
        version = Self.supportedVersion
        self.jobId = jobId
        self.relayKey = relayKey
        self.subscriptionId = subscriptionId
        self.filters = filters
        self.limit = limit
        self.snapshotLength = snapshotLength
        self.now = now
        self.resumeAfter = resumeAfter
        self.assignedAt = assignedAt
        self.deadlineMs = deadlineMs
        self.attempt = attempt
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        try Check.identifier(jobId, at: Check.join(path, "jobId"))
        try Check.hexKey(relayKey, at: Check.join(path, "relayKey"))
        try Check.text(subscriptionId, length: 1...64, at: Check.join(path, "subscriptionId"))
        try Check.count(filters, 1...32, at: Check.join(path, "filters"))
        try Check.range(limit, 1...100_000, at: Check.join(path, "limit"))
        if let resumeAfter { try resumeAfter.validate(at: Check.join(path, "resumeAfter")) }
        try Check.millisecondsTimestamp(assignedAt, at: Check.join(path, "assignedAt"))
        try Check.range(deadlineMs, 100...300_000, at: Check.join(path, "deadlineMs"))
        try Check.range(attempt, 1...16, at: Check.join(path, "attempt"))
    }
}

/// A position in a newest-first answer: the last event delivered.
public struct JobCursor: Codable, Sendable, Equatable, PayloadValidatable {
    public var createdAt: Int64
    /// Event id, lowercase hex.
    public var id: String

    public init(createdAt: Int64, id: String) {
        self.createdAt = createdAt
        self.id = id
    }

    /// Whether an event comes strictly after this cursor in answer order (newest first, ties by lowest id).
    public func precedes(createdAt c: Int64, id other: String) -> Bool {
        c < createdAt || (c == createdAt && other > id)
    }

    public func validate(at path: String) throws {
        try Check.hexKey(id, at: Check.join(path, "id"))
    }
}

/// Worker -> gateway: one batch of a job's answer, in answer order (message 8).
public struct JobResults: PeerPayload {
    public static let supportedVersion = 1
    public var version: Int
    public var jobId: String
    public var attempt: Int
    /// The events (NIP-01 objects), at most 1,000 per batch.
    public var events: [JSONValue]

    public init(jobId: String, attempt: Int, events: [JSONValue]) {
        version = Self.supportedVersion
        self.jobId = jobId
        self.attempt = attempt
        self.events = events
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        try Check.identifier(jobId, at: Check.join(path, "jobId"))
        try Check.range(attempt, 1...16, at: Check.join(path, "attempt"))
        try Check.count(events, 0...1000, at: Check.join(path, "events"))
    }
}

/// Gateway -> worker: stop an attempt; nothing more is accepted for it (message 10).
public struct JobStop: PeerPayload {
    public static let supportedVersion = 1
    public var version: Int
    public var jobId: String
    public var attempt: Int
    /// At most 256 bytes.
    public var reason: String

    public init(jobId: String, attempt: Int, reason: String) {
        version = Self.supportedVersion
        self.jobId = jobId
        self.attempt = attempt
        self.reason = reason
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        try Check.identifier(jobId, at: Check.join(path, "jobId"))
        try Check.range(attempt, 1...16, at: Check.join(path, "attempt"))
        try Check.text(reason, length: 0...256, at: Check.join(path, "reason"))
    }
}

/// Worker -> gateway: the fate of an assignment.
public struct DispatcherAcknowledgement: PeerPayload {
    public static let supportedVersion = 1

    /// What happened to the job.
    public enum Status: String, Codable, Sendable {
        case accepted, rejected, completed, failed
    }

    public var version: Int
    /// Job id from the assignment.
    public var jobId: String
    /// Attempt from the assignment (1 when absent, for older senders).
    public var attempt: Int?
    /// Worker swarm public key (hex).
    public var peerId: String
    public var status: Status
    /// Why it was rejected or failed (at most 256 bytes).
    public var reason: String?
    /// Events streamed back (for `completed`).
    public var eventsSent: UInt64?
    /// Unix milliseconds.
    public var acknowledgedAt: UInt64

    public init(
        jobId: String, attempt: Int? = nil, peerId: String, status: Status, reason: String? = nil,
        eventsSent: UInt64? = nil, acknowledgedAt: UInt64
    ) {
        version = Self.supportedVersion
        self.jobId = jobId
        self.attempt = attempt
        self.peerId = peerId
        self.status = status
        self.reason = reason
        self.eventsSent = eventsSent
        self.acknowledgedAt = acknowledgedAt
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        try Check.identifier(jobId, at: Check.join(path, "jobId"))
        if let attempt { try Check.range(attempt, 1...16, at: Check.join(path, "attempt")) }
        try Check.hexKey(peerId, at: Check.join(path, "peerId"))
        if let reason { try Check.text(reason, length: 0...256, at: Check.join(path, "reason")) }
        if (status == .rejected || status == .failed) && (reason ?? "").isEmpty {
            throw PayloadValidationError(
                path: Check.join(path, "reason"), reason: "required when status is \(status.rawValue)")
        }
        if let eventsSent { try Check.range(eventsSent, 0...10_000_000, at: Check.join(path, "eventsSent")) }
        try Check.millisecondsTimestamp(acknowledgedAt, at: Check.join(path, "acknowledgedAt"))
    }
}
