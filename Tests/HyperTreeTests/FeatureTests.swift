import Foundation
import HyperTree
import TestSupport
import Testing

@Suite("Checkout, snapshot, compare-and-swap, sub, codecs, cache bound")
struct FeatureTests {
    @Test("snapshot reads stay consistent while writes continue, even mid-iteration")
    func snapshotIsolation() async throws {
        let tree = HyperTree(log: MemoryTreeLog())
        try await tree.apply((0..<300).map { .put(key: b("k\(1000 + $0)"), value: b("old")) })
        let snap = tree.snapshot()
        var it = snap.range().makeAsyncIterator()
        var seen: [TreeEntry] = []
        for i in 0..<300 {
            if i % 30 == 0 {
                try await tree.apply([
                    .put(key: b("k\(1000 + i + 5)"), value: b("new")), .del(key: b("k\(1000 + i + 7)")),
                ])
                try await tree.put(b("a-new-first-key"), b("x"))
            }
            guard let e = try await it.next() else { break }
            seen.append(e)
        }
        #expect(try await it.next() == nil)
        #expect(seen.count == 300)
        #expect(seen.allSatisfy { $0.value == b("old") })
        #expect(try await snap.get(b("a-new-first-key")) == nil)
        #expect(try await tree.get(b("a-new-first-key"))?.value == b("x"))
        #expect(tree.version > snap.version)
        await #expect(throws: TreeError.readOnly) { try await snap.put(b("z"), nil) }
    }

    @Test("compare-and-swap on put and del")
    func cas() async throws {
        let tree = HyperTree(log: MemoryTreeLog())
        // Insert only if absent.
        #expect(try await tree.put(b("a"), b("1"), cas: { prev, _ in prev == nil }))
        #expect(!(try await tree.put(b("a"), b("2"), cas: { prev, _ in prev == nil })))
        #expect(try await tree.get(b("a"))?.value == b("1"))
        let v = tree.version
        // Skip writing an identical value (Hyperbee's usual CAS).
        #expect(!(try await tree.put(b("a"), b("1"), cas: { prev, next in prev?.value != next.value })))
        #expect(tree.version == v)
        #expect(try await tree.put(b("a"), b("3"), cas: { prev, next in prev?.value != next.value }))
        // Delete only if the value is still what we saw.
        #expect(!(try await tree.del(b("a"), cas: { $0.value == b("1") })))
        #expect(try await tree.del(b("a"), cas: { $0.value == b("3") }))
        #expect(try await tree.get(b("a")) == nil)
        #expect(!(try await tree.del(b("a"))))
    }

    @Test("a failed batch writes nothing")
    func batchAtomicity() async throws {
        let log = MemoryTreeLog()
        let tree = HyperTree(log: log)
        try await tree.put(b("keep"), b("1"))
        let before = log.length
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await tree.batch { batch in
                try await batch.put(b("x"), b("1"))
                try await batch.put(b("y"), b("2"))
                throw Boom()
            }
        }
        #expect(log.length == before)
        #expect(try await tree.get(b("x")) == nil)
        // The tree is still writable afterwards (the lock was released).
        try await tree.put(b("z"), b("3"))
        #expect(strings(try await tree.range().collect()) == ["keep", "z"])
    }

    @Test("concurrent writers are serialised and nothing is lost")
    func concurrentWriters() async throws {
        let tree = HyperTree(log: MemoryTreeLog())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<4 {
                group.addTask {
                    for i in 0..<25 { try await tree.put(b("w\(w)-\(i)"), b("\(i)")) }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await tree.range().collect().count == 100)
        #expect(tree.version == 101)
    }

    @Test("sub keeps keys under prefix + separator and ranges inside it")
    func sub() async throws {
        let log = MemoryTreeLog()
        let tree = HyperTree(log: log)
        let files = tree.sub(b("files"))
        let other = tree.sub(b("filesx"))
        try await files.put(b("/a"), b("1"))
        try await files.put(b("/b"), b("2"))
        try await other.put(b("/a"), b("3"))
        try await tree.put(b("files"), b("bare"))
        try await tree.put(b("files\u{1}"), b("after"))
        #expect(try await files.get(b("/a"))?.value == b("1"))
        #expect(try await tree.get(b("files\u{0}/a"))?.value == b("1"))
        #expect(strings(try await files.range().collect()) == ["/a", "/b"])
        #expect(strings(try await files.range(RangeOptions(reverse: true)).collect()) == ["/b", "/a"])
        #expect(strings(try await files.range(RangeOptions(gt: b("/a"))).collect()) == ["/b"])
        #expect(strings(try await other.range().collect()) == ["/a"])
        let nested = files.sub(b("deep"))
        try await nested.put(b("k"), b("v"))
        #expect(try await tree.get(b("files\u{0}deep\u{0}k"))?.value == b("v"))
        #expect(strings(try await nested.range().collect()) == ["k"])
        try await files.del(b("/a"))
        #expect(try await files.get(b("/a")) == nil)
    }

    @Test("UTF-8 and JSON helpers round-trip")
    func codecs() async throws {
        struct Doc: Codable, Equatable {
            var name: String
            var size: Int
        }
        let tree = HyperTree(log: MemoryTreeLog())
        try await tree.put("greeting", "héllo")
        #expect(try await tree.get("greeting")?.valueString == "héllo")
        #expect(try await tree.get("greeting")?.keyString == "greeting")
        try await tree.putJSON("doc", Doc(name: "a", size: 3))
        #expect(try await tree.getJSON("doc", as: Doc.self) == Doc(name: "a", size: 3))
        #expect(try await tree.get("doc")?.valueString == #"{"name":"a","size":3}"#)
        await #expect(throws: TreeError.self) { _ = try await tree.getJSON("greeting", as: Doc.self) }
        #expect(try await tree.getJSON("missing", as: Doc.self) == nil)
        try await tree.batch { batch in
            try await batch.put("b1", "x")
            try await batch.putJSON("b2", [1, 2])
        }
        let r = try await tree.range(.strings(gte: "b", lt: "c")).collect()
        #expect(r.compactMap(\.keyString) == ["b1", "b2"])
    }

    @Test("the decoded-block cache stays within its memory bound")
    func cacheBound() async throws {
        let log = MemoryTreeLog()
        let writer = HyperTree(log: log)
        try await writer.apply((0..<3000).map { .put(key: b("key\($0)"), value: Array(repeating: 7, count: 100)) })
        let bound = 64 << 10
        let reader = HyperTree(log: log, options: .init(cacheBytes: bound))
        var g = SeededGenerator(seed: 3)
        for _ in 0..<500 {
            let i = Int.random(in: 0..<3000, using: &g)
            #expect(try await reader.get(b("key\(i)"))?.value?.count == 100)
            #expect(reader.cacheStats.bytes <= bound + 4096)
        }
        #expect(try await reader.range().collect().count == 3000)
        #expect(reader.cacheStats.bytes <= bound + 4096)
        #expect(reader.cacheStats.blocks < 3000)
    }

    @Test("history in reverse and with a limit")
    func history() async throws {
        let tree = HyperTree(log: MemoryTreeLog())
        for i in 0..<10 { try await tree.put(b("k\(i)"), b("v\(i)")) }
        try await tree.del(b("k3"))
        let h = try await tree.history(reverse: true, limit: 3)
        #expect(h.map(\.seq) == [11, 10, 9])
        #expect(h[0].isDelete && h[0].key == b("k3"))
        #expect(try await tree.history().count == 11)
    }
}
