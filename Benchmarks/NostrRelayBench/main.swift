// NostrRelayBench: engine-level figures for issue 4 (release build only).
//   swift run -c release NostrRelayBench [events=20000] [stored=100000]
// Prints the single-core BIP-340 verification rate (the baseline), then ingest rates through the engine
// (store only, and full EVENT->OK through Relay with 8 connections, durable HyperTree/LMDB store with fsync),
// each with its ratio to the baseline, then REQ->EOSE latencies on `stored` events.
import Foundation
import HyperCrypto
import Logging
import NostrRelay

let args = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let ingestCount = args.count > 0 ? args[0] : 20_000
let storedCount = args.count > 1 ? args[1] : 100_000
let authors = 200
/// NOSTR_RELAY_BENCH_ONLY=engine|store runs only that phase after the baseline (for profiling).
let only = ProcessInfo.processInfo.environment["NOSTR_RELAY_BENCH_ONLY"]
let onlyEngine = only == "engine"
let onlyStore = only == "store"

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func secret(_ i: Int) -> [UInt8] {
    [UInt8](repeating: 0, count: 28) + withUnsafeBytes(of: UInt32(i + 1).bigEndian, Array.init)
}

print("NostrRelayBench: signing \(max(ingestCount, storedCount)) events...")
let secrets = (0..<authors).map(secret)
var events: [NostrEvent] = []
events.reserveCapacity(max(ingestCount, storedCount))
let baseTime: Int64 = 1_700_000_000
for i in 0..<max(ingestCount, storedCount) {
    let kind = [1, 1, 1, 7, 6, 1_111][i % 6]
    let tags = [["t", "topic\(i % 50)"], ["p", String(repeating: "ab", count: 32)]]
    events.append(
        try NostrEvent.signed(
            secretKey: secrets[i % authors], createdAt: baseTime + Int64(i / 3), kind: kind, tags: tags,
            content: "benchmark note \(i) with some text to make it a realistic size for a short note"))
}

// 1. Baseline: single-core verification (id recomputation + BIP-340), the physical limit of ingest.
var t0 = now()
var verified = 0
for e in events.prefix(ingestCount) where (try? e.verify()) != nil { verified += 1 }
let verifyRate = Double(verified) / (now() - t0)
print(String(format: "baseline  single-core verify (id + BIP-340): %.0f events/s", verifyRate))

/// Per-stage totals of the store's group commits (`IndexedEventStore.lastInsertStages`).
struct StageSum {
    var checks = 0.0, lookups = 0.0, keys = 0.0, apply = 0.0, treeOps = 0.0, encode = 0.0, append = 0.0, cache = 0.0
    var lookupCount = 0, blocks = 0
    mutating func add(_ s: InsertStages) {
        func sec(_ d: Duration) -> Double { Double(d / .nanoseconds(1)) / 1e9 }
        checks += sec(s.checks)
        lookups += sec(s.lookups)
        keys += sec(s.indexKeys)
        apply += sec(s.apply)
        lookupCount += s.lookupCount
        if let t = s.tree {
            treeOps += sec(t.operations)
            encode += sec(t.encode)
            append += sec(t.append)
            cache += sec(t.cacheWarm)
            blocks += t.blocks
        }
    }
    func report(total: Double, events: Int) -> String {
        func part(_ name: String, _ v: Double) -> String {
            String(format: "%@ %.1f us/event (%.0f%%)", name, v / Double(events) * 1e6, v / total * 100)
        }
        var lines = [
            "          stages: " + part("checks", checks) + ", of which " + part("store reads", lookups)
                + String(format: " [%.1f reads/event]", Double(lookupCount) / Double(events)),
            "                  " + part("index keys", keys) + ", " + part("kv apply", apply),
        ]
        if blocks > 0 {
            lines.append(
                "                  apply = " + part("tree puts", treeOps) + ", " + part("encode", encode) + ", "
                    + part("log append", append) + ", " + part("cache warm", cache)
                    + String(format: " [%.1f blocks/event]", Double(blocks) / Double(events)))
        }
        return lines.joined(separator: "\n")
    }
}

