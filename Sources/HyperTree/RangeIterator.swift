/// Bounds and direction of a range read. When both `gt` and `gte` (or `lt` and `lte`) are set, both apply.
public struct RangeOptions: Sendable, Equatable {
    public var gt: [UInt8]?
    public var gte: [UInt8]?
    public var lt: [UInt8]?
    public var lte: [UInt8]?
    /// Descending order.
    public var reverse: Bool
    /// Maximum number of entries (nil = no limit).
    public var limit: Int?

    public init(
        gt: [UInt8]? = nil, gte: [UInt8]? = nil, lt: [UInt8]? = nil, lte: [UInt8]? = nil, reverse: Bool = false,
        limit: Int? = nil
    ) {
        self.gt = gt
        self.gte = gte
        self.lt = lt
        self.lte = lte
        self.reverse = reverse
        self.limit = limit
    }

    /// Whether `key` is above the lower bounds.
    @inline(__always) func aboveLower(_ key: [UInt8]) -> Bool {
        if let gt, compareBytes(key, gt) <= 0 { return false }
        if let gte, compareBytes(key, gte) < 0 { return false }
        return true
    }

    /// Whether `key` is below the upper bounds.
    @inline(__always) func belowUpper(_ key: [UInt8]) -> Bool {
        if let lt, compareBytes(key, lt) >= 0 { return false }
        if let lte, compareBytes(key, lte) > 0 { return false }
        return true
    }

    /// Whether `key` is inside the range.
    public func contains(_ key: [UInt8]) -> Bool { aboveLower(key) && belowUpper(key) }

    /// The tightest start bound for the iteration direction: (key, inclusive).
    var startBound: ([UInt8], Bool)? {
        if reverse {
            if let lt, let lte { return compareBytes(lt, lte) <= 0 ? (lt, false) : (lte, true) }
            if let lt { return (lt, false) }
            if let lte { return (lte, true) }
        } else {
            if let gt, let gte { return compareBytes(gt, gte) >= 0 ? (gt, false) : (gte, true) }
            if let gt { return (gt, false) }
            if let gte { return (gte, true) }
        }
        return nil
    }
}

/// A streaming range over one version of the tree. Nodes are loaded as the iteration reaches them; nothing is
/// materialised beyond the current root-to-leaf path.
public struct TreeRange: AsyncSequence, Sendable {
    public typealias Element = TreeEntry

    let store: TreeStore
    let version: UInt64
    let options: RangeOptions
    let trace: QueryTrace?

    public func makeAsyncIterator() -> Iterator {
        Iterator(cursor: RangeCursor(store: store, version: version, options: options, trace: trace))
    }

    /// Collects the whole range (convenience for small ranges and tests).
    public nonisolated(nonsending) func collect() async throws -> [TreeEntry] {
        var out: [TreeEntry] = []
        for try await e in self { out.append(e) }
        return out
    }

    /// The iterator (a handle on a cursor; the cursor is not shared between iterators).
    public struct Iterator: AsyncIteratorProtocol {
        let cursor: RangeCursor

        /// Runs on the caller's executor (no hop per element when iterated from an actor).
        public mutating func next(isolation actor: isolated (any Actor)?) async throws -> TreeEntry? {
            try await cursor.advance()
        }

        public mutating nonisolated(nonsending) func next() async throws -> TreeEntry? { try await cursor.advance() }

        nonisolated(nonsending) func advance() async throws -> TreeEntry? { try await cursor.advance() }
    }
}

/// Iteration state over one version: the root-to-leaf path with a position in each node. Positions interleave
/// children and keys: 2i = child i, 2i+1 = key i.
final class RangeCursor {
    let store: TreeStore
    let version: UInt64
    let reverse: Bool
    let startBound: ([UInt8], Bool)?
    /// The bound checked as entries are emitted (upper when forward, lower when reverse), with both of its forms.
    let stopExclusive: [UInt8]?
    let stopInclusive: [UInt8]?
    let trace: QueryTrace?
    // The cursor is owned by one iterator and never shared, so dynamic exclusivity checks are unnecessary.
    @exclusivity(unchecked) var nodes: [ResolvedNode] = []
    @exclusivity(unchecked) var positions: [Int] = []
    @exclusivity(unchecked) var opened = false
    @exclusivity(unchecked) var remaining: Int

