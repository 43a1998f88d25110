/// Errors raised by HyperTree. Bad or hostile input always surfaces as one of these, never as a crash or a loop.
public enum TreeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A block's bytes are not a valid Hyperbee Node or Header message.
    case corruptBlock(seq: UInt64, reason: String)
    /// A node points at a child or key outside the tree's version, or at a level its block lacks.
    case badPointer(seq: UInt64, reason: String)
    /// The tree is deeper than any real tree can be (a pointer cycle or a forged index).
    case tooDeep(limit: Int)
    /// Block 0 is not a Hyperbee header.
    case notAHyperbee(reason: String)
    /// The requested version is not the end of a write (for example the middle of a batch).
    case noRootAt(version: UInt64)
    /// Checkout beyond the log's length.
    case versionOutOfRange(requested: UInt64, length: UInt64)
    /// A write was attempted on a read-only log or a checkout.
    case readOnly
    /// The log could not provide a block.
    case blockUnavailable(seq: UInt64, reason: String)
    /// A batch was used after it was flushed or discarded.
    case batchClosed
    /// A value could not be encoded or decoded by a typed helper (UTF-8, JSON).
    case codec(String)

    public var description: String {
        switch self {
        case .corruptBlock(let seq, let reason): return "corrupt block \(seq): \(reason)"
        case .badPointer(let seq, let reason): return "bad pointer in block \(seq): \(reason)"
        case .tooDeep(let limit): return "tree deeper than \(limit) levels (corrupt index or pointer cycle)"
        case .notAHyperbee(let reason): return "not a hyperbee log: \(reason)"
        case .noRootAt(let version): return "no tree root at version \(version) (not the end of a write)"
        case .versionOutOfRange(let requested, let length):
            return "version \(requested) is beyond the log length \(length)"
        case .readOnly: return "tree is read-only"
        case .blockUnavailable(let seq, let reason): return "block \(seq) unavailable: \(reason)"
        case .batchClosed: return "batch already flushed or discarded"
        case .codec(let reason): return "codec error: \(reason)"
        }
    }
}
