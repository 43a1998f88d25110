import CLeafHash

/// The tree nodes one append creates: a leaf per new block and every parent the leaves complete.
///
/// The shape is found first; parent hashes are then computed level by level (a parent depends only on nodes one
/// level down), four parents at a time through the SIMD kernel when the CPU has one.
enum AppendTree {
    /// How to hash parents (tests compare both; `append` uses `.lanes`).
    enum Mode {
        case lanes
        case scalar
    }

    /// New nodes in creation order (each leaf followed by the parents it completes) and the new roots.
    static func build(
        roots: [TreeNode], firstBlock: UInt64, sizes: [UInt64], leafHashes: [[UInt8]], mode: Mode = .lanes
    ) -> (nodes: [TreeNode], roots: [TreeNode]) {
        var plan = Plan(roots: roots, firstBlock: firstBlock, sizes: sizes)
        return plan.finish(leafHashes: leafHashes, mode: mode)
    }

    /// The shape of an append (node indices and sizes, no hashes yet), known before any hashing is done.
    struct Plan {
        /// Old roots, then the new nodes in creation order; new nodes get their hashes in `finish`.
        private var work: [TreeNode]
        private let oldRoots: Int
        private let leaves: [Int]
        private let stack: [Int]
        /// byDepth[d]: the new parents at depth d with their children (positions in `work`).
        private let byDepth: [[Merge]]

        init(roots: [TreeNode], firstBlock: UInt64, sizes: [UInt64]) {
            var work = roots
            work.reserveCapacity(roots.count + 2 * sizes.count)
            var stack = Array(work.indices)
            var leaves: [Int] = []
            leaves.reserveCapacity(sizes.count)
            var byDepth: [[Merge]] = []
            for k in sizes.indices {
                work.append(TreeNode(index: 2 * (firstBlock + UInt64(k)), size: sizes[k], hash: []))
                leaves.append(work.count - 1)
                stack.append(work.count - 1)
                while stack.count > 1 {
                    let right = stack[stack.count - 1]
                    let left = stack[stack.count - 2]
                    guard FlatTree.sibling(work[right].index) == work[left].index else { break }
                    let index = FlatTree.parent(work[left].index)
                    work.append(TreeNode(index: index, size: work[left].size + work[right].size, hash: []))
                    let depth = Int(FlatTree.depth(index))
                    while byDepth.count <= depth { byDepth.append([]) }
                    byDepth[depth].append(Merge(parent: work.count - 1, left: left, right: right))
                    stack.removeLast(2)
                    stack.append(work.count - 1)
                }
            }
            self.work = work
            self.oldRoots = roots.count
            self.leaves = leaves
            self.stack = stack
            self.byDepth = byDepth
        }

        /// Flat-tree indices of every node the append creates (to load their storage pages early).
        var newIndices: [UInt64] { work[oldRoots...].map(\.index) }

        /// Fills in the hashes: `leafHashes[k]` for block k, then the parents level by level. Call once.
        mutating func finish(leafHashes: [[UInt8]], mode: Mode = .lanes) -> (nodes: [TreeNode], roots: [TreeNode]) {
            for (k, p) in leaves.enumerated() { work[p].hash = leafHashes[k] }
            for level in byDepth where !level.isEmpty {
                AppendTree.hashParents(level, in: &work, mode: mode)
            }
            return (Array(work[oldRoots...]), stack.map { work[$0] })
        }
    }

    /// Copies a 32-byte hash to `dst` (the caller checked the length).
    @inline(__always) private static func copyHash(_ hash: [UInt8], to dst: UnsafeMutablePointer<UInt8>) {
        hash.withUnsafeBufferPointer { dst.update(from: $0.baseAddress!, count: 32) }
    }

    /// A new parent and its children, as positions in the work array.
    struct Merge {
        var parent: Int
        var left: Int
        var right: Int
    }

    /// Fills the hashes of the parents of `merges` (all at one depth, so their children are already hashed).
    fileprivate static func hashParents(_ merges: [Merge], in work: inout [TreeNode], mode: Mode) {
        var i = 0
        if mode == .lanes && LeafHasher.lanes == 4 {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 3 * 128) { buf in
                withUnsafeTemporaryAllocation(of: UnsafePointer<UInt8>?.self, capacity: 8) { ptrs in
                    withUnsafeTemporaryAllocation(of: UInt64.self, capacity: 4) { sizes in
                        let base = UnsafePointer(buf.baseAddress!)
                        for l in 0..<4 {
                            ptrs[l] = base + 32 * l
                            ptrs[4 + l] = base + 128 + 32 * l
                        }
                        while i + 4 <= merges.count {
                            // Hashes are 32 bytes by construction; anything else takes the scalar path below.
                            let wellFormed = merges[i..<i + 4].allSatisfy {
                                work[$0.left].hash.count == 32 && work[$0.right].hash.count == 32
                            }
                            guard wellFormed else { break }
                            for l in 0..<4 {
                                let m = merges[i + l]
                                copyHash(work[m.left].hash, to: buf.baseAddress! + 32 * l)
                                copyHash(work[m.right].hash, to: buf.baseAddress! + 128 + 32 * l)
                                sizes[l] = work[m.parent].size
                            }
                            hl_parenthash_multi(
                                UnsafePointer(ptrs.baseAddress!), UnsafePointer(ptrs.baseAddress! + 4),
                                UnsafePointer(sizes.baseAddress!), buf.baseAddress! + 256)
                            for l in 0..<4 {
                                work[merges[i + l].parent].hash = Array(
                                    UnsafeBufferPointer(rebasing: buf[256 + 32 * l..<256 + 32 * l + 32]))
                            }
                            i += 4
                        }
                    }
                }
            }
        }
        while i < merges.count {
            let m = merges[i]
            work[m.parent].hash = HypercoreCrypto.parentHash(work[m.left], work[m.right])
            i += 1
        }
    }
}
