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
