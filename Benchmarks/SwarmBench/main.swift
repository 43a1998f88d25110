// SwarmBench: replication throughput over loopback with encryption vs a plain TCP copy of the same bytes.
//
// Run: swift build -c release --product SwarmBench && .build/release/SwarmBench [megabytes]
import Foundation
import HyperCrypto
import HyperLog
import HyperTree
import NIOCore
import NIOPosix
import SwarmTransport

// Arguments: [megabytes (100)] [tree keys (1000000)]
let megabytes = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 100 : 100
let treeKeys = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 1_000_000 : 1_000_000
// Optional third argument "replication" or "stream": only that phase, 10 rounds with CPU time (for profiling).
let phaseOnly = CommandLine.arguments.count > 3 ? CommandLine.arguments[3] : nil
// SWARMBENCH_VERIFY_ON_LOOP=1: verify and store received blocks on the event loop (Replicator.verifyOffLoop false).
let verifyOffLoop = ProcessInfo.processInfo.environment["SWARMBENCH_VERIFY_ON_LOOP"] != "1"
// SWARMBENCH_INFLIGHT=n: requests in flight per peer during the download (default 32).
let inflight = ProcessInfo.processInfo.environment["SWARMBENCH_INFLIGHT"].flatMap { Int($0) } ?? 32
let blockSize = 64 * 1024
let blockCount = megabytes * 1024 * 1024 / blockSize
let totalBytes = blockCount * blockSize
let group = MultiThreadedEventLoopGroup.singleton

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// User + system CPU time of this process so far (all threads), in seconds.
func processCPUSeconds() -> Double {
    var u = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec)
        + Double(u.ru_stime.tv_usec) / 1e6
}

// MARK: plain TCP copy

final class CountingHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    var received = 0
    let expected: Int
    let done: EventLoopPromise<Void>
    init(expected: Int, done: EventLoopPromise<Void>) {
        self.expected = expected
        self.done = done
    }
    /// When true, every received chunk is also copied into a new array that is kept (as a memory store keeps blocks).
    var store = false
    var stored: [[UInt8]] = []
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readableBytes
        if store { stored.append(buffer.readBytes(length: buffer.readableBytes)!) }
        if received >= expected { done.succeed(()) }
    }
}

/// Wall and process CPU seconds of the transfer (set-up excluded).
/// With `store`, the receiver also keeps a copy of every byte in fresh memory (a reference row: what storing alone
/// costs on this machine).
func plainCopy(blocks: [[UInt8]], store: Bool = false) async throws -> (wall: Double, cpu: Double) {
    let done = group.next().makePromise(of: Void.self)
    let server = try await ServerBootstrap(group: group)
        .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { ch in
            ch.eventLoop.makeCompletedFuture {
                let counter = CountingHandler(expected: totalBytes, done: done)
                counter.store = store
                try ch.pipeline.syncOperations.addHandler(counter)
            }
        }
        .bind(host: "127.0.0.1", port: 0).get()
    let client = try await ClientBootstrap(group: group)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .connect(host: "127.0.0.1", port: server.localAddress!.port!).get()
    // The bytes are in ByteBuffers before the clock starts: the baseline times the TCP copy alone.
    let buffers = blocks.map { ByteBuffer(bytes: $0) }
    let start = ContinuousClock.now
    let cpuStart = processCPUSeconds()
    try await client.eventLoop.submit {
        for b in buffers { client.write(b, promise: nil) }
        client.flush()
    }.get()
    try await done.futureResult.get()
    let elapsed = (wall: seconds(ContinuousClock.now - start), cpu: processCPUSeconds() - cpuStart)
    try await client.close()
    try await server.close()
    return elapsed
}

// MARK: replication with encryption

