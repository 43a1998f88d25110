import Foundation
import HyperCrypto
import HyperTree
import TestSupport
import Testing

@Suite("Hyperbee 2 vectors (hyperbee.json)")
struct VectorTests {
    let v: [String: Any]

    init() throws { v = try Vectors.load("hyperbee") }

    /// Builds the main vector tree: puts a..z, del m, batch of 50 puts.
    func buildMain() async throws -> (HyperTree, MemoryTreeLog) {
        let log = MemoryTreeLog()
        let tree = HyperTree(log: log)
        try await tree.ready()
        for c in "abcdefghijklmnopqrstuvwxyz" {
            try await tree.put(b(String(c)), b(String(c).uppercased()))
        }
        try await tree.del(b("m"))
        try await tree.batch { batch in
            for i in 0..<50 {
                let k = "k" + String(i).leftPad(3)
                try await batch.put(b(k), b("v\(i)"))
            }
        }
        return (tree, log)
    }

    func expectBlocks(_ got: [[UInt8]], _ want: [[String: Any]], offset: Int = 0) {
        for item in want {
            let seq = item["seq"] as! Int
            let expected = hex(item["hex"])
            #expect(seq < got.count, "missing block \(seq)")
            if seq < got.count {
                #expect(got[seq].hex == expected.hex, "block \(seq) differs")
            }
        }
    }

    @Test("every block of puts a..z, del m and the 50-put batch is byte-exact")
    func mainBlocks() async throws {
        let (_, log) = try await buildMain()
        let want = v["blocks"] as! [[String: Any]]
        #expect(log.allBlocks.count == want.count)
        expectBlocks(log.allBlocks, want)
    }

    @Test("50 sequential puts after the delete are byte-exact")
    func sequentialAfterDel() async throws {
        let log = MemoryTreeLog()
        let tree = HyperTree(log: log)
        for c in "abcdefghijklmnopqrstuvwxyz" { try await tree.put(b(String(c)), b(String(c).uppercased())) }
        try await tree.del(b("m"))
        for i in 0..<50 { try await tree.put(b("k" + String(i).leftPad(3)), b("v\(i)")) }
        let want = (v["variantSequentialPutsAfterDel"] as! [String: Any])["blocks"] as! [[String: Any]]
        #expect(log.allBlocks.count == 78)
        expectBlocks(log.allBlocks, want)
    }

    @Test("bee a..j is byte-exact")
    func aToJ() async throws {
        let log = MemoryTreeLog()
        let tree = HyperTree(log: log)
        for c in "abcdefghij" { try await tree.put(b(String(c)), b(String(c).uppercased())) }
        let want = v["bee_a_to_j"] as! [[String: Any]]
        #expect(log.allBlocks.count == want.count)
        expectBlocks(log.allBlocks, want)
    }

    @Test("hyperdrive-style header with metadata and a sub-keyed JSON entry is byte-exact")
    func hyperdriveStyle() async throws {
        let section = v["hyperdriveStyle"] as! [String: Any]
        let want = section["blocks"] as! [[String: Any]]
        let second = hex(want[1]["hex"])
        let log = MemoryTreeLog()
        let tree = HyperTree(log: log, options: .init(metadata: HeaderMetadata()))
        // Recover key and value from the vector's own bytes, then write them through a sub.
        let msg = try NodeMessage.decode(second, seq: 1)
        let files = tree.sub(b("files"))
        #expect(Array(msg.key.prefix(6)) == b("files") + [0])
        try await files.put(Array(msg.key.dropFirst(6)), msg.value)
        expectBlocks(log.allBlocks, want)
        let header = try await tree.header()
        #expect(header == TreeHeader(metadata: HeaderMetadata()))
        #expect(try await files.get(b("/hello.txt"))?.value == msg.value)
    }

    @Test("gets after a..z and at the end match")
    func gets() async throws {
        let (tree, _) = try await buildMain()
        let afterAZ = try tree.checkout(27)
        for (k, want) in v["getsAfterAZ"] as! [String: Any] {
            let got = try await afterAZ.get(b(k))
            check(got, want, k)
        }
        for (k, want) in v["getsFinal"] as! [String: Any] {
            check(try await tree.get(b(k)), want, k)
        }
        #expect(try await tree.get(b("m")) == nil)
        #expect(v["getMAfterDel"] is NSNull)
    }

    func check(_ got: TreeEntry?, _ want: Any, _ k: String) {
        if let w = want as? [String: Any] {
            #expect(got?.seq == UInt64(w["seq"] as! Int), "seq for \(k)")
            #expect(str(got?.key) == w["key"] as? String, "key for \(k)")
            #expect(str(got?.value) == w["value"] as? String, "value for \(k)")
        } else {
            #expect(got == nil, "\(k) should be absent")
        }
    }

    @Test("range results match, including the full range")
    func ranges() async throws {
        let (tree, _) = try await buildMain()
        let full = try await tree.range().collect()
        #expect(strings(full) == (v["rangeFullKeys"] as! [String]))
        for r in v["ranges"] as! [[String: Any]] {
            let o = r["opts"] as! [String: Any]
            var opts = RangeOptions()
            opts.gt = (o["gt"] as? String).map(b)
            opts.gte = (o["gte"] as? String).map(b)
            opts.lt = (o["lt"] as? String).map(b)
            opts.lte = (o["lte"] as? String).map(b)
            opts.reverse = o["reverse"] as? Bool ?? false
            opts.limit = o["limit"] as? Int
            let got = try await tree.range(opts).collect()
            let want = r["result"] as! [[String: Any]]
            #expect(got.count == want.count, "count for \(o)")
            for (g, w) in zip(got, want) { check(g, w, "\(o)") }
        }
    }

    @Test("history stream gte 25 lt 30 matches")
    func history() async throws {
        let (tree, _) = try await buildMain()
        let got = try await tree.history(gte: 25, lt: 30)
        let want = v["historyStream_gte25_lt30"] as! [[String: Any]]
        #expect(got.count == want.count)
        for (g, w) in zip(got, want) {
            #expect(g.seq == UInt64(w["seq"] as! Int))
            #expect((g.isDelete ? "del" : "put") == w["type"] as! String)
            #expect(str(g.key) == w["key"] as? String)
            #expect(str(g.value) == w["value"] as? String)
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
