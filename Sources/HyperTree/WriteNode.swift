/// Mutable, copy-on-write node used while building a write (a put, a del or a batch). Mirrors the Hyperbee
/// algorithm exactly so the emitted blocks are byte-identical to the JavaScript implementation.

let minKeys = 4  // T - 1 with T = 5
let maxChildren = 9  // 2 * minKeys + 1

/// A key slot: the seq of the block holding the key, and its bytes once loaded.
struct WKey {
    var seq: UInt64
    var bytes: [UInt8]?
}

/// A child slot. A class on purpose: the same pointer object is shared by the parent node and by the pending
/// index of the block that wrote it, so renumbering it at flush time updates both.
final class WChild {
    var seq: UInt64
    var offset: UInt64
    var node: WNode?

    init(seq: UInt64, offset: UInt64, node: WNode?) {
        self.seq = seq
        self.offset = offset
        self.node = node
    }
}

final class WNode {
    var keys: [WKey]
    var children: [WChild]
    var changed: Bool

    init(keys: [WKey], children: [WChild], changed: Bool) {
        self.keys = keys
        self.children = children
        self.changed = changed
    }

    /// A node loaded from a committed block's index level.
    convenience init(level: IndexLevel, owner: DecodedBlock) {
        var keys: [WKey] = []
        keys.reserveCapacity(maxChildren)
        for k in level.keys { keys.append(WKey(seq: k, bytes: k == owner.seq ? owner.key : nil)) }
        var children: [WChild] = []
        if !level.children.isEmpty {
            children.reserveCapacity(maxChildren + 1)
            var i = 0
            while i < level.children.count {
                children.append(WChild(seq: level.children[i], offset: level.children[i + 1], node: nil))
                i += 2
            }
        }
        self.init(keys: keys, children: children, changed: false)
    }

    /// A node loaded from a searchable committed node (key bytes pre-filled where they were local).
    convenience init(resolved r: ResolvedNode) {
        var keys: [WKey] = []
        keys.reserveCapacity(maxChildren)
        for i in 0..<r.keySeqs.count { keys.append(WKey(seq: r.keySeqs[i], bytes: r.keyBlocks[i]?.key)) }
        var children: [WChild] = []
        if !r.children.isEmpty {
            children.reserveCapacity(maxChildren + 1)
            var i = 0
            while i < r.children.count {
                children.append(WChild(seq: r.children[i], offset: r.children[i + 1], node: nil))
                i += 2
            }
        }
        self.init(keys: keys, children: children, changed: false)
    }

    static func fresh() -> WNode { WNode(keys: [], children: [], changed: true) }

    /// Assigns (seq, offset) to this node and every changed descendant, appending them to `index` in pre-order.
    func indexChanges(_ index: inout [WChild?], seq: UInt64) -> UInt64 {
        let offset = UInt64(index.count)
        index.append(nil)
        changed = false
        for child in children {
            guard let n = child.node, n.changed else { continue }
            child.seq = seq
            child.offset = n.indexChanges(&index, seq: seq)
            index[Int(child.offset)] = child
        }
        return offset
    }

    /// Unlinks every loaded child that was not written at or after seq `base` (keeps the nodes a batch starting at
    /// `base` wrote).
    func prune(writtenFrom base: UInt64) {
        for c in children {
            guard let n = c.node else { continue }
            if c.seq >= base { n.prune(writtenFrom: base) } else { c.node = nil }
        }
    }

    func removeKey(_ i: Int) {
        keys.remove(at: i)
        if !children.isEmpty {
            children[i + 1].seq = 0  // freed: drops it from any pending block that still lists it
            children.remove(at: i + 1)
        }
        changed = true
    }

    func merge(_ other: WNode, median: WKey) {
        changed = true
        keys.append(median)
        keys.append(contentsOf: other.keys)
        children.append(contentsOf: other.children)
    }

    func split() -> (median: WKey, right: WNode) {
        let len = keys.count >> 1
        let right = WNode.fresh()
        right.keys = Array(keys[(keys.count - len)...])
        keys.removeLast(len)
        let median = keys.removeLast()
        if !children.isEmpty {
            right.children = Array(children[(children.count - len - 1)...])
            children.removeLast(len + 1)
        }
        changed = true
        return (median, right)
    }

    /// The YoloIndex level for this node with the pointers' current numbering.
    var level: IndexLevel {
        var ks: [UInt64] = []
        ks.reserveCapacity(keys.count)
        for k in keys { ks.append(k.seq) }
        var cs: [UInt64] = []
        cs.reserveCapacity(children.count * 2)
        for c in children {
            cs.append(c.seq)
            cs.append(c.offset)
        }
        return IndexLevel(keys: ks, children: cs)
    }
}

/// The B-tree nodes written by the last committed batch, kept in memory (keys loaded, child links resolved) so the
/// next batch starts from them instead of rebuilding its upper levels from the caches. Bounded: only the nodes the
/// last batch wrote are linked; older links are cut at commit. A batch takes the tree when it starts, so a batch that
/// fails (after editing nodes in place) leaves nothing behind.
final class RetainedWriteTree: @unchecked Sendable {
    // Invariant: only touched by the holder of `TreeStore.writeLock`.
    private var root: WNode?
    private var version: UInt64 = 0
    private var writtenFrom: UInt64 = 0

    /// The retained root if it is the root at `version` (the current log length), with the first seq of the batch
    /// that wrote the retained nodes; clears it either way.
    func take(version: UInt64) -> (root: WNode, writtenFrom: UInt64)? {
        defer { root = nil }
        guard self.version == version, let root else { return nil }
        return (root, writtenFrom)
    }

    /// Keeps `root`, the tree at `version`, after unlinking every node not written at or after `writtenFrom`.
    func keep(_ root: WNode, version: UInt64, writtenFrom: UInt64) {
        root.prune(writtenFrom: writtenFrom)
        self.root = root
        self.version = version
        self.writtenFrom = writtenFrom
    }
}
