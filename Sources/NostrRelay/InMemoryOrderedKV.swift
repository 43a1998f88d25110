import Foundation

/// An in-memory `OrderedKeyValueStore`: sorted chunks of at most 512 entries (a flat, one-level B-tree), so
/// puts, deletes and range scans stay logarithmic-ish at a few hundred thousand keys. Thread-safe.
public final class InMemoryOrderedKV: OrderedKeyValueStore, @unchecked Sendable {
    // Invariant: `chunks` is only touched with `lock` held; every chunk is non-empty and sorted, and the
    // chunks are in order (last key of chunk i < first key of chunk i+1).
    private let lock = NSLock()
    private var chunks: [[KVEntry]] = []
    private var closed = false
    private static let chunkCapacity = 512

    public init() {}

    /// Number of keys.
    public var count: Int { lock.withLock { chunks.reduce(0) { $0 + $1.count } } }

    public func get(_ key: [UInt8]) async throws -> [UInt8]? {
        try lock.withLock {
            try checkOpen()
            guard let (c, i, found) = locate(key), found else { return nil }
            return chunks[c][i].value
        }
    }

    public func apply(_ operations: [KVOperation]) async throws {
        try lock.withLock {
            try checkOpen()
            for op in operations {
                switch op {
                case .put(let key, let value): put(key, value)
                case .delete(let key): delete(key)
                }
            }
        }
    }

    public func range(_ range: KVRange) async throws -> [KVEntry] {
        try lock.withLock {
            try checkOpen()
            var out: [KVEntry] = []
            guard range.limit > 0, !chunks.isEmpty else { return out }
            if !range.reverse {
                var (c, i) = lowerStart(range)
                while c < chunks.count {
                    let chunk = chunks[c]
                    while i < chunk.count {
                        let e = chunk[i]
                        guard range.isBelowUpper(e.key) else { return out }
                        out.append(e)
                        if out.count >= range.limit { return out }
                        i += 1
                    }
                    c += 1
                    i = 0
                }
            } else {
                var (c, i) = upperStart(range)
                while c >= 0 {
                    let chunk = chunks[c]
                    while i >= 0 {
                        let e = chunk[i]
                        guard range.isAboveLower(e.key) else { return out }
                        out.append(e)
                        if out.count >= range.limit { return out }
                        i -= 1
                    }
                    c -= 1
                    if c >= 0 { i = chunks[c].count - 1 }
                }
            }
            return out
        }
    }

    public func close() async throws { lock.withLock { closed = true } }

    private func checkOpen() throws {
        if closed { throw EventStoreError.closed }
    }

    /// First position whose key is >= key: (chunk, index, exact match). Nil when there are no chunks.
    private func locate(_ key: [UInt8]) -> (Int, Int, Bool)? {
        guard !chunks.isEmpty else { return nil }
        // First chunk whose last key >= key.
        var lo = 0
        var hi = chunks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if KeyOrder.less(chunks[mid][chunks[mid].count - 1].key, key) { lo = mid + 1 } else { hi = mid }
        }
        if lo == chunks.count { return (chunks.count - 1, chunks[chunks.count - 1].count, false) }
        let chunk = chunks[lo]
        var a = 0
        var b = chunk.count
        while a < b {
            let mid = (a + b) / 2
            if KeyOrder.less(chunk[mid].key, key) { a = mid + 1 } else { b = mid }
        }
        return (lo, a, a < chunk.count && chunk[a].key == key)
    }

    private func put(_ key: [UInt8], _ value: [UInt8]) {
        guard let (c, i, found) = locate(key) else {
            chunks = [[KVEntry(key: key, value: value)]]
            return
        }
        if found {
            chunks[c][i].value = value
            return
        }
        chunks[c].insert(KVEntry(key: key, value: value), at: i)
        if chunks[c].count > Self.chunkCapacity {
            let half = chunks[c].count / 2
            let tail = Array(chunks[c][half...])
            chunks[c].removeSubrange(half...)
            chunks.insert(tail, at: c + 1)
        }
    }

    private func delete(_ key: [UInt8]) {
        guard let (c, i, found) = locate(key), found else { return }
        chunks[c].remove(at: i)
        if chunks[c].isEmpty { chunks.remove(at: c) }
    }

    /// Start position of an ascending scan.
    private func lowerStart(_ range: KVRange) -> (Int, Int) {
        var start = (0, 0)
        if let gte = range.gte ?? range.gt, let (c, i, found) = locate(gte) {
            start = (c, i)
            if found && range.gte == nil { start.1 += 1 }
            // With both gt and gte, keep the stricter (the larger position).
            if let gt = range.gt, range.gte != nil, let (c2, i2, f2) = locate(gt) {
                let p2 = (c2, i2 + (f2 ? 1 : 0))
                if p2.0 > start.0 || (p2.0 == start.0 && p2.1 > start.1) { start = p2 }
            }
        }
        if start.1 >= chunks[start.0].count { start = (start.0 + 1, 0) }
        return start
    }

    /// Start position of a descending scan (the last key within the upper bound).
    private func upperStart(_ range: KVRange) -> (Int, Int) {
        var best: (Int, Int) = (chunks.count - 1, chunks[chunks.count - 1].count - 1)
        func consider(_ bound: [UInt8], inclusive: Bool) {
            guard let (c, i, found) = locate(bound) else { return }
            // Position just before the first key >= bound (or including an exact match when inclusive).
            var pos = (c, (found && inclusive) ? i : i - 1)
            if pos.1 < 0 {
                pos = (c - 1, c - 1 >= 0 ? chunks[c - 1].count - 1 : -1)
            } else if pos.1 >= chunks[c].count {
                pos = (c, chunks[c].count - 1)
            }
            if pos.0 < best.0 || (pos.0 == best.0 && pos.1 < best.1) { best = pos }
        }
        if let lt = range.lt { consider(lt, inclusive: false) }
        if let lte = range.lte { consider(lte, inclusive: true) }
        return best
    }
}

/// Errors of event stores.
public enum EventStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case closed
    case corrupt(String)

    public var description: String {
        switch self {
        case .closed: return "the event store is closed"
        case .corrupt(let what): return "the event store is corrupt: \(what)"
        }
    }
}
