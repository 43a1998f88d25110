import HyperCrypto
import TestSupport
import Testing

@testable import HyperLog

@Suite("Batched leaf hashing")
struct LeafHashingTests {
    /// Random blocks whose lengths cover BLAKE2b block edges (the 9-byte leaf prefix shifts them) and runs of equal
    /// lengths (the SIMD lanes) broken at random places.
    static func randomBatch(count: Int, using rng: inout SeededGenerator) -> [[UInt8]] {
        let edges = [0, 1, 7, 8, 118, 119, 120, 127, 128, 246, 247, 248, 375, 1024, 1031, 4096, 5000]
        var out: [[UInt8]] = []
        var length = 0
        for _ in 0..<count {
            if out.isEmpty || Int.random(in: 0..<5, using: &rng) == 0 {
                length =
                    Bool.random(using: &rng) ? edges.randomElement(using: &rng)! : Int.random(in: 0...3000, using: &rng)
            }
            out.append((0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) })
        }
        return out
    }

    @Test("SIMD lanes, serial and on several cores, equal libsodium one block at a time on random batches")
    func pathsAgree() {
        var rng = SeededGenerator(seed: 0x1eaf)
        for count in [0, 1, 3, 4, 5, 15, 16, 17, 64, 257, 700] {
            let blocks = Self.randomBatch(count: count, using: &rng)
            let reference = blocks.map { HypercoreCrypto.leafHash($0) }
            #expect(LeafHasher.hash(blocks, mode: .scalar) == reference, "scalar, \(count) blocks")
            #expect(LeafHasher.hash(blocks, mode: .serial) == reference, "serial, \(count) blocks")
            #expect(LeafHasher.hash(blocks, mode: .automatic) == reference, "automatic, \(count) blocks")
            #expect(HypercoreCrypto.leafHashes(blocks) == reference, "public API, \(count) blocks")
        }
    }

    @Test("equal-length batches (all lanes full) of every length 0...300 match libsodium")
    func everyLength() {
        var rng = SeededGenerator(seed: 42)
        for length in 0...300 {
            let blocks = (0..<8).map { _ in (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) } }
            #expect(
                LeafHasher.hash(blocks, mode: .serial) == blocks.map { HypercoreCrypto.leafHash($0) },
                "length \(length)")
        }
    }

    @Test("a batch large enough for several cores (over 256 KiB) matches libsodium")
    func parallelBatch() {
        var rng = SeededGenerator(seed: 7)
        var blocks = (0..<300).map { _ in (0..<1024).map { _ in UInt8.random(in: 0...255, using: &rng) } }
        blocks[101] = [1, 2, 3]  // breaks a lane group
        #expect(blocks.reduce(0) { $0 + $1.count } >= LeafHasher.parallelThreshold)
        #expect(LeafHasher.hash(blocks) == blocks.map { HypercoreCrypto.leafHash($0) })
    }

    @Test("the kernel reports its lane count (4 with AVX2 on x86-64, else 0 and libsodium is used)")
    func lanes() {
        #expect(LeafHasher.lanes == 0 || LeafHasher.lanes == 4)
    }
}

@Suite("Append tree building")
struct AppendTreeTests {
    /// The reference: leaves pushed one at a time, merging siblings with libsodium parent hashes.
    static func sequential(roots: [TreeNode], firstBlock: UInt64, blocks: [[UInt8]]) -> ([TreeNode], [TreeNode]) {
        var roots = roots
        var nodes: [TreeNode] = []
        for (k, b) in blocks.enumerated() {
            let leaf = TreeNode.leaf(block: firstBlock + UInt64(k), data: b)
            nodes.append(leaf)
            roots.append(leaf)
            while roots.count > 1, FlatTree.sibling(roots[roots.count - 1].index) == roots[roots.count - 2].index {
                let p = TreeNode.parent(roots[roots.count - 2], roots[roots.count - 1])
                nodes.append(p)
                roots.removeLast(2)
                roots.append(p)
            }
        }
        return (nodes, roots)
    }

    @Test("level-by-level SIMD parent hashing equals one-at-a-time merging over random batch sequences")
    func matchesSequential() {
        var rng = SeededGenerator(seed: 0x7EE)
        for trial in 0..<12 {
            var roots: [TreeNode] = []
            var length: UInt64 = 0
            for _ in 0..<6 {
                let count = [1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 100, 333][Int.random(in: 0..<12, using: &rng)]
                let blocks = LeafHashingTests.randomBatch(count: count, using: &rng)
                let (wantNodes, wantRoots) = Self.sequential(roots: roots, firstBlock: length, blocks: blocks)
                for mode in [AppendTree.Mode.lanes, .scalar] {
                    let (nodes, newRoots) = AppendTree.build(
                        roots: roots, firstBlock: length, sizes: blocks.map { UInt64($0.count) },
                        leafHashes: LeafHasher.hash(blocks), mode: mode)
                    #expect(nodes == wantNodes, "trial \(trial), length \(length) + \(count), \(mode)")
                    #expect(newRoots == wantRoots, "trial \(trial), length \(length) + \(count), \(mode)")
                }
                roots = wantRoots
                length += UInt64(count)
            }
        }
    }
}
