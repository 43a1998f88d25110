/// A key-prefixed view of a tree (Hyperbee `sub`): keys are stored as `prefix + separator + key` and read back
/// without the prefix. Ranges never leave the prefix.
public struct SubTree: Sendable {
    public let tree: HyperTree
    /// `prefix + separator`, prepended to every key.
    public let fullPrefix: [UInt8]

    init(tree: HyperTree, fullPrefix: [UInt8]) {
        self.tree = tree
        self.fullPrefix = fullPrefix
    }

    /// A nested sub inside this one.
    public func sub(_ prefix: [UInt8], separator: [UInt8] = [0]) -> SubTree {
        SubTree(tree: tree, fullPrefix: fullPrefix + prefix + separator)
    }

    public nonisolated(nonsending) func get(_ key: [UInt8], trace: QueryTrace? = nil) async throws -> TreeEntry? {
        try await tree.get(fullPrefix + key, trace: trace).map(strip)
    }

    @discardableResult
    public nonisolated(nonsending) func put(
        _ key: [UInt8], _ value: [UInt8]?, cas: ((TreeEntry?, TreeEntry) -> Bool)? = nil
    ) async throws
        -> Bool
    {
        try await tree.put(fullPrefix + key, value, cas: cas.map { f in { p, n in f(p.map(strip), strip(n)) } })
    }

    @discardableResult
    public nonisolated(nonsending) func del(_ key: [UInt8], cas: ((TreeEntry) -> Bool)? = nil) async throws -> Bool {
        try await tree.del(fullPrefix + key, cas: cas.map { f in { f(strip($0)) } })
    }

    /// Prefixed operations applied atomically.
    public nonisolated(nonsending) func apply(_ operations: [TreeOperation]) async throws {
        try await tree.apply(
            operations.map {
                switch $0 {
                case .put(let k, let v): return .put(key: fullPrefix + k, value: v)
                case .del(let k): return .del(key: fullPrefix + k)
                }
            })
    }

    /// The range restricted to this prefix; entries come back with the prefix removed.
    public func range(_ options: RangeOptions = RangeOptions(), trace: QueryTrace? = nil) -> SubTreeRange {
        SubTreeRange(base: tree.range(prefixed(options), trace: trace), prefixCount: fullPrefix.count)
    }

    func prefixed(_ o: RangeOptions) -> RangeOptions {
        var p = RangeOptions(reverse: o.reverse, limit: o.limit)
        p.gt = o.gt.map { fullPrefix + $0 }
        p.gte = o.gte.map { fullPrefix + $0 } ?? (o.gt == nil ? fullPrefix : nil)
        p.lt = o.lt.map { fullPrefix + $0 }
        p.lte = o.lte.map { fullPrefix + $0 }
        if let upper = prefixUpperBound(fullPrefix) {
            if p.lt == nil || compareBytes(upper, p.lt!) < 0 { p.lt = upper }
        }
        return p
    }

    func strip(_ e: TreeEntry) -> TreeEntry {
        TreeEntry(seq: e.seq, key: Array(e.key.dropFirst(fullPrefix.count)), value: e.value)
    }
}

/// The smallest key greater than every key starting with `prefix`, or nil if there is none.
func prefixUpperBound(_ prefix: [UInt8]) -> [UInt8]? {
    var p = prefix
    while let last = p.last {
        if last < 0xFF {
            p[p.count - 1] = last + 1
            return p
        }
        p.removeLast()
    }
    return nil
}

/// A range over a sub, yielding keys without the prefix.
public struct SubTreeRange: AsyncSequence, Sendable {
    public typealias Element = TreeEntry
    let base: TreeRange
    let prefixCount: Int

    public func makeAsyncIterator() -> Iterator { Iterator(base: base.makeAsyncIterator(), prefixCount: prefixCount) }

    public nonisolated(nonsending) func collect() async throws -> [TreeEntry] {
        var out: [TreeEntry] = []
        for try await e in self { out.append(e) }
        return out
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: TreeRange.Iterator
        let prefixCount: Int

        public nonisolated(nonsending) mutating func next() async throws -> TreeEntry? {
            guard let e = try await base.next() else { return nil }
            return TreeEntry(seq: e.seq, key: Array(e.key.dropFirst(prefixCount)), value: e.value)
        }
    }
}

extension HyperTree {
    /// A view whose keys live under `prefix + separator` (Hyperbee's default separator is a zero byte).
    public func sub(_ prefix: [UInt8], separator: [UInt8] = [0]) -> SubTree {
        SubTree(tree: self, fullPrefix: prefix + separator)
    }
}