/// Wall and process CPU seconds of the transfer (set-up excluded).
func replicate(writer: HyperLog) async throws -> (wall: Double, cpu: Double) {
    let reader = try HyperLog.replica(in: MemoryLogStorage(), key: writer.key, manifest: writer.identity.manifest)
    let wHub = ReplicationHub()
    wHub.add(writer)
    let rHub = ReplicationHub()
    let rep = rHub.add(reader, maxInflightPerPeer: inflight, verifyOffLoop: verifyOffLoop)
    let w = SwarmNode { wHub.attach($0) }
    let r = SwarmNode { rHub.attach($0) }
    let addr = try await w.listen()
    let start = ContinuousClock.now
    let cpuStart = processCPUSeconds()
    _ = try await r.connect(to: addr)
    try await rep.download(0..<UInt64(blockCount))
    let elapsed = (wall: seconds(ContinuousClock.now - start), cpu: processCPUSeconds() - cpuStart)
    precondition(reader.contiguousLength == UInt64(blockCount), "replication incomplete")
    let last = UInt64(blockCount - 1)
    let same = try reader.get(last) == writer.get(last)
    precondition(same, "replicated block differs")
    await r.shutdown()
    await w.shutdown()
    return elapsed
}

// MARK: encrypted channel only (no log), same bytes

/// Wall and process CPU seconds of the transfer (set-up excluded).
func encryptedStream(blocks: [[UInt8]]) async throws -> (wall: Double, cpu: Double) {
    let received = NIOLockedCounter()
    let done = group.next().makePromise(of: Void.self)
    let server = SwarmNode { conn in
        conn.mux.onRemoteOpen = { [unowned mux = conn.mux!] key in
            _ = mux.open(
                protocol: key.protocol, id: key.id,
                onMessage: { _, _, p in
                    if received.add(p.count) >= totalBytes { done.succeed(()) }
                })
        }
    }
    let client = SwarmNode()
    let conn = try await client.connect(to: try await server.listen())
    let stream = try await conn.openStream(protocol: "bench")
    var it = stream.events.makeAsyncIterator()
    _ = await it.next()
    let start = ContinuousClock.now
    let cpuStart = processCPUSeconds()
    for b in blocks { stream.send(type: 0, b) }
    try await done.futureResult.get()
    let elapsed = (wall: seconds(ContinuousClock.now - start), cpu: processCPUSeconds() - cpuStart)
    await client.shutdown()
    await server.shutdown()
    return elapsed
}

final class NIOLockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add(_ n: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += n
        return value
    }
}

// MARK: CPU floor: the cryptography every replicated byte needs, without any I/O

func cryptoOnly(blocks: [[UInt8]]) throws -> (seal: Double, open: Double, hash: Double, hash4: Double) {
    let a = try Ed25519KeyPair(seed: [UInt8](repeating: 1, count: 32))
    let b = try Ed25519KeyPair(seed: [UInt8](repeating: 2, count: 32))
    var x = SecretStream(isInitiator: true, keyPair: a)
    var y = SecretStream(isInitiator: false, keyPair: b)
    var toY: [[UInt8]] = []
    var toX: [[UInt8]] = []
    func sends(_ events: [SecretStream.Event]) -> [[UInt8]] {
        events.compactMap { if case .send(let f) = $0 { return Array(f[3...]) } else { return nil } }
    }
    toY += sends(try x.start())
    while !toX.isEmpty || !toY.isEmpty {
        for f in toY { toX += sends(try y.receive(frame: f)) }
        toY = []
        for f in toX { toY += sends(try x.receive(frame: f)) }
        toX = []
    }
    // Reused output buffers: no fresh memory (page faults) in the timed loops.
    let sealedBuf = UnsafeMutableRawBufferPointer.allocate(
        byteCount: blockSize + SecretStream.overhead, alignment: 64)
    let openedBuf = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 64)
    defer {
        sealedBuf.deallocate()
        openedBuf.deallocate()
    }
    var seal = Duration.zero
    var open = Duration.zero
    let clock = ContinuousClock()
    for block in blocks {
        try block.withUnsafeBytes { p in
            seal += try clock.measure { try x.seal(p, into: sealedBuf) }
        }
        open += try clock.measure { try y.open(UnsafeRawBufferPointer(sealedBuf), into: openedBuf) }
        precondition(openedBuf.elementsEqual(block), "decryption mismatch")
    }
    var t = ContinuousClock.now
    let one = blocks.map { HypercoreCrypto.leafHash($0) }
    let hash = seconds(ContinuousClock.now - t)
    t = ContinuousClock.now
    let four = HypercoreCrypto.leafHashes(blocks)
    let hash4 = seconds(ContinuousClock.now - t)
    precondition(one == four, "leaf hash mismatch")
    let n = Double(blocks.count * blockSize) / 1e9
    return (seconds(seal) / n, seconds(open) / n, hash / n, hash4 / n)
}

