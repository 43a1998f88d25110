import CLeafHash
import Dispatch

/// Leaf hashes of a batch: four equal-length blocks at a time with the multi-lane SIMD kernel (CLeafHash, when the
/// CPU has one), and on several cores when the batch is large enough to be worth it.
enum LeafHasher {
    /// Below this many bytes a batch is hashed on the calling thread.
    static let parallelThreshold = 256 * 1024
    /// Blocks the SIMD kernel hashes at once (0: no kernel on this CPU, libsodium one block at a time).
    static let lanes = Int(hl_leafhash_lanes())

    /// How to hash a batch (tests compare the paths; `append` always uses `.automatic`).
    enum Mode {
        /// SIMD lanes where possible; several cores for large batches.
        case automatic
        /// SIMD lanes where possible, on the calling thread only.
        case serial
        /// libsodium, one block at a time (the reference).
        case scalar
    }

    static func hash(_ blocks: [[UInt8]], mode: Mode = .automatic) -> [[UInt8]] {
        if mode == .scalar { return blocks.map { HypercoreCrypto.leafHash($0) } }
        let out = LeafSlots(count: blocks.count)
        let bytes = blocks.reduce(0) { $0 + $1.count }
        if mode == .serial || blocks.count < 16 || bytes < parallelThreshold {
            hash(blocks, 0..<blocks.count, into: out)
            return out.values()
        }
        // Chunk bounds are multiples of 4 so that lane groups are never split.
        let groups = (blocks.count + 3) / 4
        let chunks = min(groups, 8)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = min(blocks.count, 4 * (c * groups / chunks))
            let hi = min(blocks.count, 4 * ((c + 1) * groups / chunks))
            hash(blocks, lo..<hi, into: out)
        }
        return out.values()
    }

    /// Hashes `blocks[range]` into `out`: runs of four equal-length blocks through the SIMD kernel, the rest with
    /// libsodium.
    private static func hash(_ blocks: [[UInt8]], _ range: Range<Int>, into out: LeafSlots) {
        var i = range.lowerBound
        if lanes == 4 {
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { digests in
                withUnsafeTemporaryAllocation(of: UnsafePointer<UInt8>?.self, capacity: 4) { ptrs in
                    while i + 4 <= range.upperBound {
                        let n = blocks[i].count
                        guard blocks[i + 1].count == n, blocks[i + 2].count == n, blocks[i + 3].count == n else {
                            out.set(i, HypercoreCrypto.leafHash(blocks[i]))
                            i += 1
                            continue
                        }
                        blocks[i].withUnsafeBufferPointer { b0 in
                            blocks[i + 1].withUnsafeBufferPointer { b1 in
                                blocks[i + 2].withUnsafeBufferPointer { b2 in
                                    blocks[i + 3].withUnsafeBufferPointer { b3 in
                                        ptrs[0] = b0.baseAddress
                                        ptrs[1] = b1.baseAddress
                                        ptrs[2] = b2.baseAddress
                                        ptrs[3] = b3.baseAddress
                                        hl_leafhash_multi(UnsafePointer(ptrs.baseAddress!), n, digests.baseAddress!)
                                    }
                                }
                            }
                        }
                        for l in 0..<4 {
                            out.set(i + l, Array(UnsafeBufferPointer(rebasing: digests[32 * l..<32 * l + 32])))
                        }
                        i += 4
                    }
                }
            }
        }
        while i < range.upperBound {
            out.set(i, HypercoreCrypto.leafHash(blocks[i]))
            i += 1
        }
    }
}

extension HypercoreCrypto {
    /// The leaf hashes of many blocks, equal to `blocks.map(leafHash)` but faster: four blocks of the same length
    /// at a time through a SIMD BLAKE2b kernel (x86-64 with AVX2), and on several cores for batches of 256 KiB or
    /// more.
    public static func leafHashes(_ blocks: [[UInt8]]) -> [[UInt8]] { LeafHasher.hash(blocks) }
}

/// Result slots filled concurrently: each index is written by exactly one worker before `values()` is read,
/// and `concurrentPerform` returns only after every worker finished (a happens-before edge).
private final class LeafSlots: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<[UInt8]>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: [])
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    func set(_ i: Int, _ value: [UInt8]) { slots[i] = value }

    func values() -> [[UInt8]] { Array(slots) }
}
