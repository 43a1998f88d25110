import Foundation
import HyperCrypto
import LMDBKit
import TestSupport
import Testing

@testable import HyperLog

@Suite("Append pipeline: hashing beside the storage writes")
struct PipelinedWriteTests {
    struct Refused: Error {}

    @Test("LeafHashJob with helper threads equals libsodium on large and small random batches")
    func jobMatchesReference() {
        var rng = SeededGenerator(seed: 0x10b)
        for count in [0, 1, 5, 16, 64, 400, 1100] {
            var blocks = LeafHashingTests.randomBatch(count: count, using: &rng)
            if count >= 400 { blocks += (0..<300).map { _ in [UInt8](repeating: 7, count: 1024) } }
            let job = LeafHashJob(blocks)
            job.start()
            #expect(job.finish() == blocks.map { HypercoreCrypto.leafHash($0) }, "\(blocks.count) blocks")
        }
    }

    @Test("LMDB write(head, then:) calls tail once even when the map grows and the transaction reruns")
    func tailOnceAcrossMapGrowth() throws {
        let dir = temporaryDirectory("pipeline-grow")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try LMDBLogStore(path: dir, durable: false, initialMapSize: 1 << 20)
        defer { store.close() }
        let storage = try store.open(name: "p")
        var head = LogWriteBatch()
        for i in 0..<300 {
            head.put(.blocks, LogKeys.u64(UInt64(i)), [UInt8](repeating: UInt8(i & 0xff), count: 10_000))
        }
        var calls = 0
        try storage.write(head) {
            calls += 1
            var tail = LogWriteBatch()
            tail.put(.meta, Array("after".utf8), [1, 2, 3])
            return tail
        }
        #expect(calls == 1)
        #expect(store.environment.currentMapSize > 1 << 20)
        let (first, last, meta) = try storage.read { r in
            (
                try r.get(.blocks, LogKeys.u64(0)), try r.get(.blocks, LogKeys.u64(299)),
                try r.get(.meta, Array("after".utf8))
            )
        }
        #expect(first == [UInt8](repeating: 0, count: 10_000))
        #expect(last == [UInt8](repeating: UInt8(299 & 0xff), count: 10_000))
        #expect(meta == [1, 2, 3])
    }

    @Test("a throwing tail writes nothing, on LMDB and in memory")
    func throwingTailWritesNothing() throws {
        let dir = temporaryDirectory("pipeline-throw")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try LMDBLogStore(path: dir, durable: false)
        defer { store.close() }
        for storage in [try store.open(name: "t"), try MemoryLogStore().open(name: "t")] {
            var head = LogWriteBatch()
            head.put(.blocks, LogKeys.u64(0), [9, 9])
            #expect(throws: Refused.self) { try storage.write(head) { throw Refused() } }
            #expect(try storage.read { try $0.get(.blocks, LogKeys.u64(0)) } == nil)
        }
    }

    @Test("appends of large batches (parallel hashing during the writes) verify and match a memory log byte for byte")
    func largeAppendsMatchMemory() throws {
        let dir = temporaryDirectory("pipeline-append")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try LMDBLogStore(path: dir, durable: false)
        defer { store.close() }
        let keyPair = try Ed25519KeyPair(seed: [UInt8](repeating: 3, count: 32))
        let lmdb = try HyperLog.create(in: try store.open(name: "a"), keyPair: keyPair)
        let memory = try HyperLog.create(in: try MemoryLogStore().open(name: "a"), keyPair: keyPair)
        var rng = SeededGenerator(seed: 99)
        for batch in 0..<4 {
            let blocks = (0..<(batch == 2 ? 3 : 500)).map { i in
                (0..<(i % 7 == 0 ? Int.random(in: 0...3000, using: &rng) : 1024)).map { _ in
                    UInt8.random(in: 0...255, using: &rng)
                }
            }
            try lmdb.append(blocks)
            for b in blocks { try memory.append(b) }
            #expect(lmdb.roots == memory.roots, "batch \(batch)")
            #expect(lmdb.treeHash == memory.treeHash)
        }
        #expect(try lmdb.verify() == lmdb.length)
        for i in stride(from: UInt64(0), to: lmdb.length, by: 97) {
            #expect(try lmdb.node(2 * i) == memory.node(2 * i))
            #expect(try lmdb.get(i) == memory.get(i))
        }
    }
}

@Suite("Bitfield ranges")
struct BitfieldRangeTests {
    @Test("word-at-a-time setRange equals setting bit by bit over random ranges across page edges")
    func matchesBitByBit() {
        var rng = SeededGenerator(seed: 0xb17)
        var fast = Bitfield()
        var slow = Bitfield()
        for _ in 0..<150 {
            let start = UInt64.random(in: 0..<100_000, using: &rng)
            let length = [0, 1, 5, 31, 32, 33, 64, 1000, 40_000][Int.random(in: 0..<9, using: &rng)]
            let value = Int.random(in: 0..<3, using: &rng) != 0
            fast.setRange(start, start + UInt64(length), value)
            slow.setRangeBitByBit(start, start + UInt64(length), value)
        }
        for i in stride(from: UInt64(0), to: 150_000, by: 1) where fast.get(i) != slow.get(i) {
            Issue.record("bit \(i) differs")
            break
        }
        #expect(fast.firstUnset(from: 0) == slow.firstUnset(from: 0))
        #expect(fast == slow)  // same pages, same dirty set
    }
}
