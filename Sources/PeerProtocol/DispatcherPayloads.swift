/// Gateway -> worker: run a Nostr subscription against the local replica (also the payload of a `reassign`
/// control frame when `attempt > 1`).
public struct DispatcherAssignment: PeerPayload {
    public static let supportedVersion = 1
    public var version: Int
    /// Unique job id chosen by the gateway (`[A-Za-z0-9._:-]`, 1...128); never the client's subscription id.
    public var jobId: String
    /// Relay key (hex).
    public var relayKey: String
    /// Client subscription id (NIP-01: 1...64 bytes).
    public var subscriptionId: String
    /// NIP-01 filters (1...32).
    public var filters: [NostrFilter]
    /// Unix milliseconds when assigned.
    public var assignedAt: UInt64
    /// Milliseconds the worker has before the gateway reassigns (100...300_000).
    public var deadlineMs: Int
    /// 1 for the first assignment, higher on reassignment (1...16).
    public var attempt: Int

    public init(
        jobId: String, relayKey: String, subscriptionId: String, filters: [NostrFilter], assignedAt: UInt64,
        deadlineMs: Int, attempt: Int = 1
    ) {
        version = Self.supportedVersion
        self.jobId = jobId
        self.relayKey = relayKey
        self.subscriptionId = subscriptionId
        self.filters = filters
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
        for (i, f) in filters.enumerated() { try f.validate(at: Check.join(path, "filters") + "[\(i)]") }
        try Check.millisecondsTimestamp(assignedAt, at: Check.join(path, "assignedAt"))
        try Check.range(deadlineMs, 100...300_000, at: Check.join(path, "deadlineMs"))
        try Check.range(attempt, 1...16, at: Check.join(path, "attempt"))
    }
}

/// A NIP-01 filter. Tag filters (`#e`, `#p`, ...) travel in `tags` keyed by the single tag letter.
public struct NostrFilter: Codable, Sendable, Equatable, PayloadValidatable {
    public var ids: [String]?
    public var authors: [String]?
    public var kinds: [Int]?
    /// Single-letter tag name -> values (JSON `#x`).
    public var tags: [String: [String]]?
    public var since: UInt64?
    public var until: UInt64?
    public var limit: Int?

    public init(
        ids: [String]? = nil, authors: [String]? = nil, kinds: [Int]? = nil, tags: [String: [String]]? = nil,
        since: UInt64? = nil, until: UInt64? = nil, limit: Int? = nil
    ) {
        self.ids = ids
        self.authors = authors
        self.kinds = kinds
        self.tags = tags
        self.since = since
        self.until = until
        self.limit = limit
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        ids = try c.decodeIfPresent([String].self, forKey: Key(stringValue: "ids"))
        authors = try c.decodeIfPresent([String].self, forKey: Key(stringValue: "authors"))
        kinds = try c.decodeIfPresent([Int].self, forKey: Key(stringValue: "kinds"))
        since = try c.decodeIfPresent(UInt64.self, forKey: Key(stringValue: "since"))
        until = try c.decodeIfPresent(UInt64.self, forKey: Key(stringValue: "until"))
        limit = try c.decodeIfPresent(Int.self, forKey: Key(stringValue: "limit"))
        var t: [String: [String]] = [:]
        for key in c.allKeys where key.stringValue.hasPrefix("#") {
            t[String(key.stringValue.dropFirst())] = try c.decode([String].self, forKey: key)
        }
        tags = t.isEmpty ? nil : t
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encodeIfPresent(ids, forKey: Key(stringValue: "ids"))
        try c.encodeIfPresent(authors, forKey: Key(stringValue: "authors"))
        try c.encodeIfPresent(kinds, forKey: Key(stringValue: "kinds"))
        try c.encodeIfPresent(since, forKey: Key(stringValue: "since"))
        try c.encodeIfPresent(until, forKey: Key(stringValue: "until"))
        try c.encodeIfPresent(limit, forKey: Key(stringValue: "limit"))
        for (name, values) in tags ?? [:] { try c.encode(values, forKey: Key(stringValue: "#" + name)) }
    }

    public func validate(at path: String) throws {
        if let ids {
            try Check.count(ids, 1...1000, at: Check.join(path, "ids"))
            for (i, id) in ids.enumerated() { try Check.hexKey(id, at: Check.join(path, "ids") + "[\(i)]") }
        }
        if let authors {
            try Check.count(authors, 1...1000, at: Check.join(path, "authors"))
            for (i, a) in authors.enumerated() { try Check.hexKey(a, at: Check.join(path, "authors") + "[\(i)]") }
        }
        if let kinds {
            try Check.count(kinds, 1...100, at: Check.join(path, "kinds"))
            for (i, k) in kinds.enumerated() {
                try Check.range(k, 0...65_535, at: Check.join(path, "kinds") + "[\(i)]")
            }
        }
        if let tags {
            try Check.count(tags, 1...26, at: Check.join(path, "tags"))
            for (name, values) in tags.sorted(by: { $0.key < $1.key }) {
                let p = Check.join(path, "#" + name)
                guard name.utf8.count == 1, let c = name.utf8.first,
                    (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                else { throw PayloadValidationError(path: p, reason: "tag filter name must be a single letter") }
                try Check.count(values, 1...1000, at: p)
                for (i, v) in values.enumerated() { try Check.text(v, length: 0...1024, at: p + "[\(i)]") }
            }
        }
        if let since, let until, since > until {
            throw PayloadValidationError(path: Check.join(path, "since"), reason: "must not be after until")
        }
        if let limit { try Check.range(limit, 0...5000, at: Check.join(path, "limit")) }
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
        jobId: String, peerId: String, status: Status, reason: String? = nil, eventsSent: UInt64? = nil,
        acknowledgedAt: UInt64
    ) {
        version = Self.supportedVersion
        self.jobId = jobId
        self.peerId = peerId
        self.status = status
        self.reason = reason
        self.eventsSent = eventsSent
        self.acknowledgedAt = acknowledgedAt
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        try Check.identifier(jobId, at: Check.join(path, "jobId"))
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
