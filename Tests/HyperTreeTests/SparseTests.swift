import HyperTree
import TestSupport
import Testing

@Suite("Sparse reads: a reader holding no blocks fetches only what a query needs")
struct SparseTests {
    static func key(_ i: Int) -> [UInt8] {
        let s = String(i)
        return Array(("key-" + String(repeating: "0", count: 8 - s.count) + s).utf8)
    }

    /// A 100,000-key tree written in random order in batches of 1,000.
    static func build(count: Int) async throws -> MemoryTreeLog {
        let log = MemoryTreeLog()
        let tree = HyperTree(log: log)
        var g = SeededGenerator(seed: 7)
        let order = Array(0..<count).shuffled(using: &g)
        var i = 0
        while i < order.count {
            let chunk = order[i..<min(i + 1000, order.count)]
            try await tree.batch { b in
                for k in chunk { try await b.put(key(k), Array("value-\(k)".utf8)) }
            }
            i += 1000
        }
        return log
    }

    @Test("one get on a 100,000-key tree fetches at most 5 blocks per level, and nothing twice")
    func oneGet() async throws {
        let source = try await Self.build(count: 100_000)
        #expect(source.length == 100_001)
        var g = SeededGenerator(seed: 11)
        var worst = 0
        var total = 0
        let samples = 20
        for _ in 0..<samples {
            let sparse = SparseTreeLog(source: source)
            let reader = HyperTree(log: sparse)
            let k = Int.random(in: 0..<100_000, using: &g)
            let trace = QueryTrace()
            let e = try await reader.get(Self.key(k), trace: trace)
            #expect(e?.value == Array("value-\(k)".utf8))
            #expect(trace.blocksFetched == sparse.fetchedBlocks)
            #expect(trace.blocksTouched == sparse.fetchedBlocks)  // every touched block was fetched once
            #expect(!sparse.heldSeqs.contains(0))  // the header is not needed for a get
            worst = max(worst, sparse.fetchedBlocks)
            total += sparse.fetchedBlocks
            // A repeated get needs nothing new.
            _ = try await reader.get(Self.key(k))
            #expect(sparse.fetchedBlocks == trace.blocksFetched)
        }
        // Depth of a 100k-key tree with 5..9 children is at most 8; each level needs its node block plus at most
        // 4 key blocks for the binary search (keys stored in the node's own block are free).
        let depth = try await Self.depth(source)
        print(
            "sparse get on 100,000 keys: depth \(depth), blocks fetched avg \(Double(total) / Double(samples)), worst \(worst)"
        )
        #expect(worst <= depth * 5 + 1)
        #expect(worst < 40)

        // A missing key costs the same bound.
        let sparse = SparseTreeLog(source: source)
        let reader = HyperTree(log: sparse)
        #expect(try await reader.get(Array("key-zzz".utf8)) == nil)
        #expect(sparse.fetchedBlocks <= depth * 5)

        // A 10-key range fetches about one path plus the ten entries.
        let sparse2 = SparseTreeLog(source: source)
        let reader2 = HyperTree(log: sparse2)
        let trace = QueryTrace()
        let r = try await reader2.range(RangeOptions(gte: Self.key(5000), limit: 10), trace: trace).collect()
        #expect(r.map(\.key) == (5000..<5010).map(Self.key))
        print("sparse 10-key range on 100,000 keys: blocks fetched \(sparse2.fetchedBlocks)")
        #expect(sparse2.fetchedBlocks <= depth * 5 + 10 + depth * 2)
    }

    @Test("an untraced sparse reader (eager local resolution, lazy remote) agrees with the writer")
    func untracedSparseReader() async throws {
        let source = try await Self.build(count: 5000)
        let sparse = SparseTreeLog(source: source)
        let reader = HyperTree(log: sparse)
        var g = SeededGenerator(seed: 17)
        for _ in 0..<100 {
            let k = Int.random(in: 0..<6000, using: &g)
            let got = try await reader.get(Self.key(k))
            #expect(got?.value == (k < 5000 ? Array("value-\(k)".utf8) : nil))
        }
        let partial = sparse.fetchedBlocks
        #expect(partial < 5001)
        let forward = try await reader.range(RangeOptions(gte: Self.key(1234), lt: Self.key(1300))).collect()
        #expect(forward.map(\.key) == (1234..<1300).map(Self.key))
        let backward = try await reader.range(RangeOptions(gt: Self.key(10), lte: Self.key(40), reverse: true))
            .collect()
        #expect(backward.map(\.key) == (11...40).reversed().map(Self.key))
        #expect(try await reader.range().collect().count == 5000)
    }

    static func depth(_ log: MemoryTreeLog) async throws -> Int {
        let blocks = log.allBlocks
        var msg = try NodeMessage.decode(blocks[blocks.count - 1], seq: UInt64(blocks.count - 1))
        var level = msg.levels[0]
        var d = 1
        while !level.children.isEmpty {
            let (s, o) = (level.children[0], level.children[1])
            msg = try NodeMessage.decode(blocks[Int(s)], seq: s)
            level = msg.levels[Int(o)]
            d += 1
        }
        return d
    }
}