// MARK: main

let blocks: [[UInt8]] = (0..<blockCount).map { _ in randomBytes(blockSize) }
let writer = try HyperLog.create(in: MemoryLogStorage(), keyPair: .generate())
for chunk in stride(from: 0, to: blockCount, by: 64) {
    _ = try writer.append(Array(blocks[chunk..<min(chunk + 64, blockCount)]))
}

print("SwarmBench: \(megabytes) MB as \(blockCount) blocks of 64 KiB, loopback TCP")
if let phaseOnly {
    for round in 1...10 {
        let (r, cpu) =
            phaseOnly == "stream" ? try await encryptedStream(blocks: blocks) : try await replicate(writer: writer)
        print(
            "round \(round): \(phaseOnly) "
                + String(
                    format: "%.3f s = %.1f MB/s, process CPU %.3f s (%.2f ns/byte)", r,
                    Double(totalBytes) / 1_048_576 / r, cpu, cpu * 1e9 / Double(totalBytes)))
    }
    exit(0)
}
/// Best wall time and median process CPU time of one phase over the rounds.
struct PhaseTimes {
    var walls: [Double] = []
    var cpus: [Double] = []
    mutating func add(_ m: (wall: Double, cpu: Double)) {
        walls.append(m.wall)
        cpus.append(m.cpu)
    }
    var best: Double { walls.min()! }
    var cpuMedian: Double { cpus.sorted()[cpus.count / 2] }
}

var plain = PhaseTimes()
var plainStored = PhaseTimes()
var stream = PhaseTimes()
var repl = PhaseTimes()
for round in 1...3 {
    plain.add(try await plainCopy(blocks: blocks))
    plainStored.add(try await plainCopy(blocks: blocks, store: true))
    stream.add(try await encryptedStream(blocks: blocks))
    repl.add(try await replicate(writer: writer))
    print(
        String(
            format: "round %d: plain %.3f s, encrypted stream %.3f s, replication %.3f s", round, plain.walls.last!,
            stream.walls.last!, repl.walls.last!))
}
let mb = Double(totalBytes) / 1_048_576
let floor = try cryptoOnly(blocks: blocks)
print(
    String(
        format:
            "CPU floor, one core, per 64 KiB block: encrypt %.2f ns/byte, decrypt %.2f, BLAKE2b leaf hash %.2f "
            + "(4-lane SIMD %.2f); encrypt + decrypt + 4-lane hash = %.1f MB/s",
        floor.seal, floor.open, floor.hash, floor.hash4, 1e9 / (floor.seal + floor.open + floor.hash4) / 1_048_576))
func nsPerByte(_ seconds: Double) -> Double { seconds * 1e9 / Double(totalBytes) }
print("best wall time of 3 rounds; process CPU (all threads, median) per byte moved; ratios against the plain copy")
print(
    String(
        format: "plain TCP copy (baseline):        %8.1f MB/s   CPU %.2f ns/byte", mb / plain.best,
        nsPerByte(plain.cpuMedian)))
print(
    String(
        format: "  reference: plain copy + kept in memory: %8.1f MB/s   CPU %.2f ns/byte   ratio %.2fx",
        mb / plainStored.best, nsPerByte(plainStored.cpuMedian), plain.best / plainStored.best))
print(
    String(
        format: "secret-stream + protomux channel: %8.1f MB/s   CPU %.2f ns/byte   ratio %.2fx", mb / stream.best,
        nsPerByte(stream.cpuMedian), plain.best / stream.best))
print(
    String(
        format: "hypercore/alpha replication:      %8.1f MB/s   CPU %.2f ns/byte   ratio %.2fx (target >= 0.5x)",
        mb / repl.best, nsPerByte(repl.cpuMedian), plain.best / repl.best))

// MARK: round trips of sparse HyperTree gets over the swarm

func treeKey(_ i: Int) -> [UInt8] {
    let s = String(i)
    return Array(("key-" + String(repeating: "0", count: 8 - s.count) + s).utf8)
}

