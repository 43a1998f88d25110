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
        Iterator(store: store, version: version, options: options, trace: trace)
    }

    /// Collects the whole range (convenience for small ranges and tests).
    public func collect() async throws -> [TreeEntry] {
        var out: [TreeEntry] = []
        for try await e in self { out.append(e) }
        return out
    }

    /// The iterator. Positions in a node interleave children and keys: 2i = child i, 2i+1 = key i.
    public struct Iterator: AsyncIteratorProtocol {
        struct Frame {
            let owner: DecodedBlock
            let level: IndexLevel
            var pos: Int
        }

        let store: TreeStore
        let version: UInt64
        let options: RangeOptions
        let trace: QueryTrace?
        var stack: [Frame] = []
        var opened = false
        var remaining: Int

        init(store: TreeStore, version: UInt64, options: RangeOptions, trace: QueryTrace?) {
            self.store = store
            self.version = version
            self.options = options
            self.trace = trace
            self.remaining = options.limit ?? -1
        }

        @inline(__always) private func block(_ seq: UInt64) async throws -> DecodedBlock {
            if trace == nil, let b = store.cachedBlock(seq, version: version) { return b }
            return try await store.block(seq, version: version, trace: trace)
        }

        private func child(_ f: Frame, _ i: Int) async throws -> (DecodedBlock, IndexLevel) {
            try await store.node(
                seq: f.level.children[2 * i], offset: f.level.children[2 * i + 1], parentSeq: f.owner.seq,
                version: version, trace: trace)
        }

        private func keyBytes(_ owner: DecodedBlock, _ level: IndexLevel, _ i: Int) async throws -> [UInt8] {
            let ks = level.keys[i]
            if ks == owner.seq { return owner.key }
            guard ks < owner.seq else {
                throw TreeError.badPointer(seq: owner.seq, reason: "key points forward to block \(ks)")
            }
            return try await block(ks).key
        }

        private mutating func open() async throws {
            opened = true
            guard var (owner, level) = try await store.root(version: version, trace: trace) else { return }
            let reverse = options.reverse
            guard let (bound, inclusive) = options.startBound else {
                stack.append(Frame(owner: owner, level: level, pos: reverse ? 2 * level.keys.count : 0))
                return
            }
            for _ in 0..<TreeStore.maxDepth {
                // First index whose key is >= bound.
                var s = 0
                var e = level.keys.count
                var equal = false
                while s < e {
                    let mid = (s + e) >> 1
                    let c = compareBytes(try await keyBytes(owner, level, mid), bound)
                    if c == 0 {
                        s = mid
                        equal = true
                        break
                    }
                    if c < 0 { s = mid + 1 } else { e = mid }
                }
                let i = s
                if equal {
                    let pos = inclusive ? 2 * i + 1 : (reverse ? 2 * i : 2 * i + 2)
                    stack.append(Frame(owner: owner, level: level, pos: pos))
                    return
                }
                if level.isLeaf {
                    stack.append(Frame(owner: owner, level: level, pos: 2 * i))
                    return
                }
                let f = Frame(owner: owner, level: level, pos: reverse ? 2 * i - 1 : 2 * i + 1)
                stack.append(f)
                (owner, level) = try await child(f, i)
            }
            throw TreeError.tooDeep(limit: TreeStore.maxDepth)
        }

        public mutating func next() async throws -> TreeEntry? {
            if !opened { try await open() }
            let reverse = options.reverse
            while remaining != 0, !stack.isEmpty {
                let top = stack.count - 1
                let p = stack[top].pos
                let n = stack[top].level.keys.count
                if p < 0 || p > 2 * n {
                    stack.removeLast()
                    continue
                }
                stack[top].pos = reverse ? p - 1 : p + 1
                if p & 1 == 0 {
                    if stack[top].level.isLeaf { continue }
                    guard stack.count < TreeStore.maxDepth else { throw TreeError.tooDeep(limit: TreeStore.maxDepth) }
                    let (owner, level) = try await child(stack[top], p >> 1)
                    stack.append(Frame(owner: owner, level: level, pos: reverse ? 2 * level.keys.count : 0))
                    continue
                }
                let f = stack[top]
                let ks = f.level.keys[p >> 1]
                let b: DecodedBlock
                if ks == f.owner.seq {
                    b = f.owner
                    trace?.touch(ks)
                } else {
                    guard ks < f.owner.seq else {
                        throw TreeError.badPointer(seq: f.owner.seq, reason: "key points forward to block \(ks)")
                    }
                    b = try await block(ks)
                }
                if reverse ? !options.aboveLower(b.key) : !options.belowUpper(b.key) {
                    stack.removeAll()
                    return nil
                }
                if remaining > 0 { remaining -= 1 }
                return TreeEntry(seq: b.seq, key: b.key, value: b.value)
            }
            stack.removeAll()
            return nil
        }
    }
}
