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

    /// A memory log whose next append can be made to fail (after it would have written nothing).
    final class FlakyLog: TreeLog, @unchecked Sendable {
        // Invariant: `failNext` is only touched by the single test task that drives the tree.
        let inner = MemoryTreeLog()
        var failNext = false
        struct Refused: Error {}

        var length: UInt64 { inner.length }
        var isWritable: Bool { true }
        func localBlock(at seq: UInt64) throws -> [UInt8]? { try inner.localBlock(at: seq) }
        func block(at seq: UInt64) async throws -> [UInt8] { try await inner.block(at: seq) }
        func append(_ blocks: [[UInt8]]) async throws -> UInt64 {
            if failNext {
                failNext = false
                throw Refused()
            }
            return try await inner.append(blocks)
        }
        func lengthUpdates() -> AsyncStream<UInt64> { inner.lengthUpdates() }
    }

    @Test("a failed log append leaves no cached blocks or nodes behind: the next batch's blocks are exact")
    func failedAppend() async throws {
        let flaky = FlakyLog()
        let tree = HyperTree(log: flaky)
        let fresh = MemoryTreeLog()
        for round in 0..<30 {
            let refused = round % 4 == 2
            let ops: [TreeOperation] = (0..<40).map { i in
                .put(
                    key: Array("k\((round * 37 + i * 11) % 500)".utf8),
                    value: Array("\(refused ? "lost" : "kept")\(round)".utf8))
            }
            flaky.failNext = refused
            var threw = false
            do { try await tree.apply(ops) } catch is FlakyLog.Refused { threw = true }
            #expect(threw == refused)
            if !refused { try await HyperTree(log: fresh).apply(ops) }
            // Reads through the same tree (and its caches) never see the refused batch.
            for op in ops {
                guard case .put(let k, _) = op else { continue }
                let v = try await tree.get(k)?.value
                #expect(v.map { String(decoding: $0, as: UTF8.self).hasPrefix("lost") } != true)
            }
        }
        #expect(flaky.inner.allBlocks == fresh.allBlocks)
    }

    @Test("a batch used after its commit throws batchClosed (its nodes belong to the next batch)")
    func escapedBatch() async throws {
        let tree = HyperTree(log: MemoryTreeLog())
        let escaped = try await tree.batch { b in
            try await b.put(Array("a".utf8), Array("1".utf8))
            return b
        }
        try await tree.put(Array("b".utf8), Array("2".utf8))
        await #expect(throws: TreeError.batchClosed) { _ = try await escaped.get(Array("a".utf8)) }
        await #expect(throws: TreeError.batchClosed) { try await escaped.put(Array("c".utf8), nil) }
        await #expect(throws: TreeError.batchClosed) { try await escaped.del(Array("a".utf8)) }
        #expect(try await tree.get(Array("a".utf8))?.value == Array("1".utf8))
    }
}
