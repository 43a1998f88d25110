/// An indexed binary min-heap of eligible candidates keyed by score (ties: lowest slot), so the best
/// candidate is read in O(1) and a score change costs O(log n) with no allocation.
struct CandidateHeap: Sendable {
    private(set) var keys: [Double] = []
    private(set) var slots: [Int32] = []
    /// Position of each slot in the heap, -1 when absent.
    private var position: [Int32] = []

    var isEmpty: Bool { slots.isEmpty }
    var count: Int { slots.count }
    var top: Int32? { slots.first }

    mutating func reserve(_ n: Int) {
        keys.reserveCapacity(n)
        slots.reserveCapacity(n)
        position.reserveCapacity(n)
    }

    func contains(_ slot: Int32) -> Bool { Int(slot) < position.count && position[Int(slot)] >= 0 }

    /// Inserts `slot` or updates its key.
    mutating func upsert(_ slot: Int32, key: Double) {
        while position.count <= Int(slot) { position.append(-1) }
        let p = Int(position[Int(slot)])
        if p >= 0 {
            let old = keys[p]
            keys[p] = key
            if less(key, slot, old, slot) { siftUp(p) } else { siftDown(p) }
            return
        }
        keys.append(key)
        slots.append(slot)
        position[Int(slot)] = Int32(slots.count - 1)
        siftUp(slots.count - 1)
    }

    mutating func remove(_ slot: Int32) {
        guard contains(slot) else { return }
        let p = Int(position[Int(slot)])
        let last = slots.count - 1
        position[Int(slot)] = -1
        if p == last {
            keys.removeLast()
            slots.removeLast()
            return
        }
        keys[p] = keys[last]
        slots[p] = slots[last]
        position[Int(slots[p])] = Int32(p)
        keys.removeLast()
        slots.removeLast()
        siftDown(p)
        siftUp(p)
    }

    @inline(__always)
    private func less(_ ka: Double, _ sa: Int32, _ kb: Double, _ sb: Int32) -> Bool {
        ka < kb || (ka == kb && sa < sb)
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        let k = keys[i]
        let s = slots[i]
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(k, s, keys[parent], slots[parent]) else { break }
            keys[i] = keys[parent]
            slots[i] = slots[parent]
            position[Int(slots[i])] = Int32(i)
            i = parent
        }
        keys[i] = k
        slots[i] = s
        position[Int(s)] = Int32(i)
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = slots.count
        guard i < n else { return }
        let k = keys[i]
        let s = slots[i]
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && less(keys[l + 1], slots[l + 1], keys[l], slots[l]) { c = l + 1 }
            guard less(keys[c], slots[c], k, s) else { break }
            keys[i] = keys[c]
            slots[i] = slots[c]
            position[Int(slots[i])] = Int32(i)
            i = c
        }
        keys[i] = k
        slots[i] = s
        position[Int(s)] = Int32(i)
    }
}
