import CLeafHash
import Dispatch
import LMDBKit

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
    fileprivate static func hash(_ blocks: [[UInt8]], _ range: Range<Int>, into out: LeafSlots) {
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

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Leaf hashing of one batch beside other work (an append's storage writes): `start` hands chunks of about
/// 16 KiB to helper threads, and `finish` has the caller hash the chunks no helper has taken yet, then waits for
/// the chunks in progress. A helper that starts late finds nothing left, so a busy thread pool delays nothing.
final class LeafHashJob: @unchecked Sendable {
    // Invariant: `next`, `unfinished` and `waiting` are only touched under `lock`. Slots of a chunk are written only
    // by the thread that claimed it, and read by `finish` after `unfinished` reached 0 (seen under `lock`, or
    // signalled through `done` by the thread that finished the last chunk).
    private let blocks: [[UInt8]]
    private let out: LeafSlots
    /// Chunk c covers blocks bounds[c]..<bounds[c + 1]; every bound but the last is a multiple of 4.
    private let bounds: [Int]
    private let parallel: Bool
    private let lock = Lock()
    private var next = 0
    private var unfinished: Int
    private var waiting = false
    private let done = DispatchSemaphore(value: 0)

    /// Helper threads per job: one less than the cores (the caller is busy meanwhile), at most 3.
    static let helpers = max(0, min(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) - 1, 3))
    static let chunkBytes = 16 * 1024

    init(_ blocks: [[UInt8]]) {
        self.blocks = blocks
        out = LeafSlots(count: blocks.count)
        var bounds = [0]
        var bytes = 0
        var total = 0
        for (i, b) in blocks.enumerated() {
            bytes += b.count
            total += b.count
            if bytes >= Self.chunkBytes && (i + 1) % 4 == 0 && i + 1 < blocks.count {
                bounds.append(i + 1)
                bytes = 0
            }
        }
        bounds.append(blocks.count)
        self.bounds = bounds
        unfinished = bounds.count - 1
        parallel = Self.helpers > 0 && blocks.count >= 16 && total >= LeafHasher.parallelThreshold
    }

    /// Starts the helpers (none for a batch under `LeafHasher.parallelThreshold` bytes).
    func start() {
        guard parallel else { return }
        for _ in 0..<min(Self.helpers, bounds.count - 2) {
            DispatchQueue.global().async { self.work() }
        }
    }

    /// The leaf hashes of every block, in order.
    func finish() -> [[UInt8]] {
        work()
        let wait = lock.withLock {
            if unfinished == 0 { return false }
            waiting = true
            return true
        }
        if wait { done.wait() }
        return out.values()
    }

    private func work() {
        while true {
            let claimed: Int? = lock.withLock {
                guard next < bounds.count - 1 else { return nil }
                next += 1
                return next - 1
            }
            guard let c = claimed else { return }
            LeafHasher.hash(blocks, bounds[c]..<bounds[c + 1], into: out)
            let last = lock.withLock {
                unfinished -= 1
                return unfinished == 0 && waiting
            }
            if last { done.signal() }
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
