/// Every way a HyperLog operation can fail. Nothing is stored when one is thrown.
public enum HyperLogError: Error, Equatable, CustomStringConvertible {
    /// The log has no secret key (a replica) and cannot append, truncate or sign.
    case notWritable
    /// A block index at or past the log length (or past the proven length of a replica).
    case outOfRange(index: UInt64, length: UInt64)
    /// The block is within the log but not stored locally (sparse replica, or cleared).
    case blockNotAvailable(UInt64)
    /// A signature did not verify against the log's key.
    case invalidSignature
    /// A proof was malformed or did not hash to a trusted node / signed tree.
    case invalidProof(String)
    /// A proof was made for a different fork than ours.
    case forkMismatch(expected: UInt64, got: UInt64)
    /// The storage already holds a log with a different key.
    case keyMismatch(expected: String, found: String)
    /// The storage holds no log (open without create).
    case noLog
    /// Stored data is corrupt or unreadable.
    case corrupt(String)
    /// A compact-encoded message could not be decoded.
    case malformed(String)
    /// The storage driver failed (unwritable directory, disk full, ...).
    case storage(String)
    /// The store was closed.
    case storageClosed
    /// A snapshot refers to blocks removed by a later truncation.
    case snapshotInvalidated(length: UInt64, truncatedTo: UInt64)
    /// A request this implementation does not serve (e.g. seek proofs).
    case unsupported(String)
    /// Bad argument (empty range, bad key length, ...).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .notWritable: return "log is read-only (no secret key)"
        case .outOfRange(let i, let n): return "block \(i) is out of range (length \(n))"
        case .blockNotAvailable(let i): return "block \(i) is not stored locally"
        case .invalidSignature: return "signature does not verify against the log key"
        case .invalidProof(let why): return "invalid proof: \(why)"
        case .forkMismatch(let e, let g): return "proof is for fork \(g), log is at fork \(e)"
        case .keyMismatch(let e, let f): return "storage holds another log (key \(f)), expected \(e)"
        case .noLog: return "storage holds no log"
        case .corrupt(let why): return "corrupt log storage: \(why)"
        case .malformed(let why): return "malformed message: \(why)"
        case .storage(let why): return "storage failure: \(why)"
        case .storageClosed: return "storage is closed"
        case .snapshotInvalidated(let l, let t):
            return "snapshot at length \(l) was invalidated by a truncation to \(t)"
        case .unsupported(let what): return "unsupported: \(what)"
        case .invalidArgument(let why): return "invalid argument: \(why)"
        }
    }
}
