import HyperCrypto
import HyperLog
import HyperTree
import TestSupport
import Testing

@testable import SwarmTransport

@Suite("HyperTree reads a remote tree through replication", .timeLimit(.minutes(2)))
struct TreeOverSwarmTests {
    static func key(_ i: Int) -> [UInt8] {
        let s = String(i)
        return Array(("key-" + String(repeating: "0", count: 8 - s.count) + s).utf8)
    }

    @Test("without prefetch a sparse get costs one request per fetched block, and the reader holds only those blocks")
    func sparseTreeGet() async throws {
        let writerLog = try HyperLog.create(
            in: MemoryLogStorage(), keyPair: try Ed25519KeyPair(seed: [UInt8](repeating: 9, count: 32)))
        let writerTree = HyperTree(log: HyperLogSource(writerLog))
        var g = SeededGenerator(seed: 3)
        let order = Array(0..<20_000).shuffled(using: &g)
        var i = 0
        while i < order.count {
            let chunk = order[i..<min(i + 1000, order.count)]
            try await writerTree.batch { b in
                for k in chunk { try await b.put(Self.key(k), Array("value-\(k)".utf8)) }
            }
            i += 1000
        }

        let readerLog = try makeReplica(of: writerLog)
        let wHub = ReplicationHub()
        wHub.add(writerLog)
        let rHub = ReplicationHub()
        let rep = rHub.add(readerLog)
        let w = replicatingNode(wHub)
        let r = replicatingNode(rHub)
        _ = try await r.connect(to: try await w.listen())
        #expect(await eventually { readerLog.length == writerLog.length })  // live upgrade, before any get

        // Without prefetch, so that every fetched block is one request awaited on its own.
        let readerTree = HyperTree(log: HyperLogSource(readerLog, remote: rep), options: .init(prefetch: .off))
        for k in [0, 12_345, 19_999] {
            let before = rep.requestsSent
            let trace = QueryTrace()
            let entry = try await readerTree.get(Self.key(k), trace: trace)
            #expect(entry?.value == Array("value-\(k)".utf8))
            let requests = rep.requestsSent - before
            #expect(requests == UInt64(trace.blocksFetched))
            #expect(trace.blocksFetched > 0 && trace.blocksFetched < 40)
        }
        #expect(readerLog.bitfield.count(0, readerLog.length) <= 120)
        #expect(try readerLog.verify() == readerLog.bitfield.count(0, readerLog.length))
        await r.shutdown()
        await w.shutdown()
    }
}
