/// Tree nodes are stored 32 to a table entry: key = big-endian `index / 32`, value = 32 slots of
/// `u64le size || hash` (40 bytes each, Hypercore's node layout). An all-zero slot is an absent node, as
/// Hypercore marks blank nodes. Grouping cuts an append's storage operations from ~2 per block to ~1 per 16.
enum NodePages {
    static let perPage: UInt64 = 32
    static let slotSize = 40
    static let pageSize = Int(perPage) * slotSize

    @inline(__always) static func key(_ page: UInt64) -> [UInt8] { LogKeys.u64(page) }

    /// The stored node at `index`, or nil.
    static func read(_ r: any LogStorageReader, _ index: UInt64) throws -> TreeNode? {
        try r.withValue(.nodes, key(index / perPage)) { v in
            guard let v else { return nil }
            guard v.count == pageSize else { throw HyperLogError.corrupt("node page of \(v.count) bytes") }
            let off = Int(index % perPage) * slotSize
            let slot = UnsafeRawBufferPointer(rebasing: v[off..<off + slotSize])
            if !slot.contains(where: { $0 != 0 }) { return nil }
            return TreeNode(index: index, stored: slot)
        }
    }
}

/// Collects node writes and removals for one batch, page by page.
struct NodeWriter {
    private let storage: any LogStorage
    /// When true, existing pages are ignored (the batch first deletes every node).
    private let fresh: Bool
    private var pages: [UInt64: [UInt8]] = [:]
    /// Pages from this number on are deleted before the page writes.
    private var dropFrom: UInt64? = nil

    init(storage: any LogStorage, fresh: Bool = false) {
        self.storage = storage
        self.fresh = fresh
    }

    private mutating func withPage(_ page: UInt64, _ body: (inout [UInt8]) -> Void) throws {
        if pages[page] == nil {
            var loaded: [UInt8]? = nil
            if !fresh, dropFrom.map({ page < $0 }) ?? true {
                loaded = try storage.read { try $0.get(.nodes, NodePages.key(page)) }
            }
            if let l = loaded, l.count != NodePages.pageSize {
                throw HyperLogError.corrupt("node page of \(l.count) bytes")
            }
            pages[page] = loaded ?? [UInt8](repeating: 0, count: NodePages.pageSize)
        }
        body(&pages[page]!)
    }

    /// Loads the pages holding `indices` now, so that later `put`s of those nodes read no storage.
    mutating func load(_ indices: [UInt64]) throws {
        var last: UInt64? = nil
        for i in indices where i / NodePages.perPage != last {
            last = i / NodePages.perPage
            try withPage(last!) { _ in }
        }
    }

    /// Stores `node`.
    mutating func put(_ node: TreeNode) throws {
        let off = Int(node.index % NodePages.perPage) * NodePages.slotSize
        try withPage(node.index / NodePages.perPage) { p in
            p.withUnsafeMutableBytes { b in
                b.storeBytes(of: node.size.littleEndian, toByteOffset: off, as: UInt64.self)
                node.hash.withUnsafeBytes { h in
                    UnsafeMutableRawBufferPointer(rebasing: b[off + 8..<off + 40]).copyMemory(from: h)
                }
            }
        }
    }

    /// Removes the node at `index`.
    mutating func remove(_ index: UInt64) throws {
        let off = Int(index % NodePages.perPage) * NodePages.slotSize
        try withPage(index / NodePages.perPage) { p in
            for i in off..<off + NodePages.slotSize { p[i] = 0 }
        }
    }

    /// Removes every node with an index >= `index`.
    mutating func removeAll(from index: UInt64) throws {
        let page = index / NodePages.perPage
        let off = Int(index % NodePages.perPage) * NodePages.slotSize
        if off > 0 {
            try withPage(page) { p in
                for i in off..<NodePages.pageSize { p[i] = 0 }
            }
        }
        let first = off > 0 ? page + 1 : page
        dropFrom = min(dropFrom ?? first, first)
        for k in pages.keys where k >= first { pages[k] = nil }
    }

    /// Emits the page deletions and writes (all-zero pages are deleted).
    func flush(into batch: inout LogWriteBatch) {
        if let dropFrom { batch.deleteRange(.nodes, from: NodePages.key(dropFrom), to: nil) }
        for (page, bytes) in pages.sorted(by: { $0.key < $1.key }) {
            if bytes.contains(where: { $0 != 0 }) {
                batch.put(.nodes, NodePages.key(page), bytes)
            } else {
                batch.delete(.nodes, NodePages.key(page))
            }
        }
    }
}
