/// One key that differs between two versions: its entry in the old version and in the new one (nil = absent).
public struct TreeDiffEntry: Sendable, Equatable {
    public let key: [UInt8]
    public let old: TreeEntry?
    public let new: TreeEntry?
}

/// Walks one version of the tree as a sequence of items (whole subtrees or single keys) that can be expanded on
/// demand, so two versions can be compared while skipping subtrees they share.
struct DiffCursor {
    enum Item {
        case subtree(seq: UInt64, offset: UInt64, lower: [UInt8]?, upper: [UInt8]?)
        case key(DecodedBlock)
    }

    struct Frame {
        let owner: DecodedBlock
        let level: IndexLevel
        let lower: [UInt8]?
        let upper: [UInt8]?
        var pos: Int
    }

    let store: TreeStore
    let version: UInt64
    let range: RangeOptions
    let trace: QueryTrace?
    var stack: [Frame] = []
    var current: Item?

    init(store: TreeStore, version: UInt64, range: RangeOptions, trace: QueryTrace?) {
        self.store = store
        self.version = version
        self.range = range
        self.trace = trace
    }

    nonisolated(nonsending) mutating func open() async throws {
        if let (b, l) = try await store.root(version: version, trace: trace) {
            stack.append(Frame(owner: b, level: l, lower: nil, upper: nil, pos: 0))
        }
    }

    private nonisolated(nonsending) func keyBlock(_ f: Frame, _ i: Int) async throws -> DecodedBlock {
        let ks = f.level.keys[i]
        if ks == f.owner.seq { return f.owner }
        guard ks < f.owner.seq else {
            throw TreeError.badPointer(seq: f.owner.seq, reason: "key points forward to block \(ks)")
        }
        return try await store.block(ks, version: version, trace: trace)
    }

    /// The next item in key order that can intersect the range, or nil at the end.
    nonisolated(nonsending) mutating func peek() async throws -> Item? {
        if let current { return current }
        while !stack.isEmpty {
            let top = stack.count - 1
            let f = stack[top]
            let p = f.pos
            let n = f.level.keys.count
            if p > 2 * n {
                stack.removeLast()
                continue
            }
            if p & 1 == 1 {
                let blk = try await keyBlock(f, p >> 1)
                if !range.belowUpper(blk.key) {
                    stack.removeAll()
                    return nil
                }
                if !range.aboveLower(blk.key) {
                    stack[top].pos += 1
                    continue
                }
                current = .key(blk)
                return current
            }
            if f.level.isLeaf {
                stack[top].pos += 1
                continue
            }
            let i = p >> 1
            let lower = i > 0 ? try await keyBlock(f, i - 1).key : f.lower
            let upper = i < n ? try await keyBlock(f, i).key : f.upper
            // Skip subtrees wholly outside the range.
            if let upper, !rangeMayStartBelow(upper) {
                stack[top].pos += 1
                continue
            }
            if let lower, !range.belowUpper(lower) {
                stack.removeAll()
                return nil
            }
            current = .subtree(
                seq: f.level.children[2 * i], offset: f.level.children[2 * i + 1], lower: lower, upper: upper)
            return current
        }
        return nil
    }

    /// Every key in a subtree is strictly below its upper bound; it can intersect the range only if the range's
    /// lower bound is below that upper bound.
    private func rangeMayStartBelow(_ upper: [UInt8]) -> Bool {
        if let gt = range.gt, compareBytes(gt, upper) >= 0 { return false }
        if let gte = range.gte, compareBytes(gte, upper) >= 0 { return false }
        return true
    }

    /// Moves past the current item.
    mutating func skip() {
        current = nil
        if !stack.isEmpty { stack[stack.count - 1].pos += 1 }
    }

    /// Descends into the current subtree item.
    nonisolated(nonsending) mutating func expand() async throws {
        guard case .subtree(let seq, let offset, let lower, let upper) = current else { return }
        let parent = stack[stack.count - 1]
        skip()
        guard stack.count < TreeStore.maxDepth else { throw TreeError.tooDeep(limit: TreeStore.maxDepth) }
        let (b, l) = try await store.node(
            seq: seq, offset: offset, parentSeq: parent.owner.seq, version: version, trace: trace)
        stack.append(Frame(owner: b, level: l, lower: lower, upper: upper, pos: 0))
    }
}

/// Compares upper bounds where nil means "no bound" (+infinity).
private func compareUpper(_ a: [UInt8]?, _ b: [UInt8]?) -> Int {
    switch (a, b) {
    case (nil, nil): return 0
    case (nil, _): return 1
    case (_, nil): return -1
    case (let x?, let y?): return compareBytes(x, y)
    }
}

extension HyperTree {
    /// The keys that differ between versions `from` and `to` (in key order, within `range`, at most `limit`).
    /// Subtrees the two versions share (same block and offset) are skipped without being read.
    public nonisolated(nonsending) func diff(
        from: UInt64, to: UInt64, range: RangeOptions = RangeOptions(), limit: Int? = nil, trace: QueryTrace? = nil
    ) async throws -> [TreeDiffEntry] {
        let length = store.log.length
        guard from <= length, to <= length else {
            throw TreeError.versionOutOfRange(requested: max(from, to), length: length)
        }
        var a = DiffCursor(store: store, version: from, range: range, trace: trace)
        var b = DiffCursor(store: store, version: to, range: range, trace: trace)
        try await a.open()
        try await b.open()
        var out: [TreeDiffEntry] = []
        let max = limit ?? Int.max
        var steps = 0
        while out.count < max {
            steps += 1
            let l = try await a.peek()
            let r = try await b.peek()
            switch (l, r) {
            case (nil, nil):
                return out
            case (nil, .subtree?):
                try await b.expand()
            case (nil, .key(let kb)?):
                out.append(TreeDiffEntry(key: kb.key, old: nil, new: kb.entry))
                b.skip()
            case (.subtree?, nil):
                try await a.expand()
            case (.key(let ka)?, nil):
                out.append(TreeDiffEntry(key: ka.key, old: ka.entry, new: nil))
                a.skip()
            case (.subtree(let s1, let o1, _, let u1)?, .subtree(let s2, let o2, _, let u2)?):
                if s1 == s2 && o1 == o2 {
                    a.skip()
                    b.skip()
                    continue
                }
                let c = compareUpper(u1, u2)
                if c <= 0 { try await b.expand() }
                if c >= 0 { try await a.expand() }
            case (.subtree?, .key?):
                try await a.expand()
            case (.key?, .subtree?):
                try await b.expand()
            case (.key(let ka)?, .key(let kb)?):
                if ka.seq == kb.seq {
                    a.skip()
                    b.skip()
                    continue
                }
                let c = compareBytes(ka.key, kb.key)
                if c == 0 {
                    out.append(TreeDiffEntry(key: ka.key, old: ka.entry, new: kb.entry))
                    a.skip()
                    b.skip()
                } else if c < 0 {
                    out.append(TreeDiffEntry(key: ka.key, old: ka.entry, new: nil))
                    a.skip()
                } else {
                    out.append(TreeDiffEntry(key: kb.key, old: nil, new: kb.entry))
                    b.skip()
                }
            }
        }
        return out
    }
}