if treeKeys > 0 {
    let buildStart = ContinuousClock.now
    let treeLog = try HyperLog.create(in: MemoryLogStorage(), keyPair: .generate())
    let writerTree = HyperTree(log: HyperLogSource(treeLog))
    var order = Array(0..<treeKeys)
    order.shuffle()
    var next = 0
    while next < order.count {
        let chunk = order[next..<min(next + 1000, order.count)]
        try await writerTree.batch { b in
            for k in chunk { try await b.put(treeKey(k), Array("value-\(k)".utf8)) }
        }
        next += 1000
    }
    print(
        String(
            format: "\nHyperTree: %d keys written in %.1f s (%d blocks)", treeKeys,
            seconds(ContinuousClock.now - buildStart), treeLog.length))

    // Depth of the tree (leftmost path; a B-tree's leaves share one depth).
    var depth = 1
    do {
        var seq = treeLog.length - 1
        var level = try NodeMessage.decode(try treeLog.get(seq), seq: seq).levels[0]
        while !level.children.isEmpty {
            seq = level.children[0]
            level = try NodeMessage.decode(try treeLog.get(seq), seq: seq).levels[Int(level.children[1])]
            depth += 1
        }
    }
    let tHubW = ReplicationHub()
    tHubW.add(treeLog)
    let tw = SwarmNode { tHubW.attach($0) }
    let treeAddr = try await tw.listen()
    var sampleKeys: [Int] = []
    for _ in 0..<20 { sampleKeys.append(Int.random(in: 0..<treeKeys)) }
    let localTrace = QueryTrace()
    _ = try await writerTree.get(treeKey(sampleKeys[0]), trace: localTrace)
    print(
        "sparse get on \(treeKeys) keys (tree depth \(depth)) over loopback, 20 random keys, one fresh reader per mode")
    print("  blocks the first get reads on the writer (its path incl. key blocks): \(localTrace.blocksTouched)")
    var baselineTrips = 0.0
    for mode in [SparsePrefetch.off, .keys, .keysAndChildren] {
        let treeReplica = try HyperLog.replica(
            in: MemoryLogStorage(), key: treeLog.key, manifest: treeLog.identity.manifest)
        let tHubR = ReplicationHub()
        let treeRep = tHubR.add(treeReplica)
        let tr = SwarmNode { tHubR.attach($0) }
        let treeConn = try await tr.connect(to: treeAddr)
        while treeReplica.length < treeLog.length { try await Task.sleep(for: .milliseconds(5)) }
        // Round trips are measured on the wire: a wave of requests in flight together counts once.
        let counter = CountingProofSource(treeRep)
        let readerTree = HyperTree(log: HyperLogSource(treeReplica, remote: counter), options: .init(prefetch: mode))
        var rounds: [Int] = []
        var fetched: [Int] = []
        var waves: [Int] = []
        let getStart = ContinuousClock.now
        for k in sampleKeys {
            let (beforeTrips, beforeSent) = (counter.roundTrips, treeRep.requestsSent)
            let trace = QueryTrace()
            let e = try await readerTree.get(treeKey(k), trace: trace)
            precondition(e?.value == Array("value-\(k)".utf8), "wrong value for key \(k)")
            precondition(treeRep.requestsSent - beforeSent == UInt64(trace.blocksFetched), "uncounted requests")
            rounds.append(counter.roundTrips - beforeTrips)
            fetched.append(trace.blocksFetched)
            waves.append(trace.roundTrips)
        }
        let getElapsed = seconds(ContinuousClock.now - getStart)
        let avg = Double(rounds.reduce(0, +)) / 20
        if mode == .off { baselineTrips = avg }
        print("  prefetch \(mode):")
        print("    round trips, first (cold) get: \(rounds[0]) (target <= \(depth) levels + 1 root); all: \(rounds)")
        print("    fetch waves the tree awaited (QueryTrace.roundTrips): \(waves)")
        print("    blocks fetched, first get: \(fetched[0]); all: \(fetched)")
        print(
            String(
                format:
                    "    average round trips %.1f (%.2fx of prefetch off), average blocks fetched %.1f, %.2f ms per get",
                avg, avg / baselineTrips, Double(fetched.reduce(0, +)) / 20, getElapsed * 1000 / 20))
        treeConn.close()
        await tr.shutdown()
    }
    print(
        "  each request carries one block plus only the Merkle nodes the reader lacks; no upgrade round trips (live)"
    )
    await tw.shutdown()
}
