/// An atomic group of writes. Reads inside the batch see its pending writes. Created by `HyperTree.batch(_:)`,
/// which holds the tree's write lock for the batch's lifetime and appends all blocks in one log append.
public final class TreeBatch {
    struct Pending {
        let key: [UInt8]
        let value: [UInt8]?
        var index: [WChild?]
    }

    let store: TreeStore
    /// Log length when the batch started; pending block i gets seq `baseLength + i`.
    let baseLength: UInt64
    var pending: [Pending] = []
    private var root: WNode?
    var closed = false

    /// Room reserved for one block's pending index (the changed path of a put, plus splits), so it never regrows.
    static let indexCapacity = 16

    init(store: TreeStore, baseLength: UInt64) {
        self.store = store
        self.baseLength = baseLength
    }

    /// Block count of a committed batch whose nodes were taken (see `takeNodes`).
    private var committedCount: Int?

    /// Number of blocks this batch will append.
    public var count: Int { committedCount ?? pending.count }
    /// The version the tree will have after this batch.
    public var version: UInt64 { baseLength + UInt64(count) }

    // MARK: reads over in-memory nodes

    private nonisolated(nonsending) func rootNode() async throws -> WNode? {
        if let root { return root }
        guard let r = try await store.rootNode(version: baseLength, trace: nil) else { return nil }
        let n = WNode(resolved: r)
        root = n
        return n
    }

    /// Key bytes of key `i` when they need no I/O: already loaded, written by this batch, or in the block cache.
    /// The synchronous fast path of the binary searches (no suspension point, no error path).
    @inline(__always) private func loadedKey(_ node: WNode, _ i: Int) -> [UInt8]? {
        if let b = node.keys[i].bytes { return b }
        let seq = node.keys[i].seq
        let bytes: [UInt8]
        if seq >= baseLength {
            let p = Int(seq - baseLength)
            guard p < pending.count else { return nil }
            bytes = pending[p].key
        } else if let b = store.cachedBlock(seq, version: baseLength) {
            bytes = b.key
        } else {
            return nil
        }
        node.keys[i].bytes = bytes
        return bytes
    }

    /// Compares `key` with key `i` of `node`, loading the key's block if needed.
    @inline(__always) private nonisolated(nonsending) func compare(_ key: [UInt8], _ node: WNode, _ i: Int)
        async throws -> Int
    {
        if let b = loadedKey(node, i) { return compareBytes(key, b) }
        return compareBytes(key, try await keyBytes(node, i))
    }

    private nonisolated(nonsending) func keyBytes(_ node: WNode, _ i: Int) async throws -> [UInt8] {
        if let b = node.keys[i].bytes { return b }
        let seq = node.keys[i].seq
        let bytes: [UInt8]
        if seq >= baseLength {
            let p = Int(seq - baseLength)
            guard p < pending.count else {
                throw TreeError.badPointer(seq: seq, reason: "key points past the batch")
            }
            bytes = pending[p].key
        } else if let b = store.cachedBlock(seq, version: baseLength) {
            bytes = b.key
        } else {
            bytes = try await store.block(seq, version: baseLength, trace: nil).key
        }
        node.keys[i].bytes = bytes
        return bytes
    }

    private nonisolated(nonsending) func childNode(_ node: WNode, _ i: Int) async throws -> WNode {
        let c = node.children[i]
        if let n = c.node { return n }
        if c.seq >= baseLength {
            let p = Int(c.seq - baseLength)
            guard p < pending.count, c.offset < UInt64(pending[p].index.count),
                let n = pending[p].index[Int(c.offset)]?.node
            else { throw TreeError.badPointer(seq: c.seq, reason: "child points past the batch") }
            c.node = n
            return n
        }
        // Prefer a cached searchable node (keys already resolved); otherwise decode lazily: a write only needs
        // the few keys its binary search compares.
        let n: WNode
        if c.seq >= 1, let ck = ResolvedNode.cacheKey(seq: c.seq, offset: c.offset), let r = store.nodes.get(ck) {
            n = WNode(resolved: r)
        } else {
            let (b, level) = try await store.node(
                seq: c.seq, offset: c.offset, parentSeq: baseLength, version: baseLength, trace: nil)
            n = WNode(level: level, owner: b)
        }
        c.node = n
        return n
    }