    init(store: TreeStore, version: UInt64, options: RangeOptions, trace: QueryTrace?) {
        self.store = store
        self.version = version
        self.reverse = options.reverse
        self.startBound = options.startBound
        self.stopExclusive = options.reverse ? options.gt : options.lt
        self.stopInclusive = options.reverse ? options.gte : options.lte
        self.trace = trace
        self.remaining = options.limit ?? -1
        nodes.reserveCapacity(16)
        positions.reserveCapacity(16)
    }

    /// Whether `key` is past the stop bound.
    @inline(__always) private func pastStop(_ key: [UInt8]) -> Bool {
        if let x = stopExclusive {
            let c = compareBytes(key, x)
            if reverse ? c <= 0 : c >= 0 { return true }
        }
        if let x = stopInclusive {
            let c = compareBytes(key, x)
            if reverse ? c < 0 : c > 0 { return true }
        }
        return false
    }

    @inline(__always) private func push(_ node: ResolvedNode, _ pos: Int) {
        nodes.append(node)
        positions.append(pos)
    }

    private nonisolated(nonsending) func open() async throws {
        opened = true
        guard var node = try await store.rootNode(version: version, trace: trace) else { return }
        guard let (bound, inclusive) = startBound else {
            push(node, reverse ? 2 * node.keyCount : 0)
            return
        }
        for _ in 0..<TreeStore.maxDepth {
            // First index whose key is >= bound.
            var s = 0
            var e = node.keyCount
            var equal = false
            if store.batchesFetches {
                await store.prefetchNode(node, children: !node.isLeaf, version: version, trace: trace)
            }
            while s < e {
                let mid = (s + e) >> 1
                let c = compareBytes(try await store.keyBlock(node, mid, version: version, trace: trace).key, bound)
                if c == 0 {
                    s = mid
                    equal = true
                    break
                }
                if c < 0 { s = mid + 1 } else { e = mid }
            }
            let i = s
            if equal {
                push(node, inclusive ? 2 * i + 1 : (reverse ? 2 * i : 2 * i + 2))
                return
            }
            if node.isLeaf {
                push(node, 2 * i)
                return
            }
            push(node, reverse ? 2 * i - 1 : 2 * i + 1)
            node = try await store.child(node, i, version: version, trace: trace)
        }
        throw TreeError.tooDeep(limit: TreeStore.maxDepth)
    }

    nonisolated(nonsending) func advance() async throws -> TreeEntry? {
        if !opened { try await open() }
        while remaining != 0, !nodes.isEmpty {
            let top = nodes.count - 1
            let node = nodes[top]
            let p = positions[top]
            if p < 0 || p > 2 * node.keyCount {
                nodes.removeLast()
                positions.removeLast()
                continue
            }
            positions[top] = reverse ? p - 1 : p + 1
            if p & 1 == 0 {
                if node.isLeaf { continue }
                guard nodes.count < TreeStore.maxDepth else { throw TreeError.tooDeep(limit: TreeStore.maxDepth) }
                var c: ResolvedNode
                if trace == nil, let hit = store.cachedChild(node, p >> 1) {
                    c = hit
                } else {
                    c = try await store.child(node, p >> 1, version: version, trace: trace)
                }
                // A scan reads every entry of a node anyway: make it packed for this and later scans.
                if trace == nil, !c.isPacked, let up = store.upgradedLeaf(c) { c = up }
                push(c, reverse ? 2 * c.keyCount : 0)
                continue
            }
            if node.isPacked {
                let e = node.packedEntry(p >> 1)
                if pastStop(e.key) {
                    nodes.removeAll()
                    positions.removeAll()
                    return nil
                }
                if remaining > 0 { remaining -= 1 }
                trace?.touch(e.seq)
                return e
            }
            let b: DecodedBlock
            if trace == nil, let hit = node.keyBlocks[p >> 1] {
                b = hit
            } else {
                if store.batchesFetches, store.keyMissing(node, p >> 1, version: version) {
                    // A scan reads the node's keys in order: fetch the rest of them together.
                    await store.prefetchNode(node, children: false, version: version, trace: trace)
                }
                b = try await store.keyBlock(node, p >> 1, version: version, trace: trace)
            }
            if pastStop(b.key) {
                nodes.removeAll()
                positions.removeAll()
                return nil
            }
            if remaining > 0 { remaining -= 1 }
            return TreeEntry(seq: b.seq, key: b.key, value: b.value)
        }
        nodes.removeAll()
        positions.removeAll()
        return nil
    }
}
