import Foundation
import LMDBKit

/// Token store on LMDB. Named databases in the given environment:
/// - `token-registrations`: peer key hex -> JSON `PeerRegistrationRecord`
/// - `token-states`: `<peer hex>:<relay hex>` -> JSON `TokenState` (holds the sequence counter)
/// - `token-revocations`: token id hex -> JSON `RevocationRecord`
/// - `token-meta`: `control-frame-sequence` -> u64 little-endian
/// Commits are durable when the environment is (`Options.durable`, the default).
public final class LMDBTokenStore: TokenStore, Sendable {
    private let env: LMDBEnvironment
    private let registrationsDB: LMDBDatabase
    private let statesDB: LMDBDatabase
    private let revocationsDB: LMDBDatabase
    private let metaDB: LMDBDatabase
    private static let frameSequenceKey = Array("control-frame-sequence".utf8)

    /// Opens (creating if needed) the token databases in `environment`.
    public init(environment: LMDBEnvironment) throws {
        env = environment
        registrationsDB = try environment.database(named: "token-registrations")
        statesDB = try environment.database(named: "token-states")
        revocationsDB = try environment.database(named: "token-revocations")
        metaDB = try environment.database(named: "token-meta")
    }

    public func registration(peerKey: String) throws -> PeerRegistrationRecord? {
        try get(registrationsDB, key: peerKey)
    }

    public func tokenState(peerKey: String, relayKey: String) throws -> TokenState? {
        try get(statesDB, key: peerKey + ":" + relayKey)
    }

    public func revocation(tokenId: String) throws -> RevocationRecord? { try get(revocationsDB, key: tokenId) }

    public func revocations() throws -> [RevocationRecord] {
        try env.read { txn in
            var out: [RevocationRecord] = []
            try txn.scan(revocationsDB) { _, value in
                out.append(try JSONDecoder().decode(RevocationRecord.self, from: Data(value)))
                return true
            }
            return out
        }
    }

    public func commit(_ batch: TokenStoreBatch) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let regs = try batch.registrations.map { (Array($0.peerKey.utf8), Array(try encoder.encode($0))) }
        let states = try batch.states.map {
            (Array(($0.peerKey + ":" + $0.relayKey).utf8), Array(try encoder.encode($0)))
        }
        let revs = try batch.revocations.map { (Array($0.tokenId.utf8), Array(try encoder.encode($0))) }
        try env.write { txn in
            for (k, v) in regs { try txn.put(registrationsDB, key: k, value: v) }
            for (k, v) in states { try txn.put(statesDB, key: k, value: v) }
            for (k, v) in revs { try txn.put(revocationsDB, key: k, value: v) }
        }
    }

    public func purgeRevocations(expiringBefore cutoff: UInt64) throws -> Int {
        try env.write { txn in
            var doomed: [[UInt8]] = []
            try txn.scan(revocationsDB) { key, value in
                let record = try JSONDecoder().decode(RevocationRecord.self, from: Data(value))
                if record.expiresAt < cutoff { doomed.append(Array(key)) }
                return true
            }
            for k in doomed { try txn.delete(revocationsDB, key: k) }
            return doomed.count
        }
    }

    public func nextControlFrameSequence() throws -> UInt64 {
        try env.write { txn in
            var current: UInt64 = 0
            if let b = try txn.get(metaDB, key: Self.frameSequenceKey) {
                // Never restart the counter from a damaged record: that would reissue old sequences.
                guard b.count == 8 else {
                    throw TokenError.storage("control-frame sequence record is \(b.count) bytes, not 8")
                }
                current = b.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            }
            guard current < UInt64.max else { throw TokenError.storage("control-frame sequence exhausted") }
            let next = current + 1
            try txn.put(metaDB, key: Self.frameSequenceKey, value: withUnsafeBytes(of: next.littleEndian) { Array($0) })
            return next
        }
    }

    private func get<T: Decodable>(_ db: LMDBDatabase, key: String) throws -> T? {
        let bytes = try env.read { txn in try txn.get(db, key: Array(key.utf8)) }
        guard let bytes else { return nil }
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }
}
