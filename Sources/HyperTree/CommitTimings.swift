import LMDBKit

/// Where the time of one batch commit went (see `HyperTree.lastCommitTimings`).
public struct CommitTimings: Sendable, Equatable {
    /// Puts and deletes of the batch: node searches, block loads and copy-on-write node edits.
    public var operations: Duration = .zero
    /// Encoding the batch's new blocks in Hyperbee 2 format.
    public var encode: Duration = .zero
    /// The log append of all blocks (hashing, signing, storage write and, on a durable log, the sync).
    public var append: Duration = .zero
    /// Putting the new decoded blocks into the cache.
    public var cacheWarm: Duration = .zero
    /// Blocks appended.
    public var blocks: Int = 0

    public init() {}
}

/// The most recent commit's timings of a tree (written by the single writer, read by anyone).
final class CommitTimingsBox: Sendable {
    private let lock = Lock()
    // Invariant: only read or written under `lock`.
    nonisolated(unsafe) private var value: CommitTimings?

    func set(_ t: CommitTimings) { lock.withLock { value = t } }
    func get() -> CommitTimings? { lock.withLock { value } }
}