    private nonisolated(nonsending) func entry(seq: UInt64) async throws -> TreeEntry {
        if seq >= baseLength {
            let p = Int(seq - baseLength)
            guard p < pending.count else { throw TreeError.badPointer(seq: seq, reason: "entry past the batch") }
            return TreeEntry(seq: seq, key: pending[p].key, value: pending[p].value)
        }
        return try await store.block(seq, version: baseLength, trace: nil).entry
    }

    /// Lookup that sees this batch's pending writes.
    public nonisolated(nonsending) func get(_ key: [UInt8]) async throws -> TreeEntry? {
        // A committed batch's nodes now belong to the tree's next batch (see `RetainedWriteTree`).
        guard !closed else { throw TreeError.batchClosed }
        guard var node = try await rootNode() else { return nil }
        for _ in 0..<TreeStore.maxDepth {
            var s = 0
            var e = node.keys.count
            while s < e {
                let mid = (s + e) >> 1
                let c = try await compare(key, node, mid)
                if c == 0 { return try await entry(seq: node.keys[mid].seq) }
                if c < 0 { e = mid } else { s = mid + 1 }
            }
            if node.children.isEmpty { return nil }
            node = try await childNode(node, s)
        }
        throw TreeError.tooDeep(limit: TreeStore.maxDepth)
    }

    // MARK: writes

    /// Inserts or replaces `key`. With `cas`, writes only if `cas(previous, next)` returns true.
    /// Returns whether a block was added.
    @discardableResult
    public nonisolated(nonsending) func put(
        _ key: [UInt8], _ value: [UInt8]?, cas: ((TreeEntry?, TreeEntry) -> Bool)? = nil
    ) async throws
        -> Bool
    {
        guard !closed else { throw TreeError.batchClosed }
        let seq = version
        if let cas {
            let prev = try await get(key)
            if !cas(prev, TreeEntry(seq: seq, key: key, value: value)) { return false }
        }
        let target = WKey(seq: seq, bytes: key)
        var root = try await rootNode() ?? WNode.fresh()
        var node = root
        var stack: [WNode] = []
        stack.reserveCapacity(TreeBatch.indexCapacity)
        var depth = 0
        while !node.children.isEmpty {
            depth += 1
            guard depth < TreeStore.maxDepth else { throw TreeError.tooDeep(limit: TreeStore.maxDepth) }
            stack.append(node)
            node.changed = true
            var s = 0
            var e = node.keys.count
            while s < e {
                let mid = (s + e) >> 1
                let c = try await compare(key, node, mid)
                if c == 0 {
                    node.keys[mid] = target
                    node.changed = true
                    record(root: root, seq: seq, key: key, value: value)
                    return true
                }
                if c < 0 { e = mid } else { s = mid + 1 }
            }
            node = try await childNode(node, s)
        }

        var needsSplit = !(try await insertKey(node, target, child: nil))
        while needsSplit {
            let parent = stack.popLast()
            _ = try await keyBytes(node, node.keys.count - (node.keys.count >> 1) - 1)  // load the median's bytes
            let (median, right) = node.split()
            if let parent {
                needsSplit = !(try await insertKey(parent, median, child: right))
                node = parent
            } else {
                root = WNode(
                    keys: [median],
                    children: [WChild(seq: 0, offset: 0, node: node), WChild(seq: 0, offset: 0, node: right)],
                    changed: true)
                needsSplit = false
            }
        }
        record(root: root, seq: seq, key: key, value: value)
        return true
    }

