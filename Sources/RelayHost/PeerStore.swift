import Foundation
import LMDBKit
import PeerProtocol
import TokenService

/// What the gateway keeps about one registered peer, beside the token metadata of `TokenStore`.
public struct PeerRecord: Codable, Sendable, Equatable {
    /// Swarm public key, hex.
    public var peerKey: String
    /// Relays the peer offered to serve (identifier, name, key) at its latest registration.
    public var relays: [RelayRegistration]
    public var address: String?
    public var mode: String?
    public var nostrPubkeyHex: String?
    /// Unix seconds.
    public var firstRegisteredAt: UInt64
    public var lastRegisteredAt: UInt64
    /// `swarm` or `http`: how the latest registration arrived.
    public var lastRegisteredVia: String
    /// Successful registrations.
    public var registrations: UInt64
    /// Refused registrations (bad signature, replay, window, quarantine ...).
    public var failedRegistrations: UInt64
    /// Replication failures seen on this peer's connections.
    public var replicationFailures: UInt64

    public init(peerKey: String, relays: [RelayRegistration], via: String, now: UInt64) {
        self.peerKey = peerKey
        self.relays = relays
        firstRegisteredAt = now
        lastRegisteredAt = now
        lastRegisteredVia = via
        registrations = 0
        failedRegistrations = 0
        replicationFailures = 0
    }
}

/// Operator moderation (NIP-86): banned and allowed pubkeys, banned events, relay name and description.
public struct ModerationState: Codable, Sendable, Equatable {
    /// pubkey hex -> reason.
    public var bannedPubkeys: [String: String] = [:]
    public var allowedPubkeys: [String: String] = [:]
    /// event id hex -> reason.
    public var bannedEvents: [String: String] = [:]
    public var relayName: String?
    public var relayDescription: String?

    public init() {}
}

/// The peer plane's LMDB store (`<data>/peers`): the token databases of `LMDBTokenStore` (registrations,
/// per-(peer, relay) token state with sequence counters, failure counts and quarantine, revocations, the
/// control-frame sequence) plus, here:
/// - `peer-records`: peer key hex -> JSON `PeerRecord`
/// - `peer-nonces`: nonce hex -> u64 LE expiry (Unix seconds): the replay guard of signed HTTP requests and admin
///   NIP-98 events
/// - `peer-meta`: `moderation` -> JSON `ModerationState`; `replication-paused` -> JSON reason
public final class PeerStore: Sendable {
    public let environment: LMDBEnvironment
    /// The token store over the same environment (TokenService uses it).
    public let tokens: LMDBTokenStore
    private let recordsDB: LMDBDatabase
    private let noncesDB: LMDBDatabase
    private let metaDB: LMDBDatabase

    /// Opens (creating, 0700) the store in `directory`.
    public init(directory: String) throws {
        try FileManager.default.createDirectory(
            atPath: (directory as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        environment = try LMDBEnvironment(path: directory)
        tokens = try LMDBTokenStore(environment: environment)
        recordsDB = try environment.database(named: "peer-records")
        noncesDB = try environment.database(named: "peer-nonces")
        metaDB = try environment.database(named: "peer-meta")
    }

    public func close() { environment.close() }

    // MARK: peers

    public func record(peerKey: String) throws -> PeerRecord? {
        try environment.read { txn in try txn.get(recordsDB, key: Array(peerKey.utf8)) }.map(Self.decode)
    }

    public func records() throws -> [PeerRecord] {
        try environment.read { txn in
            var out: [PeerRecord] = []
            try txn.scan(recordsDB) { _, value in
                out.append(try Self.decode(Array(value)))
                return true
            }
            return out
        }
    }

    /// Reads, changes and writes one record in one transaction (`body` gets nil for an unknown peer).
    @discardableResult
    public func update(peerKey: String, _ body: (inout PeerRecord?) -> Void) throws -> PeerRecord? {
        try environment.write { txn in
            let key = Array(peerKey.utf8)
            var record = try txn.get(recordsDB, key: key).map(Self.decode)
            body(&record)
            if let record { try txn.put(recordsDB, key: key, value: try Self.encode(record)) }
            return record
        }
    }

    // MARK: replay guard

    /// Records `nonce` until `expiresAt`; false when it was already seen (a replay). Expired nonces are purged
    /// in the same transaction, a few at a time.
    public func useNonce(_ nonce: String, expiresAt: UInt64, now: UInt64) throws -> Bool {
        try environment.write { txn in
            let key = Array(nonce.utf8)
            if let existing = try txn.get(noncesDB, key: key), Self.u64(existing) > now { return false }
            try txn.put(noncesDB, key: key, value: withUnsafeBytes(of: expiresAt.littleEndian) { Array($0) })
            var doomed: [[UInt8]] = []
            try txn.scan(noncesDB) { k, v in
                if Self.u64(Array(v)) <= now { doomed.append(Array(k)) }
                return doomed.count < 64
            }
            for k in doomed { _ = try txn.delete(noncesDB, key: k) }
            return true
        }
    }

    // MARK: meta

    public func moderation() throws -> ModerationState {
        try meta("moderation") ?? ModerationState()
    }

    public func setModeration(_ m: ModerationState) throws { try setMeta("moderation", m) }

    /// The reason replication is paused, nil when it runs.
    public func replicationPause() throws -> String? { try meta("replication-paused") }

    public func setReplicationPause(_ reason: String?) throws { try setMeta("replication-paused", reason) }

    private func meta<T: Decodable>(_ name: String) throws -> T? {
        guard let bytes = try environment.read({ txn in try txn.get(metaDB, key: Array(name.utf8)) }) else {
            return nil
        }
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }

    private func setMeta<T: Encodable>(_ name: String, _ value: T?) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let bytes = try value.map { Array(try encoder.encode($0)) }
        try environment.write { txn in
            if let bytes {
                try txn.put(metaDB, key: Array(name.utf8), value: bytes)
            } else {
                _ = try txn.delete(metaDB, key: Array(name.utf8))
            }
        }
    }

    static func u64(_ b: [UInt8]) -> UInt64 {
        guard b.count == 8 else { return 0 }
        return b.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func decode(_ bytes: [UInt8]) throws -> PeerRecord {
        try JSONDecoder().decode(PeerRecord.self, from: Data(bytes))
    }

    static func encode(_ r: PeerRecord) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(r))
    }
}
