import HyperCrypto
import HyperLog
import HyperTree
import TestSupport
import Testing

@Suite("HyperTree over a real HyperLog")
struct HyperLogSourceTests {
    @Test("a tree on a HyperLog writes the vector blocks, and a sparse verified replica reads only what a get needs")
    func writerAndSparseReplica() async throws {
        let store = MemoryLogStore()
        let kp = try Ed25519KeyPair(seed: [UInt8](repeating: 9, count: 32))
        let writerLog = try HyperLog.create(in: try store.open(name: "writer"), keyPair: kp)
        let tree = HyperTree(log: HyperLogSource(writerLog))
        for c in "abcdefghij" { try await tree.put(b(String(c)), b(String(c).uppercased())) }
        let want = (try Vectors.load("hyperbee"))["bee_a_to_j"] as! [[String: Any]]
        #expect(writerLog.length == UInt64(want.count))
        for w in want {
            let seq = UInt64(w["seq"] as! Int)
            #expect(try writerLog.get(seq) == hex(w["hex"]), "block \(seq)")
        }
        // Grow the tree so a get has to skip most blocks.
        try await tree.apply((0..<2000).map { .put(key: b("key\(10_000 + $0)"), value: b("v\($0)")) })

        let replicaLog = try HyperLog.replica(
            in: try store.open(name: "replica"), key: writerLog.key, manifest: writerLog.identity.manifest)
        let source = HyperLogSource(replicaLog, remote: LocalProofSource(writerLog))
        #expect(try await source.update() == writerLog.length)
        let reader = HyperTree(log: source)
        let trace = QueryTrace()
        #expect(try await reader.get(b("key11234"), trace: trace)?.value == b("v1234"))
        #expect(try await reader.get(b("c"))?.value == b("C"))
        let held = replicaLog.bitfield.count(0, replicaLog.length)
        #expect(trace.blocksFetched > 0)
        // Two gets with the default prefetch (a node's keys and children per round trip): still a small fraction.
        #expect(held < 80, "replica holds \(held) of \(replicaLog.length) blocks")
        #expect(try replicaLog.verify() == UInt64(held))
        // Writes on a replica are refused.
        await #expect(throws: TreeError.readOnly) { try await reader.put(b("x"), nil) }
        // Length updates come through for watch.
        let updates = tree.log.lengthUpdates()
        try await tree.put(b("late"), b("1"))
        var it = updates.makeAsyncIterator()
        #expect(await it.next() == writerLog.length)
    }
}
