// The relay's write shape without the relay: groups of 1,024 "events", each 7 puts (a 32-byte id key with a
// ~400-byte body, and six index keys of 90-180 bytes with a 64-byte hex value), one HyperTree batch per group over
// a durable (fsync) HyperLog, beside raw LMDB puts of the same keys and values in one durable transaction per
// group. Prints the tree's per-stage cost per block (HyperTree.lastCommitTimings) and the ratio to raw LMDB.
//
//   HyperTreeBench --ingest EVENTS
import Foundation
import HyperCrypto
import HyperLog
import HyperTree
import LMDBKit

struct IngestShape {
    let events: Int
    let group = 1024

    /// The seven (key, value) pairs of event `i`, shaped like the relay index scheme.
    static func puts(_ i: Int) -> [([UInt8], [UInt8])] {
        var id: [UInt8] = []
        id.reserveCapacity(32)
        for w in 0..<4 { withUnsafeBytes(of: mix(UInt64(i) &* 4 &+ UInt64(w))) { id.append(contentsOf: $0) } }
        let idHex = Array(id.hex.utf8)
        let pubkey = Array(Hex.encode(Array(id.reversed())).utf8)
        let created = Array(String(1_700_000_000 + i / 3).utf8)
        let kind = Array(String(format: "%05d", Int(mix(UInt64(i)) % 4)).utf8)
        let tagValue = Array(Hex.encode(Array(id[16...] + id[..<16])).utf8)
        func cat(_ parts: [[UInt8]]) -> [UInt8] { parts.flatMap { $0 } }
        let tail = cat([Array(":created_at:".utf8), created, Array(":id:".utf8), idHex])
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 360 + Int(mix(UInt64(i)) % 80))
        return [
            (id, body),
            (cat([Array("kind:".utf8), kind, tail]), idHex),
            (cat([Array("pubkey:".utf8), pubkey, tail]), idHex),
            (cat([Array("created_at:".utf8), created, Array(":id:".utf8), idHex]), idHex),
            (cat([Array("tagKey:e:tagValue:".utf8), tagValue, tail]), idHex),
            (cat([Array("tagKey:p:tagValue:".utf8), pubkey, tail]), idHex),
            (cat([Array("tagKey:t:tagValue:nostr".utf8), tail]), idHex),
        ]
    }

    @MainActor func run() async throws {
        let clock = ContinuousClock()
        print("-- ingest shape: \(events) events x 7 puts, groups of \(group), durable HyperLog vs durable raw LMDB")
        let store = try LMDBLogStore(path: tempDir("ingest-log"), durable: true)
        let kp = try Ed25519KeyPair(seed: [UInt8](repeating: 5, count: 32))
        let hl = try HyperLog.create(in: try store.open(name: "relay"), keyPair: kp)
        let tree = HyperTree(log: HyperLogSource(hl), options: .init(cacheBytes: 256 << 20))
        var lo = LMDBEnvironment.Options()
        lo.durable = true
        let rawEnv = try LMDBEnvironment(path: tempDir("ingest-raw"), options: lo)
        let rawDB = try rawEnv.database(named: "kv")

        /// CPU time of the whole process (every thread: the writer, leaf-hash helpers, background frees), immune to
        /// preemption by other processes on a shared machine.
        func processCPU() -> Double {
            var u = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
            return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec)
                + Double(u.ru_stime.tv_usec) / 1e6
        }
        var treeCPU = 0.0
        var treeTime = Duration.zero
        var rawTime = Duration.zero
        var sum = CommitTimings()
        var start = 0
        while start < events {
            let end = min(start + group, events)
            let ops = (start..<end).flatMap { Self.puts($0) }
            rawTime += try clock.measure {
                try rawEnv.write { txn in for (k, v) in ops { try txn.put(rawDB, key: k, value: v) } }
            }
            let treeOps: [TreeOperation] = ops.map { .put(key: $0.0, value: $0.1) }
            let cpu0 = processCPU()
            treeTime += try await clock.measure { try await tree.apply(treeOps) }
            treeCPU += processCPU() - cpu0
            if let t = tree.lastCommitTimings {
                sum.operations += t.operations
                sum.encode += t.encode
                sum.append += t.append
                sum.cacheWarm += t.cacheWarm
                sum.blocks += t.blocks
            }
            start = end
        }
        let blocks = Double(sum.blocks)
        func us(_ d: Duration) -> String { String(format: "%.2f", seconds(d) * 1e6 / blocks) }
        print(
            "   per block: puts \(us(sum.operations)) us, encode \(us(sum.encode)) us, log append \(us(sum.append)) us, "
                + "cache warm \(us(sum.cacheWarm)) us; batch total \(us(treeTime)) us")
        let stagesCPU = sum.operations + sum.encode + sum.cacheWarm
        print(
            "   tree CPU (puts + encode + cache warm) \(us(stagesCPU)) us/block; per event x7: "
                + String(format: "%.1f", seconds(stagesCPU + sum.append) * 1e6 / Double(events)) + " us")
        print(
            String(
                format: "   process CPU during the batches %.2f us/block (wall %.2f)", treeCPU * 1e6 / blocks,
                seconds(treeTime) * 1e6 / blocks))
        _ = report("ingest-shaped batch (7 puts/event)", ops: Int(blocks), tree: treeTime, raw: rawTime)
        hl.close()
        store.close()
    }
}
