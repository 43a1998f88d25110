/// Anyone may write.
public struct OpenWritePolicy: WritePolicy {
    public init() {}
    public var summary: String { "open (anyone may publish)" }
    public var restrictsWrites: Bool { false }
    public func decide(_ event: NostrEvent, context: WriteContext) -> WriteDecision { .accept }
}

/// Only events authored by listed public keys are accepted.
public struct AllowListWritePolicy: WritePolicy {
    /// Allowed authors (64 lowercase hex).
    public let pubkeys: Set<String>

    public init(pubkeys: Set<String>) { self.pubkeys = Set(pubkeys.map { $0.lowercased() }) }
    public var summary: String { "allow-list (\(pubkeys.count) public keys)" }
    public var restrictsWrites: Bool { true }

    public func decide(_ event: NostrEvent, context: WriteContext) -> WriteDecision {
        pubkeys.contains(event.pubkey) ? .accept : .reject(message: "blocked: this author is not on the allow-list")
    }
}

/// The gateway's policy: events authored by an admin key are accepted from anyone; other events only when
/// the connection has authenticated (NIP-42) as the event's author and that key is a recognised peer.
public struct AdminsAndAuthenticatedPeersWritePolicy: WritePolicy {
    /// Admin authors (64 lowercase hex).
    public let admins: Set<String>
    /// Whether an authenticated key counts as a peer; nil means every authenticated key does.
    public let isPeer: (@Sendable (String) -> Bool)?

    public init(admins: Set<String>, isPeer: (@Sendable (String) -> Bool)? = nil) {
        self.admins = Set(admins.map { $0.lowercased() })
        self.isPeer = isPeer
    }

    public var summary: String {
        "admins and authenticated peers (\(admins.count) admin keys, \(isPeer == nil ? "any" : "recognised") peers)"
    }
    public var restrictsWrites: Bool { true }

    public func decide(_ event: NostrEvent, context: WriteContext) -> WriteDecision {
        if admins.contains(event.pubkey) { return .accept }
        guard context.authenticatedPubkeys.contains(event.pubkey) else {
            return .reject(message: "auth-required: only admins and authenticated peers may publish here")
        }
        if let isPeer, !isPeer(event.pubkey) {
            return .reject(message: "restricted: this key is not a recognised peer")
        }
        return .accept
    }
}
