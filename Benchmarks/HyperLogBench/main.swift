// HyperLogBench: HyperLog append and random-get throughput beside raw LMDB puts/gets of the same bytes, measured in
// the same run. Usage: swift run -c release HyperLogBench [batches] [gets]
import Foundation
import HyperCrypto
import HyperLog
import LMDBKit

let batches = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 20 : 20
let gets = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 200_000 : 200_000
let batchSize = 1000
let blockSize = 1024
let rounds = 3

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func freshDir(_ name: String) -> String {
    let p = NSTemporaryDirectory() + "hyperlogbench-\(name)-\(getpid())"
    try? FileManager.default.removeItem(atPath: p)
    return p
}
func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

var rng = SystemRandomNumberGenerator()
let payload: [[UInt8]] = (0..<batchSize).map { i in
    (0..<blockSize).map { j in UInt8(truncatingIfNeeded: i &* 31 &+ j &* 7) }
}
func key(_ i: UInt64) -> [UInt8] { withUnsafeBytes(of: i.bigEndian) { Array($0) } }

/// Raw LMDB: one write transaction per batch of 1000 puts (8-byte key, 1 KiB value).
func rawAppend(durable: Bool) throws -> (Double, LMDBEnvironment, LMDBDatabase, String) {
    let dir = freshDir("raw")
    var o = LMDBEnvironment.Options()
    o.durable = durable
    o.initialMapSize = 256 << 20
    let env = try LMDBEnvironment(path: dir, options: o)
    let db = try env.database(named: "raw")
    var n: UInt64 = 0
    sync()  // start from a clean page cache: no writeback of an earlier run competes with this one
    let t0 = now()
    for _ in 0..<batches {
        try env.write { txn in
            for b in payload {
                try key(n).withUnsafeBytes { k in try b.withUnsafeBytes { v in try txn.put(db, key: k, value: v) } }
                n += 1
            }
        }
    }
    return (now() - t0, env, db, dir)
}

/// HyperLog: one `append` (hash, tree nodes, bitfield, header, signature; one transaction) per batch of 1000.
func logAppend(durable: Bool) throws -> (Double, HyperLog, LMDBLogStore, String) {
    let dir = freshDir("log")
    let store = try LMDBLogStore(path: dir, durable: durable, initialMapSize: 256 << 20)
    let log = try HyperLog.create(in: try store.open(name: "bench"), keyPair: .generate())
    sync()  // start from a clean page cache: no writeback of an earlier run competes with this one
    let t0 = now()
    for _ in 0..<batches { try log.append(payload) }
    return (now() - t0, log, store, dir)
}

/// CPU floor of an append: BLAKE2b leaf hashes of the same bytes (no storage).
func hashOnly() -> Double {
    let t0 = now()
    var x: UInt8 = 0
    for _ in 0..<batches { for b in payload { x ^= HypercoreCrypto.leafHash(b)[0] } }
    let t = now() - t0
    precondition(x != 1 || t > 0)
    return t
}

/// What `append` pays for leaf hashing: `HypercoreCrypto.leafHashes` per batch (SIMD lanes, several cores).
func hashBatches() -> Double {
    let t0 = now()
    var x: UInt8 = 0
    for _ in 0..<batches { x ^= HypercoreCrypto.leafHashes(payload)[0][0] }
    let t = now() - t0
    precondition(x != 1 || t > 0)
    return t
}

let total = Double(batches * batchSize)
/// Storage that discards writes: isolates HyperLog's own CPU cost (hashing, tree, batch building, signing).
final class NullStorage: LogStorage, @unchecked Sendable {
    struct Empty: LogStorageReader {
        func withValue<T>(_ table: LogTable, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> T) throws -> T
        {
            try body(nil)
        }
        func scan(
            _ table: LogTable, from: [UInt8]?, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
        ) throws {}
    }
    func read<T>(_ body: (any LogStorageReader) throws -> T) throws -> T { try body(Empty()) }
    func write(_ batch: LogWriteBatch) throws {}
    func close() {}
    func usage(_ table: LogTable) throws -> StorageUsage { StorageUsage(entries: 0, pages: 0) }
}

