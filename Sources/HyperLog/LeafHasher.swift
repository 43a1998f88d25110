import Dispatch

/// Leaf hashes of a batch, computed on several cores when the batch is large enough to be worth it.
enum LeafHasher {
    /// Below this many bytes a batch is hashed on the calling thread.
    static let parallelThreshold = 256 * 1024

    static func hash(_ blocks: [[UInt8]]) -> [[UInt8]] {
        let bytes = blocks.reduce(0) { $0 + $1.count }
        if blocks.count < 16 || bytes < parallelThreshold {
            return blocks.map { HypercoreCrypto.leafHash($0) }
        }
        let chunks = min(blocks.count, 8)
        let out = LeafSlots(count: blocks.count)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            var i = c * blocks.count / chunks
            let end = (c + 1) * blocks.count / chunks
            while i < end {
                out.set(i, HypercoreCrypto.leafHash(blocks[i]))
                i += 1
            }
        }
        return out.values()
    }
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
