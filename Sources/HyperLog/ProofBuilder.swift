/// Builds proofs the way Hypercore's MerkleTree.proof does, reading nodes through `node`.
struct ProofBuilder {
    let node: (UInt64) throws -> TreeNode
    var blockNodes: [TreeNode]? = nil
    var upgradeNodes: [TreeNode]? = nil
    var additionalNodes: [TreeNode]? = nil

    /// Climbs `nodes` levels from `index`; the result must stay inside the tree of `head`.
    static func nodesToRoot(_ index: UInt64, _ nodes: UInt64, _ head: UInt64) throws -> UInt64 {
        var ite = FlatTree.Iterator(index)
        for _ in 0..<min(nodes, 62) {
            ite.parent()
            if ite.contains(head) { throw HyperLogError.invalidProof("request nodes \(nodes) out of bounds") }
        }
        return ite.index
    }

    /// The node a block or hash proof starts from: a leaf (`2 * block`, the value is sent) or any tree node
    /// (a hash proof, which sends the node itself first).
    struct Target {
        var index: UInt64
        var includeSelf: Bool
    }

    /// Siblings from `target` up to (excluding) `root`, preceded by the target node itself for hash proofs.
    mutating func blockProof(_ target: Target, root: UInt64) throws {
        var ite = FlatTree.Iterator(target.index)
        var out: [TreeNode] = []
        if target.includeSelf { out.append(try node(target.index)) }
        while ite.index != root {
            guard ite.factor < (1 << 62) else { throw HyperLogError.invalidProof("root \(root) is not an ancestor") }
            ite.sibling()
            out.append(try node(ite.index))
            ite.parent()
        }
        blockNodes = out
    }

    /// Nodes that extend a tree of `from` leaves-index to `to` (both `2 * length`), weaving in the block proof when
    /// the block lies inside the new part.
    mutating func upgradeProof(block: Target?, from: UInt64, to: UInt64, subTree: UInt64, additional: Bool) throws {
        var out: [TreeNode]? = from == 0 ? [] : nil
        var ite = FlatTree.Iterator(0)
        while ite.fullRoot(to) {
            // The requester already has this whole root.
            if ite.index + ite.factor / 2 < from {
                ite.nextTree()
                continue
            }
            // Connect the requester's existing tree to this root.
            if out == nil, from >= 2, ite.contains(from - 2) {
                out = []
                let root = ite.index
                let target = from - 2
                ite.seek(target)
                while ite.index != root {
                    ite.sibling()
                    if ite.index > target {
                        if !additional, let block, blockNodes == nil, ite.contains(subTree) {
                            try blockProof(block, root: ite.index)
                        } else {
                            out!.append(try node(ite.index))
                        }
                    }
                    ite.parent()
                }
                ite.nextTree()
                continue
            }
            if out == nil { out = [] }
            if !additional, let block, blockNodes == nil, ite.contains(subTree) {
                try blockProof(block, root: ite.index)
                ite.nextTree()
                continue
            }
            out!.append(try node(ite.index))
            ite.nextTree()
        }
        if additional { additionalNodes = out ?? [] } else { upgradeNodes = out ?? [] }
    }
}

/// Queue of proof nodes consumed in flat-tree order, with an optional already-computed node (`extra`).
struct NodeQueue {
    var nodes: [TreeNode]
    var i = 0
    var extra: TreeNode?

    init(_ nodes: [TreeNode], extra: TreeNode? = nil) {
        self.nodes = nodes
        self.extra = extra
    }

    var count: Int { nodes.count - i + (extra == nil ? 0 : 1) }

    mutating func shift(_ index: UInt64) throws -> TreeNode {
        if let e = extra, e.index == index {
            extra = nil
            return e
        }
        guard i < nodes.count else { throw HyperLogError.invalidProof("expected node \(index), proof has no more") }
        let n = nodes[i]
        guard n.index == index else { throw HyperLogError.invalidProof("expected node \(index), got \(n.index)") }
        guard n.hash.count == 32 else { throw HyperLogError.invalidProof("node \(index) hash is not 32 bytes") }
        i += 1
        return n
    }
}

/// A tree being extended by verified nodes (Hypercore's MerkleTreeBatch for proof verification).
struct TreeBatch {
    var roots: [TreeNode]
    var length: UInt64
    var byteLength: UInt64
    var nodes: [TreeNode] = []

