import Foundation
import NostrRelay
import TestSupport
import Testing

@testable import NostrRelayServer

@Suite("LMDB ordered key-value store")
struct LMDBOrderedKeyValueStoreTests {
    func tempDir() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("gwkv-\(UUID().uuidString)").path
    }

    func key(_ rng: inout SeededGenerator) -> [UInt8] {
        // Short keys over a small alphabet so that prefixes, equal bounds and neighbours are common.
        (0..<Int.random(in: 1...4, using: &rng)).map { _ in UInt8.random(in: 0x61...0x64, using: &rng) }
    }

    @Test("gets and ranges (bounds, reverse, limit) agree with the in-memory reference on random data")
    func differential() async throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let lmdb = try LMDBOrderedKeyValueStore(directory: dir, durable: false)
        let reference = InMemoryOrderedKV()
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<40 {
            var ops: [KVOperation] = []
            for _ in 0..<Int.random(in: 1...20, using: &rng) {
                let k = key(&rng)
                ops.append(Bool.random(using: &rng) ? .put(key: k, value: k + [1]) : .delete(key: k))
            }
            try await lmdb.apply(ops)
            try await reference.apply(ops)
        }
        for _ in 0..<400 {
            let probe = key(&rng)
            #expect(try await lmdb.get(probe) == reference.get(probe))
            var r = KVRange(reverse: Bool.random(using: &rng), limit: Int.random(in: 0...12, using: &rng))
            switch Int.random(in: 0...3, using: &rng) {
            case 0: r.gt = key(&rng)
            case 1: r.gte = key(&rng)
            default: break
            }
            switch Int.random(in: 0...3, using: &rng) {
            case 0: r.lt = key(&rng)
            case 1: r.lte = key(&rng)
            default: break
            }
            let got = try await lmdb.range(r)
            let want = try await reference.range(r)
            #expect(got == want, "range \(r)")
        }
        try await lmdb.close()
    }

    @Test("applied batches survive closing and reopening; a closed store throws")
    func durable() async throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = try LMDBOrderedKeyValueStore(directory: dir)
        try await store.apply([.put(key: [1], value: [9]), .put(key: [2], value: [8]), .delete(key: [1])])
        try await store.close()
        await #expect(throws: EventStoreError.self) { try await store.get([2]) }
        let reopened = try LMDBOrderedKeyValueStore(directory: dir)
        #expect(try await reopened.get([2]) == [8])
        #expect(try await reopened.get([1]) == nil)
        try await reopened.close()
    }
}