    /// Removes `key`. With `cas`, removes only if `cas(previous)` returns true. Returns whether a block was added
    /// (false when the key is absent).
    @discardableResult
    public nonisolated(nonsending) func del(_ key: [UInt8], cas: ((TreeEntry) -> Bool)? = nil) async throws -> Bool {
        guard !closed else { throw TreeError.batchClosed }
        guard var node = try await rootNode() else { return false }
        let seq = version
        var stack: [WNode] = []
        for _ in 0..<TreeStore.maxDepth {
            stack.append(node)
            var s = 0
            var e = node.keys.count
            while s < e {
                let mid = (s + e) >> 1
                let c = try await compare(key, node, mid)
                if c == 0 {
                    if let cas, !cas(try await entry(seq: node.keys[mid].seq)) { return false }
                    if !node.children.isEmpty {
                        try await setKeyToNearestLeaf(node, mid, &stack)
                    } else {
                        node.removeKey(mid)
                    }
                    for n in stack { n.changed = true }
                    let newRoot = try await rebalance(&stack)
                    record(root: newRoot, seq: seq, key: key, value: nil)
                    return true
                }
                if c < 0 { e = mid } else { s = mid + 1 }
            }
            if node.children.isEmpty { return false }
            node = try await childNode(node, s)
        }
        throw TreeError.tooDeep(limit: TreeStore.maxDepth)
    }

    private nonisolated(nonsending) func insertKey(_ node: WNode, _ key: WKey, child: WNode?) async throws -> Bool {
        guard let kb = key.bytes else { throw TreeError.badPointer(seq: key.seq, reason: "unloaded key") }
        var s = 0
        var e = node.keys.count
        while s < e {
            let mid = (s + e) >> 1
            let c = try await compare(kb, node, mid)
            if c == 0 {
                node.changed = true
                node.keys[mid] = key
                return true
            }
            if c < 0 { e = mid } else { s = mid + 1 }
        }
        node.keys.insert(key, at: s)
        if let child { node.children.insert(WChild(seq: 0, offset: 0, node: child), at: s + 1) }
        node.changed = true
        return node.keys.count < maxChildren
    }

    private nonisolated(nonsending) func leafSize(_ start: WNode, goLeft: Bool) async throws -> Int {
        var node = start
        for _ in 0..<TreeStore.maxDepth {
            if node.children.isEmpty { return node.keys.count }
            node = try await childNode(node, goLeft ? 0 : node.children.count - 1)
        }
        throw TreeError.tooDeep(limit: TreeStore.maxDepth)
    }

    private nonisolated(nonsending) func setKeyToNearestLeaf(_ node: WNode, _ index: Int, _ stack: inout [WNode])
        async throws
    {
        var left = try await childNode(node, index)
        var right = try await childNode(node, index + 1)
        let ls = try await leafSize(left, goLeft: false)
        let rs = try await leafSize(right, goLeft: true)
        if ls < rs {
            stack.append(right)
            while !right.children.isEmpty {
                right = try await childNode(right, 0)
                stack.append(right)
            }
            node.keys[index] = right.keys.removeFirst()
        } else {
            stack.append(left)
            while !left.children.isEmpty {
                left = try await childNode(left, left.children.count - 1)
                stack.append(left)
            }
            node.keys[index] = left.keys.removeLast()
        }
    }