    mutating func appendRoot(_ node: TreeNode, _ ite: inout FlatTree.Iterator) {
        length += ite.factor / 2
        byteLength += node.size
        roots.append(node)
        nodes.append(node)
        while roots.count > 1 {
            let right = roots[roots.count - 1]
            let left = roots[roots.count - 2]
            if ite.sibling() != left.index {
                ite.sibling()
                break
            }
            let p = TreeNode(
                index: ite.parent(), size: left.size + right.size, hash: HypercoreCrypto.parentHash(left, right))
            nodes.append(p)
            roots.removeLast(2)
            roots.append(p)
        }
    }
}

enum ProofVerifier {
    /// Hashes the block (or the hash proof's node) up its sibling path; returns the top node (nil when the proof has
    /// neither) and every node seen. `leafHash`, when given, is the block's leaf hash computed beforehand (batches
    /// hash their leaves together with the multi-lane kernel).
    static func verifyBlock(_ proof: Proof, leafHash: [UInt8]? = nil, nodes: inout [TreeNode]) throws -> TreeNode? {
        var ite: FlatTree.Iterator
        var root: TreeNode
        var q: NodeQueue
        if let block = proof.block {
            guard proof.hash == nil else { throw HyperLogError.invalidProof("both a block and a hash") }
            ite = FlatTree.Iterator(2 * block.index)
            root =
                leafHash.map { TreeNode(index: 2 * block.index, size: UInt64(block.value.count), hash: $0) }
                ?? TreeNode.leaf(block: block.index, data: block.value)
            q = NodeQueue(block.nodes)
        } else if let hash = proof.hash {
            guard hash.index < (1 << 62) else { throw HyperLogError.invalidProof("hash index too large") }
            ite = FlatTree.Iterator(hash.index)
            q = NodeQueue(hash.nodes)
            root = try q.shift(hash.index)
        } else {
            return nil
        }
        nodes.append(root)
        while q.count > 0 {
            guard ite.factor < (1 << 62) else { throw HyperLogError.invalidProof("block path too long") }
            let sib = try q.shift(ite.sibling())
            let (l, r) = sib.index < root.index ? (sib, root) : (root, sib)
            root = TreeNode(index: ite.parent(), size: l.size + r.size, hash: HypercoreCrypto.parentHash(l, r))
            nodes.append(sib)
            nodes.append(root)
        }
        return root
    }

    /// Extends `batch` with the upgrade's nodes; returns whether `blockRoot` was used as one of them.
    static func verifyUpgrade(_ upgrade: Proof.Upgrade, blockRoot: TreeNode?, batch: inout TreeBatch) throws -> Bool {
        var q = NodeQueue(upgrade.nodes, extra: blockRoot)
        var grow = !batch.roots.isEmpty
        var i = 0
        let (sum, overflow) = upgrade.start.addingReportingOverflow(upgrade.length)
        guard !overflow, sum < (1 << 61) else { throw HyperLogError.invalidProof("upgrade length overflows") }
        let to = 2 * sum
        var ite = FlatTree.Iterator(0)
        while ite.fullRoot(to) {
            if i < batch.roots.count && batch.roots[i].index == ite.index {
                i += 1
                ite.nextTree()
                continue
            }
            if grow {
                grow = false
                let root = ite.index
                if i < batch.roots.count {
                    ite.seek(batch.roots[batch.roots.count - 1].index)
                    var guardSteps = 0
                    while ite.index != root {
                        guardSteps += 1
                        guard guardSteps < 128 else { throw HyperLogError.invalidProof("upgrade does not connect") }
                        batch.appendRoot(try q.shift(ite.sibling()), &ite)
                    }
                    ite.nextTree()
                    continue
                }
            }
            batch.appendRoot(try q.shift(ite.index), &ite)
            ite.nextTree()
        }
        guard !batch.roots.isEmpty else { throw HyperLogError.invalidProof("upgrade yields an empty tree") }
        let extra = upgrade.additionalNodes
        ite.seek(batch.roots[batch.roots.count - 1].index)
        var j = 0
        while j < extra.count && extra[j].index == ite.sibling() {
            guard extra[j].hash.count == 32 else { throw HyperLogError.invalidProof("bad additional node") }
            batch.appendRoot(extra[j], &ite)
            j += 1
        }
        while j < extra.count {
            let node = extra[j]
            j += 1
            guard node.hash.count == 32 else { throw HyperLogError.invalidProof("bad additional node") }
            while node.index != ite.index {
                if ite.factor == 2 { throw HyperLogError.invalidProof("unexpected additional node \(node.index)") }
                ite.leftChild()
            }
            batch.appendRoot(node, &ite)
            ite.sibling()
        }
        guard q.i == q.nodes.count else { throw HyperLogError.invalidProof("unused upgrade nodes") }
        return q.extra == nil
    }
}
