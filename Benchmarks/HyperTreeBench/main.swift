// HyperTreeBench: HyperTree beside raw LMDB, same keys, same machine, same run.
//
//   swift run -c release HyperTreeBench [keys] [--store hyperlog|lmdb|both] [--cache-mib N (default 1536)]
//   swift run -c release HyperTreeBench --ingest EVENTS   (the relay's write shape, see IngestShape.swift)
//
// Workloads: batched put (1,000 keys per batch), random get, 10,000-key range scans. Every figure is printed
// with the raw LMDB figure measured in this run and the ratio (HyperTree throughput / LMDB throughput).
import Foundation
import HyperCrypto
import HyperLog
import HyperTree
import LMDBKit

let args = CommandLine.arguments.dropFirst()
let totalKeys = args.first.flatMap { Int($0) } ?? 1_000_000
let storeChoice: String = {
    if let i = args.firstIndex(of: "--store"), args.index(after: i) < args.endIndex {
        return args[args.index(after: i)]
    }
    return "both"
}()
let batchSize = 1000
let getCount = 200_000
let rangeLength = 10_000
let rangeRuns = 40
let cacheBytes: Int = {
    if let i = args.firstIndex(of: "--cache-mib"), args.index(after: i) < args.endIndex,
        let m = Int(args[args.index(after: i)])
    {
        return m << 20
    }
    return 1536 << 20
}()

@inline(__always) func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// 17-byte keys in random order ("k" + 16 hex digits), 32-byte values.
func key(_ i: Int) -> [UInt8] {
    let v = mix(UInt64(i))
    var out: [UInt8] = [UInt8(ascii: "k")]
    out.reserveCapacity(17)
    let digits = Array("0123456789abcdef".utf8)
    for s in stride(from: 60, through: 0, by: -4) { out.append(digits[Int((v >> UInt64(s)) & 0xF)]) }
    return out
}
func value(_ i: Int) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: i &+ $0) } }

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func tempDir(_ name: String) -> String {
    let p = NSTemporaryDirectory() + "hypertree-bench-\(getpid())-\(name)"
    try? FileManager.default.removeItem(atPath: p)
    try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}

func report(_ label: String, ops: Int, tree: Duration, raw: Duration) -> Double {
    let t = Double(ops) / seconds(tree)
    let r = Double(ops) / seconds(raw)
    let ratio = t / r
    print(
        String(
            format: "%-34@ %12.0f ops/s   raw LMDB %12.0f ops/s   ratio %.3fx", label as NSString, t, r, ratio))
    return ratio
}

if let i = args.firstIndex(of: "--ingest"), args.index(after: i) < args.endIndex,
    let n = Int(args[args.index(after: i)])
{
    try await IngestShape(events: n).run()
    exit(0)
}

let keys = (0..<totalKeys).map(key)
let values = (0..<totalKeys).map(value)
var g = SystemRandomNumberGenerator()
let getIdx = (0..<getCount).map { _ in Int.random(in: 0..<totalKeys, using: &g) }
let sortedKeys = keys.sorted { $0.lexicographicallyPrecedes($1) }
let rangeStarts = (0..<rangeRuns).map { _ in sortedKeys[Int.random(in: 0..<(totalKeys - rangeLength), using: &g)] }

// MARK: raw LMDB baseline, measured interleaved with the tree (same batch / same keys back to back), so load
// from other processes hits both sides alike.

print(
    "HyperTreeBench: \(totalKeys) keys, batches of \(batchSize), \(getCount) random gets, \(rangeRuns) scans of \(rangeLength)"
)
let clock = ContinuousClock()

func rawEnvironment(_ name: String) throws -> (LMDBEnvironment, LMDBDatabase) {
    var lo = LMDBEnvironment.Options()
    lo.durable = false
    lo.initialMapSize = 1 << 30
    let env = try LMDBEnvironment(path: tempDir(name), options: lo)
    return (env, try env.database(named: "kv"))
}

struct Timings {
    var tree: Duration = .zero
    var raw: Duration = .zero
}