    private nonisolated(nonsending) func rebalance(_ stack: inout [WNode]) async throws -> WNode {
        let root = stack[0]
        while stack.count > 1 {
            let node = stack.removeLast()
            let parent = stack[stack.count - 1]
            if node.keys.count >= minKeys { return root }

            guard let i = parent.children.firstIndex(where: { $0.node === node }) else {
                throw TreeError.badPointer(seq: 0, reason: "rebalance lost a parent link")
            }
            var left: WNode? = i > 0 ? try await childNode(parent, i - 1) : nil
            var right: WNode? = i < parent.children.count - 1 ? try await childNode(parent, i + 1) : nil

            if let l = left, l.keys.count > minKeys {
                l.changed = true
                node.keys.insert(parent.keys[i - 1], at: 0)
                if !l.children.isEmpty { node.children.insert(l.children.removeLast(), at: 0) }
                parent.keys[i - 1] = l.keys.removeLast()
                return root
            }
            if let r = right, r.keys.count > minKeys {
                r.changed = true
                node.keys.append(parent.keys[i])
                if !r.children.isEmpty { node.children.append(r.children.removeFirst()) }
                parent.keys[i] = r.keys.removeFirst()
                return root
            }
            var index = i
            if left != nil {
                index -= 1
                right = node
            } else {
                left = node
            }
            guard let l = left, let r = right else {
                throw TreeError.badPointer(seq: 0, reason: "inner node with a single child")
            }
            l.merge(r, median: parent.keys[index])
            parent.removeKey(index)
        }
        if root.keys.isEmpty && !root.children.isEmpty { return try await childNode(root, 0) }
        return root
    }

    private func record(root: WNode, seq: UInt64, key: [UInt8], value: [UInt8]?) {
        var index: [WChild?] = []
        index.reserveCapacity(TreeBatch.indexCapacity)
        _ = root.indexChanges(&index, seq: seq)
        index[0] = WChild(seq: seq, offset: 0, node: root)
        self.root = root
        pending.append(Pending(key: key, value: value, index: index))
    }

    // MARK: flush

    /// Starts this batch from the in-memory nodes the previous batch wrote (see `RetainedWriteTree`); `root` must
    /// be the root of the tree at `baseLength`.
    func adopt(root: WNode, writtenFrom: UInt64) {
        precondition(self.root == nil && pending.isEmpty, "adopt on a started batch")
        self.root = root
        adoptedFrom = writtenFrom
    }

    /// First seq of the batch that wrote the adopted nodes (nil when the batch did not adopt any).
    private(set) var adoptedFrom: UInt64?

    /// Moves the pending blocks out of a committed batch and returns them with the root; the count and version stay
    /// as they were.
    func takeNodes() -> (pending: [Pending], root: WNode?) {
        precondition(closed, "takeNodes on an open batch")
        committedCount = pending.count
        let taken = (pending, root)
        pending = []
        return taken
    }

    /// Encodes the pending blocks: every block but the last drops the root and keeps only the nodes it still owns
    /// (renumbered), exactly as Hyperbee's batch flush does. Returns each block's index levels too (built once per
    /// node, they serve both the encoding and the cache warm). Consumes the pending indexes (the batch is closed).
    func encode() -> (raw: [[UInt8]], levels: [[IndexLevel]]) {
        var raw: [[UInt8]] = []
        var allLevels: [[IndexLevel]] = []
        raw.reserveCapacity(pending.count)
        allLevels.reserveCapacity(pending.count)
        let last = pending.count - 1
        var idx: [WChild?] = []
        for i in 0..<pending.count {
            let seq = baseLength + UInt64(i)
            idx.removeAll(keepingCapacity: true)
            swap(&idx, &pending[i].index)  // take the index without a copy-on-write copy
            if i < last {
                idx[0] = nil
                var j = 0
                while j < idx.count {
                    if let c = idx[j], c.seq == seq {
                        c.offset = UInt64(j)
                        j += 1
                        continue
                    }
                    if j == idx.count - 1 {
                        idx.removeLast()
                    } else {
                        idx[j] = idx.removeLast()
                    }
                }
            }
            var levels: [IndexLevel] = []
            levels.reserveCapacity(idx.count)
            for c in idx { if let n = c?.node { levels.append(n.level) } }
            raw.append(NodeMessage.encode(levels: levels, key: pending[i].key, value: pending[i].value))
            allLevels.append(levels)
        }
        return (raw, allLevels)
    }

    /// The decoded form of pending block `i` (for the cache).
    func decodedBlock(_ i: Int) -> DecodedBlock {
        DecodedBlock(seq: baseLength + UInt64(i), key: pending[i].key, value: pending[i].value)
    }
}
