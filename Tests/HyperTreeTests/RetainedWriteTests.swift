import HyperTree
import TestSupport
import Testing

/// A long-lived tree keeps the nodes its last batch wrote and starts the next batch from them; a fresh tree object
/// over a log always starts from the blocks. Both must append exactly the same bytes.
@Suite("Retained write nodes: a long-lived tree writes the same blocks as a fresh tree per batch")
struct RetainedWriteTests {
    struct Boom: Error {}

    nonisolated(nonsending) static func apply(_ ops: [TreeOperation], to b: TreeBatch) async throws {
        for op in ops {
            switch op {
            case .put(let k, let v): try await b.put(k, v)
            case .del(let k): try await b.del(k)
            }
        }
    }

    @Test("random put/del batches, failed batches, read-only batches and a second writer: identical logs")
    func identicalLogs() async throws {
        let kept = MemoryTreeLog()
        let keptTree = HyperTree(log: kept)
        let fresh = MemoryTreeLog()
        var g = SeededGenerator(seed: 2026)
        var model: [[UInt8]: [UInt8]] = [:]
        for round in 0..<160 {
            var ops: [TreeOperation] = []
            for _ in 0..<Int.random(in: 0...80, using: &g) {
                let k = Array("key\(Int.random(in: 0..<2500, using: &g))".utf8)
                if Int.random(in: 0..<10, using: &g) < 3 {
                    ops.append(.del(key: k))
                } else {
                    ops.append(.put(key: k, value: Array("v\(round)".utf8)))
                }
            }
            let fails = round % 11 == 5
            // The failing batch edits nodes in place before it throws: nothing may leak into later batches.
            var threw = false
            do {
                try await keptTree.batch { b in
                    try await Self.apply(ops, to: b)
                    if fails { throw Boom() }
                }
            } catch is Boom {
                threw = true
            }
            #expect(threw == fails)
            if !fails {
                try await HyperTree(log: fresh).batch { b in try await Self.apply(ops, to: b) }
                for op in ops {
                    switch op {
                    case .put(let k, let v): model[k] = v
                    case .del(let k): model[k] = nil
                    }
                }
            }
            if round % 7 == 3 {
                // A batch that only reads (and adds no block) keeps the retained nodes usable.
                let probe = Array("key\(Int.random(in: 0..<2500, using: &g))".utf8)
                let seen = try await keptTree.batch { b in try await b.get(probe) }
                #expect(seen?.value == model[probe])
            }
            if round % 17 == 9 {
                // Another tree object appends to the same log: the long-lived tree must not reuse stale nodes.
                let k = Array("key\(Int.random(in: 0..<2500, using: &g))".utf8)
                try await HyperTree(log: kept).put(k, Array("other".utf8))
                try await HyperTree(log: fresh).put(k, Array("other".utf8))
                model[k] = Array("other".utf8)
            }
        }
        #expect(kept.length == fresh.length)
        let keptBlocks = kept.allBlocks
        let freshBlocks = fresh.allBlocks
        let firstDifference = zip(keptBlocks, freshBlocks).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(firstDifference == nil)
        var count = 0
        for try await e in keptTree.range() {
            #expect(model[e.key] == e.value)
            count += 1
        }
        #expect(count == model.count)
    }
}
