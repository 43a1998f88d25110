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