if CommandLine.arguments.count > 3 && CommandLine.arguments[3] == "cpu-only" {
    let log = try HyperLog.create(in: NullStorage(), keyPair: .generate())
    for _ in 0..<5 {
        let t0 = now()
        for _ in 0..<batches { try log.append(payload) }
        let t = now() - t0
        let h = hashOnly()
        let hb = hashBatches()
        print(
            String(
                format:
                    "append CPU only: %.0f blocks/s; leaf hashing alone: one by one %.0f blocks/s, batched %.0f blocks/s",
                total / t, total / h, total / hb))
    }
    exit(0)
}
if CommandLine.arguments.count > 3 && CommandLine.arguments[3] == "profile-raw" {
    // Only raw LMDB puts without fsync (for a profiler).
    for _ in 0..<5 {
        let (t, env, _, dir) = try rawAppend(durable: false)
        env.close()
        try? FileManager.default.removeItem(atPath: dir)
        print(String(format: "%.3f s", t))
    }
    exit(0)
}
if CommandLine.arguments.count > 3 && CommandLine.arguments[3] == "profile-append" {
    // Only HyperLog appends without fsync (for a profiler).
    for _ in 0..<5 {
        let (t, _, store, dir) = try logAppend(durable: false)
        store.close()
        try? FileManager.default.removeItem(atPath: dir)
        print(String(format: "%.3f s", t))
    }
    exit(0)
}
let mb = total * Double(blockSize) / 1e6
print("HyperLogBench: \(batches) batches x \(batchSize) blocks x \(blockSize) B (\(Int(mb)) MB), \(gets) random gets")
print("median of \(rounds) alternating rounds; each log/baseline pair runs in the same process\n")

for durable in [true, false] {
    var rawTimes: [Double] = []
    var logTimes: [Double] = []
    var rawGet: [Double] = []
    var logGet: [Double] = []
    for _ in 0..<rounds {
        let (rt, env, db, rdir) = try rawAppend(durable: durable)
        let (lt, log, store, ldir) = try logAppend(durable: durable)
        rawTimes.append(rt)
        logTimes.append(lt)
        if rawTimes.count == 1 {
            let size = { (d: String) in
                ((try? FileManager.default.attributesOfItem(atPath: d + "/data.mdb"))?[.size] as? Int ?? 0) / 1_000_000
            }
            let rawPages = try env.info().lastPage
            let logPages = try store.environment.info().lastPage
            print(
                "  (\(durable ? "durable" : "no fsync") file: raw \(size(rdir)) MB / \(rawPages) pages, log \(size(ldir)) MB / \(logPages) pages)"
            )
        }
        if durable {
            // Random gets on the stores just written (copying each value out).
            let indices = (0..<gets).map { _ in UInt64.random(in: 0..<UInt64(total), using: &rng) }
            var sink = 0
            var t0 = now()
            for i in indices {
                let v = try env.read { txn in try txn.get(db, key: key(i)) }
                sink &+= v!.count
            }
            rawGet.append(now() - t0)
            t0 = now()
            for i in indices { sink &+= try log.get(i).count }
            logGet.append(now() - t0)
            precondition(sink == 2 * gets * blockSize)
        }
        env.close()
        store.close()
        try? FileManager.default.removeItem(atPath: rdir)
        try? FileManager.default.removeItem(atPath: ldir)
    }
    let label = durable ? "durable (fsync per batch)" : "no fsync"
    let r = median(rawTimes)
    let l = median(logTimes)
    print("append, \(label):")
    print(String(format: "  raw LMDB puts : %9.0f blocks/s  %7.1f MB/s", total / r, mb / r))
    print(String(format: "  HyperLog      : %9.0f blocks/s  %7.1f MB/s", total / l, mb / l))
    print(String(format: "  ratio HyperLog / raw = %.2fx (target >= 0.5x)\n", r / l))
    if !durable {
        let h = hashOnly()
        let hb = hashBatches()
        print(String(format: "  (leaf hashing alone, one by one: %9.0f blocks/s  %7.1f MB/s)", total / h, mb / h))
        print(String(format: "  (leaf hashing alone, batched   : %9.0f blocks/s  %7.1f MB/s)\n", total / hb, mb / hb))
    }
    if durable {
        let rg = median(rawGet)
        let lg = median(logGet)
        print("random get (1 KiB, copied out):")
        print(String(format: "  raw LMDB gets : %9.0f gets/s", Double(gets) / rg))
        print(String(format: "  HyperLog get  : %9.0f gets/s", Double(gets) / lg))
        print(String(format: "  ratio HyperLog / raw = %.2fx (target >= 0.5x)\n", rg / lg))
    }
}
