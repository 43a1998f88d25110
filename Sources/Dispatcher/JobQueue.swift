/// A FIFO ring of job ids with push-front for jobs that lost their peer (they were admitted first).
/// Entries of jobs that ended while queued are skipped lazily by the dispatcher.
struct JobQueue: Sendable {
    private var ring: [JobID] = Array(repeating: JobID(0), count: 16)
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func reserve(_ n: Int) {
        if ring.count < n { grow(to: n) }
    }

    mutating func pushBack(_ id: JobID) {
        if count == ring.count { grow(to: ring.count * 2) }
        ring[(head + count) % ring.count] = id
        count += 1
    }

    mutating func pushFront(_ id: JobID) {
        if count == ring.count { grow(to: ring.count * 2) }
        head = (head - 1 + ring.count) % ring.count
        ring[head] = id
        count += 1
    }

    mutating func popFront() -> JobID? {
        guard count > 0 else { return nil }
        let id = ring[head]
        head = (head + 1) % ring.count
        count -= 1
        return id
    }

    /// Entries front to back (including ones the dispatcher will skip).
    var entries: [JobID] { (0..<count).map { ring[(head + $0) % ring.count] } }

    /// Keeps only entries for which `keep` is true, preserving order.
    mutating func retain(_ keep: (JobID) -> Bool) {
        let kept = entries.filter(keep)
        head = 0
        count = 0
        for id in kept { pushBack(id) }
    }

    private mutating func grow(to n: Int) {
        var fresh = Array(repeating: JobID(0), count: max(16, n))
        for i in 0..<count { fresh[i] = ring[(head + i) % ring.count] }
        ring = fresh
        head = 0
    }
}