func tempDir() -> String {
    let p = FileManager.default.temporaryDirectory.appendingPathComponent("relaybench-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
    return p
}
let keyPair = try Ed25519KeyPair(seed: [UInt8](repeating: 3, count: 32))

// 2. Store-only ingest in groups of 1024 events.
for (name, durable) in [("memory KV", false), ("HyperTree+LMDB fsync", true)] where !onlyEngine {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let store: IndexedEventStore =
        durable
        ? try IndexedEventStore.durable(path: dir, keyPair: keyPair).store : IndexedEventStore(kv: InMemoryOrderedKV())
    t0 = now()
    var i = 0
    var sum = StageSum()
    while i < ingestCount {
        let group = Array(events[i..<min(i + 1024, ingestCount)])
        _ = try await store.insert(group)
        if let s = store.lastInsertStages { sum.add(s) }
        i += group.count
    }
    let elapsed = now() - t0
    let rate = Double(ingestCount) / elapsed
    print(
        String(
            format: "store     insert, %@, groups of 1024: %.0f events/s (%.2fx baseline)", name, rate,
            rate / verifyRate))
    print(sum.report(total: elapsed, events: ingestCount))
    try await store.close()
}

// 3. Full engine: EVENT frames on 8 connections -> verify -> policy -> group commit (durable) -> OK.
if onlyStore { exit(0) }
final class CountingOutbound: RelayOutbound, @unchecked Sendable {
    let lock = NSLock()
    var oks = 0
    var accepted = 0
    func send(_ text: String) -> Bool {
        lock.withLock {
            if text.hasPrefix("[\"OK\"") {
                oks += 1
                if text.contains("\",true,") { accepted += 1 }
            }
        }
        return true
    }
    func close(code: UInt16, reason: String) {}
}
do {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var config = RelayConfiguration(auth: .disabled)
    config.eventsPerIP = .unlimited
    config.eventsPerPubkey = .unlimited
    config.createdAtUpperLimit = nil
    let store = try IndexedEventStore.durable(path: dir, keyPair: keyPair).store
    let relay = Relay(configuration: config, store: store, policy: OpenWritePolicy(), logger: Logger(label: "bench"))
    let frames = events.prefix(ingestCount).map { "[\"EVENT\",\($0.json)]" }
    let connections = 8
    let outs = (0..<connections).map { _ in CountingOutbound() }
    let conns = outs.enumerated().map { relay.connect(remoteAddress: "10.0.0.\($0.offset)", outbound: $0.element) }
    t0 = now()
    await withTaskGroup(of: Void.self) { group in
        for c in 0..<connections {
            group.addTask {
                var i = c
                while i < frames.count {
                    await conns[c].receive(frames[i])
                    i += connections
                }
            }
        }
    }
    await relay.flush()
    let elapsed = now() - t0
    let accepted = outs.reduce(0) { $0 + $1.accepted }
    let rate = Double(accepted) / elapsed
    print(
        String(
            format:
                "engine    EVENT->OK, 8 connections, durable HyperTree/LMDB: %.0f events/s (%.2fx baseline, target >= 0.40x); %d OK true of %d",
            rate, rate / verifyRate, accepted, frames.count))
    try await relay.shutdown()
}

// 4. REQ->EOSE latency on `stored` events (HyperTree over LMDB, no fsync for the load phase).
if !onlyEngine {
    let dir = tempDir()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let store = try IndexedEventStore.durable(path: dir, keyPair: keyPair, durable: false).store
    t0 = now()
    var i = 0
    while i < storedCount {
        let group = Array(events[i..<min(i + 4096, storedCount)])
        _ = try await store.insert(group)
        i += group.count
    }
    print(String(format: "load      %d events into HyperTree/LMDB in %.1f s", storedCount, now() - t0))
    var config = RelayConfiguration(auth: .disabled)
    config.queriesPerIP = .unlimited
    let relay = Relay(configuration: config, store: store, policy: OpenWritePolicy(), logger: Logger(label: "bench"))
    final class EOSEWaiter: RelayOutbound, @unchecked Sendable {
        func send(_ text: String) -> Bool { true }
        func close(code: UInt16, reason: String) {}
    }
    let conn = relay.connect(remoteAddress: "127.0.0.1", outbound: EOSEWaiter())
    let pubkeys = (0..<authors).map { Schnorr.publicKey(secretKey: secrets[$0])!.hex }
    let span = Int64(storedCount / 3)
    let shapes: [(String, (Int) -> String)] = [
        ("author+kind", { n in "{\"authors\":[\"\(pubkeys[n % authors])\"],\"kinds\":[1],\"limit\":100}" }),
        ("tag", { n in "{\"#t\":[\"topic\(n % 50)\"],\"limit\":100}" }),
        (
            "time range",
            { n in
                let since = baseTime + Int64(n * 7919) % max(1, span - 1000)
                return "{\"since\":\(since),\"until\":\(since + 1000),\"limit\":100}"
            }
        ),
    ]
    for (name, make) in shapes {
        var samples: [Double] = []
        for n in 0..<300 {
            let frame = "[\"REQ\",\"q\(n)\",\(make(n))]"
            let s = now()
            await conn.receive(frame)  // returns after EOSE is sent
            samples.append((now() - s) * 1e3)
            await conn.receive("[\"CLOSE\",\"q\(n)\"]")
        }
        samples.sort()
        func pct(_ p: Double) -> Double { samples[min(samples.count - 1, Int(Double(samples.count) * p))] }
        print(
            String(
                format: "REQ->EOSE %@ limit 100: p50 %.3f ms  p95 %.3f ms  p99 %.3f ms", name, pct(0.5), pct(0.95),
                pct(0.99)))
    }
    try await relay.shutdown()
}