@MainActor func runTree(_ label: String, log: any TreeLog) async throws -> [Double] {
    print("-- HyperTree over \(label) (cache bound \(cacheBytes >> 20) MiB) vs raw LMDB, interleaved")
    let (rawEnv, rawDB) = try rawEnvironment("raw-" + label.prefix(4))
    let tree = HyperTree(log: log, options: .init(cacheBytes: cacheBytes))

    var put = Timings()
    var i = 0
    while i < totalKeys {
        let end = min(i + batchSize, totalKeys)
        let start = i
        put.raw += try clock.measure {
            try rawEnv.write { txn in
                for j in start..<end { try txn.put(rawDB, key: keys[j], value: values[j]) }
            }
        }
        put.tree += try await clock.measure {
            try await tree.batch { b in
                for j in start..<end { try await b.put(keys[j], values[j]) }
            }
        }
        i = end
    }

    var checksum = 0
    var rawChecksum = 0
    // Steady state, as in a long-running server: one untimed full scan on each side (fills the tree's caches and
    // LMDB's page cache), then measure in chunks of 1,000 alternating sides.
    var warm = 0
    for try await e in tree.range() { warm &+= e.key.count }
    try rawEnv.read { txn in
        try txn.scan(rawDB) { k, _ in
            warm &+= k.count
            return true
        }
    }
    precondition(warm == 2 * keys.reduce(0) { $0 + $1.count })
    var get = Timings()
    var c = 0
    while c < getIdx.count {
        let chunk = getIdx[c..<min(c + 1000, getIdx.count)]
        get.raw += try clock.measure {
            for i in chunk {
                let v = try rawEnv.read { txn in try txn.get(rawDB, key: keys[i]) }
                rawChecksum &+= v!.count
            }
        }
        get.tree += try await clock.measure {
            for i in chunk { checksum &+= try await tree.get(keys[i])!.value!.count }
        }
        c += 1000
    }
    precondition(checksum > 0 && rawChecksum > 0)

    var range = Timings()
    var scanned = 0
    var rawScanned = 0
    for start in rangeStarts {
        range.raw += try clock.measure {
            try rawEnv.read { txn in
                var n = 0
                try txn.scan(rawDB, from: start) { k, v in
                    let kb = Array(k)
                    let vb = Array(v)
                    rawScanned &+= kb.count &+ vb.count
                    n += 1
                    return n < rangeLength
                }
            }
        }
        range.tree += try await clock.measure {
            for try await e in tree.range(RangeOptions(gte: start, limit: rangeLength)) {
                scanned &+= e.key.count &+ (e.value?.count ?? 0)
            }
        }
    }
    precondition(scanned == rawScanned, "range scan mismatch \(scanned) vs \(rawScanned)")
    if let rep = ProcessInfo.processInfo.environment["HT_RANGE_REPEAT"].flatMap({ Int($0) }) {
        // Diagnostics: repeated scans, wall time and process CPU time per entry.
        func cpu() -> Double {
            var u = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
            return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec)
                + Double(u.ru_stime.tv_usec) / 1e6
        }
        for side in ["tree", "raw", "tree", "raw"] {
            let c0 = cpu()
            var n = 0
            let d = try await clock.measure {
                for r in 0..<rep {
                    let start = rangeStarts[r % rangeStarts.count]
                    if side == "tree" {
                        for try await e in tree.range(RangeOptions(gte: start, limit: rangeLength)) {
                            n &+= e.key.count
                        }
                    } else {
                        try rawEnv.read { txn in
                            var k = 0
                            try txn.scan(rawDB, from: start) { kk, v in
                                n &+= Array(kk).count &+ Array(v).count
                                k += 1
                                return k < rangeLength
                            }
                        }
                    }
                }
            }
            let entries = Double(rep * rangeLength)
            print(
                String(
                    format: "   %@ scan: %.0f ns/entry wall, %.0f ns/entry cpu", side, seconds(d) * 1e9 / entries,
                    (cpu() - c0) * 1e9 / entries), n)
        }
    }
    let r1 = report("batched put (1,000/batch)", ops: totalKeys, tree: put.tree, raw: put.raw)
    let r2 = report("random get", ops: getCount, tree: get.tree, raw: get.raw)
    let r3 = report("range scan (10,000 keys)", ops: rangeRuns * rangeLength, tree: range.tree, raw: range.raw)
    let stats = tree.cacheStats
    print("   log length \(log.length), cache \(stats.blocks) blocks + \(stats.nodes) nodes, \(stats.bytes >> 20) MiB")
    return [r1, r2, r3]
}

var results: [String: [Double]] = [:]
if storeChoice == "lmdb" || storeChoice == "both" {
    results["lmdb"] = try await runTree("a plain LMDB block store", log: try LMDBBlockLog(path: tempDir("blocks")))
}
if storeChoice == "hyperlog" || storeChoice == "both" {
    let store = try LMDBLogStore(path: tempDir("hyperlog"), durable: false, initialMapSize: 1 << 30)
    let kp = try Ed25519KeyPair(seed: [UInt8](repeating: 3, count: 32))
    let hl = try HyperLog.create(in: try store.open(name: "tree"), keyPair: kp)
    results["hyperlog"] = try await runTree("HyperLog (LMDB, signed Merkle log)", log: HyperLogSource(hl))
}
let targets = [0.2, 0.25, 0.25]
for (name, r) in results.sorted(by: { $0.key < $1.key }) {
    let ok = zip(r, targets).map { $0 >= $1 ? "ok" : "BELOW" }
    print("targets (\(name)): put >= 0.2x \(ok[0]), get >= 0.25x \(ok[1]), range >= 0.25x \(ok[2])")
}
