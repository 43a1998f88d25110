/// Frame types the gateway sends today. Receivers should ignore (but still sequence-check) types they do not know.
public enum ControlFrameType: String, Sendable, CaseIterable {
    case tokenRevoked = "token-revoked"
    case reassign = "reassign"
    case pauseReplication = "pause-replication"
    case resumeReplication = "resume-replication"
}

/// Payload of a `token-revoked` frame: the peer must drop the token and disconnect from the relay.
public struct TokenRevokedNotice: PeerPayload {
    public static let supportedVersion = 1
    public var version: Int
    /// Peer (swarm public key, hex) whose token was revoked.
    public var peerKey: String
    /// Relay key (hex) the token was for.
    public var relayKey: String
    /// Token id (`jti`) revoked.
    public var tokenId: String
    /// Token sequence revoked.
    public var sequence: UInt64
    /// Operator-supplied reason, at most 256 bytes.
    public var reason: String

    public init(peerKey: String, relayKey: String, tokenId: String, sequence: UInt64, reason: String) {
        version = Self.supportedVersion
        self.peerKey = peerKey
        self.relayKey = relayKey
        self.tokenId = tokenId
        self.sequence = sequence
        self.reason = reason
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        try Check.hexKey(peerKey, at: Check.join(path, "peerKey"))
        try Check.hexKey(relayKey, at: Check.join(path, "relayKey"))
        try Check.hexKey(tokenId, bytes: 16, at: Check.join(path, "tokenId"))
        try Check.range(sequence, 1...UInt64.max, at: Check.join(path, "sequence"))
        try Check.text(reason, length: 0...256, at: Check.join(path, "reason"))
    }
}

/// Payload of `pause-replication` / `resume-replication`.
public struct ReplicationControlNotice: PeerPayload {
    public static let supportedVersion = 1
    public var version: Int
    /// Relay key (hex) whose replication is paused or resumed.
    public var relayKey: String
    /// Operator-supplied reason, at most 256 bytes.
    public var reason: String

    public init(relayKey: String, reason: String) {
        version = Self.supportedVersion
        self.relayKey = relayKey
        self.reason = reason
    }

    public func validate(at path: String) throws {
        try Check.version(version, supported: Self.supportedVersion, at: path)
        try Check.hexKey(relayKey, at: Check.join(path, "relayKey"))
        try Check.text(reason, length: 0...256, at: Check.join(path, "reason"))
    }
}
