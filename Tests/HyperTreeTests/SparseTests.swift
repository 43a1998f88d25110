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

    @Test("without prefetch, one get on a 100,000-key tree fetches at most 5 blocks per level, and nothing twice")
    func oneGet() async throws {
        let source = try await Self.build(count: 100_000)
        #expect(source.length == 100_001)
        var g = SeededGenerator(seed: 11)
        var worst = 0
        var total = 0
        let samples = 20
        for _ in 0..<samples {
            let sparse = SparseTreeLog(source: source)
            let reader = HyperTree(log: sparse, options: Self.noPrefetch)
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
        let reader = HyperTree(log: sparse, options: Self.noPrefetch)
        #expect(try await reader.get(Array("key-zzz".utf8)) == nil)
        #expect(sparse.fetchedBlocks <= depth * 5)

        // A 10-key range fetches about one path plus the ten entries.
        let sparse2 = SparseTreeLog(source: source)
        let reader2 = HyperTree(log: sparse2, options: Self.noPrefetch)
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

    static let noPrefetch = HyperTree.Options(prefetch: .off)

    /// Round trips and blocks of one cold get per prefetch mode, over the same keys.
    static func coldGets(_ source: MemoryTreeLog, keys: [Int], mode: SparsePrefetch) async throws
        -> (worstTrips: Int, avgTrips: Double, avgBlocks: Double)
    {
        var worst = 0
        var trips = 0
        var blocks = 0
        for k in keys {
            let sparse = SparseTreeLog(source: source)
            let reader = HyperTree(log: sparse, options: .init(prefetch: mode))
            let trace = QueryTrace()
            let e = try await reader.get(Self.key(k), trace: trace)
            #expect(e?.value == (k < 100_000 ? Array("value-\(k)".utf8) : nil))
            #expect(trace.roundTrips == sparse.roundTrips)
            #expect(trace.blocksFetched == sparse.fetchedBlocks)
            #expect(!sparse.heldSeqs.contains(0))
            // An untraced reader (the production path: eager resolution from its caches) batches the same way.
            let quiet = SparseTreeLog(source: source)
            let quietReader = HyperTree(log: quiet, options: .init(prefetch: mode))
            #expect(try await quietReader.get(Self.key(k)) == e)
            #expect(quiet.roundTrips <= sparse.roundTrips)
            worst = max(worst, sparse.roundTrips)
            trips += sparse.roundTrips
            blocks += sparse.fetchedBlocks
            // Warm: the same get again needs nothing new.
            let again = QueryTrace()
            _ = try await reader.get(Self.key(k), trace: again)
            #expect(again.roundTrips == 0 && again.blocksFetched == 0)
        }
        return (worst, Double(trips) / Double(keys.count), Double(blocks) / Double(keys.count))
    }

    @Test("with prefetch, a cold get costs at most one round trip per tree level plus one for the root block")
    func roundTripsPerLevel() async throws {
        let source = try await Self.build(count: 100_000)
        let depth = try await Self.depth(source)
        var g = SeededGenerator(seed: 23)
        // Present keys, and absent keys (past the end and between keys).
        var keys = (0..<20).map { _ in Int.random(in: 0..<100_000, using: &g) }
        keys += [100_000, 123_456]
        let none = try await Self.coldGets(source, keys: keys, mode: .off)
        let byNode = try await Self.coldGets(source, keys: keys, mode: .keys)
        let full = try await Self.coldGets(source, keys: keys, mode: .keysAndChildren)
        print(
            "sparse get on 100,000 keys (depth \(depth)): round trips avg/worst, blocks fetched avg: "
                + "none \(none.avgTrips)/\(none.worstTrips) \(none.avgBlocks); "
                + "keys \(byNode.avgTrips)/\(byNode.worstTrips) \(byNode.avgBlocks); "
                + "keysAndChildren \(full.avgTrips)/\(full.worstTrips) \(full.avgBlocks)")
        #expect(full.worstTrips <= depth + 1)
        #expect(byNode.worstTrips <= 2 * depth)
        #expect(full.avgTrips < none.avgTrips)
        #expect(byNode.avgTrips < none.avgTrips)
        // The bandwidth price is bounded: at most one node's keys and children per level.
        #expect(full.avgBlocks <= Double(depth * 16 + 1))
    }

    @Test("with prefetch, a sparse range and a scan batch their fetches and return the same entries")
    func rangePrefetch() async throws {
        let source = try await Self.build(count: 20_000)
        let plain = HyperTree(log: SparseTreeLog(source: source), options: Self.noPrefetch)
        let sparse = SparseTreeLog(source: source)
        let reader = HyperTree(log: sparse)
        let o = RangeOptions(gte: Self.key(5000), limit: 200)
        let expected = try await plain.range(o).collect()
        let trace = QueryTrace()
        let got = try await reader.range(o, trace: trace).collect()
        #expect(got == expected)
        #expect(got.map(\.key) == (5000..<5200).map(Self.key))
        #expect(trace.roundTrips == sparse.roundTrips)
        // 200 entries live in about 200 / 4 nodes; each costs at most a node block and one key batch.
        #expect(sparse.roundTrips < 120)
        let reverse = try await reader.range(RangeOptions(gt: Self.key(10), lte: Self.key(60), reverse: true))
            .collect()
        #expect(reverse.map(\.key) == (11...60).reversed().map(Self.key))
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
