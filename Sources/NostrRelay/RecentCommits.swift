/// The ids stored by the most recent commits of an `IndexedEventStore`, numbered, so that an early duplicate
/// check (`EventStore.checkNew`, a read made outside the writer) can be completed by the writer without a second
/// store read: an id absent at commit `n` is still absent unless one of the commits after `n` stored it.
struct RecentCommits: Sendable {
    /// Commits remembered; an early check older than that falls back to a store read.
    let depth: Int
    /// Number of the latest commit (0 before the first).
    private(set) var sequence: UInt64 = 0
    /// Ids stored by commits `sequence - stored.count + 1 ... sequence`, oldest first (a ring).
    private var stored: [Set<String>?] = []
    private var head = 0

    init(depth: Int = 32) { self.depth = max(1, depth) }

    /// Records a commit whose effect is unknown (a failed apply may still have landed): checks made before it fall
    /// back to a store read.
    mutating func recordUnknown() { record(nil) }

    /// Records one commit that stored `ids` (removals need no record: they never make an absent id present).
    mutating func record(_ ids: Set<String>?) {
        sequence &+= 1
        if stored.count < depth {
            stored.append(ids)
        } else {
            stored[head] = ids
            head = (head + 1) % depth
        }
    }

    /// Whether a commit after `commit` stored `id`; nil when those commits are no longer all remembered.
    func storedSince(_ commit: UInt64, _ id: String) -> Bool? {
        guard commit <= sequence else { return nil }
        let newer = sequence - commit
        if newer == 0 { return false }
        guard newer <= UInt64(stored.count) else { return nil }
        // The newest entry sits just before `head` once the ring is full, at the end before that.
        for back in 0..<Int(newer) {
            let index = ((stored.count == depth ? head : stored.count) - 1 - back + depth * 2) % depth
            guard let ids = stored[index % stored.count] else { return nil }
            if ids.contains(id) { return true }
        }
        return false
    }
}
