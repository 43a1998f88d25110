import HyperCrypto

/// A printable summary of a log's state.
public struct LogInfo: Sendable, Equatable, CustomStringConvertible {
    public var key: [UInt8]
    public var discoveryKey: [UInt8]
    public var mode: SigningMode
    public var writable: Bool
    public var length: UInt64
    public var byteLength: UInt64
    public var contiguousLength: UInt64
    public var fork: UInt64
    public var treeHash: [UInt8]
    public var signature: [UInt8]

    public var description: String {
        """
        key:              \(key.hex)
        discovery key:    \(discoveryKey.hex)
        mode:             \(mode.rawValue)\(writable ? " (writable)" : " (read-only)")
        length:           \(length)
        byteLength:       \(byteLength)
        contiguousLength: \(contiguousLength)
        fork:             \(fork)
        treeHash:         \(treeHash.hex)
        signature:        \(signature.isEmpty ? "(none: empty log)" : signature.hex)
        """
    }
}

extension HyperLog {
    /// A consistent summary of the log's state.
    public var info: LogInfo {
        lock.withLock {
            LogInfo(
                key: state.identity.key, discoveryKey: state.identity.discoveryKey, mode: state.identity.mode,
                writable: keyPair != nil, length: state.header.length, byteLength: state.header.byteLength,
                contiguousLength: state.header.contiguousLength, fork: state.header.fork,
                treeHash: HypercoreCrypto.treeHash(state.roots), signature: state.header.signature)
        }
    }

    /// Opens the log in `storage`, or creates one with a fresh key pair (kept in the storage) when there is none.
    public static func openOrCreate(in storage: any LogStorage, mode: SigningMode = .manifest) throws -> HyperLog {
        if try readHeader(storage) != nil { return try open(storage) }
        return try create(in: storage, keyPair: .generate(), mode: mode)
    }
}

extension HyperLog {
    /// Replicates this log into a fresh in-memory replica through encoded `hypercore/alpha` data messages
    /// (one upgrade, then every block the log stores) and checks that the replica verifies; returns a summary.
    public static func replicationCheck(of log: HyperLog) async throws -> String {
        let replica = try HyperLog.replica(in: MemoryLogStorage(), key: log.key)
        let length = log.length
        guard length > 0 else { return "replication: nothing to replicate (empty log)" }
        var bytes = 0
        let upgrade = try log.proof(
            for: ProofRequest(fork: log.fork, upgrade: .init(start: 0, length: length), manifest: true))
        let wire = upgrade.encodeDataMessage(request: 0)
        bytes += wire.count
        try replica.apply(try Proof.decodeDataMessage(wire).proof)
        var copied: UInt64 = 0
        for i in 0..<length where log.has(i) {
            let p = try log.proof(
                for: ProofRequest(fork: log.fork, block: .init(index: i, nodes: try replica.missingNodes(i))))
            let msg = p.encodeDataMessage(request: i + 1)
            bytes += msg.count
            try replica.apply(try Proof.decodeDataMessage(msg).proof)
            copied += 1
        }
        let checked = try replica.verify()
        guard replica.treeHash == log.treeHash, checked == copied else {
            throw HyperLogError.corrupt("replica does not match the log")
        }
        return
            "replication: \(copied) blocks sent as \(bytes) bytes of data messages; replica verified \(checked) blocks, tree hash matches"
    }
}
