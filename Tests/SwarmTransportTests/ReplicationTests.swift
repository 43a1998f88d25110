import CompactEncoding
import HyperCrypto
import HyperLog
import NIOCore
import TestSupport
import Testing

@testable import SwarmTransport

/// A writer log with `count` blocks "block-i".
func makeWriter(_ count: Int, seed: UInt8 = 1) throws -> HyperLog {
    let log = try HyperLog.create(
        in: MemoryLogStorage(), keyPair: try Ed25519KeyPair(seed: [UInt8](repeating: seed, count: 32)))
    var batch: [[UInt8]] = []
    for i in 0..<count {
        batch.append(Array("block-\(i)".utf8))
        if batch.count == 1000 {
            _ = try log.append(batch)
            batch = []
        }
    }
    if !batch.isEmpty { _ = try log.append(batch) }
    return log
}

func makeReplica(of writer: HyperLog) throws -> HyperLog {
    try HyperLog.replica(in: MemoryLogStorage(), key: writer.key, manifest: writer.identity.manifest)
}

/// A node whose connections replicate everything in `hub`.
func replicatingNode(_ hub: ReplicationHub, config: SwarmConfiguration = SwarmConfiguration()) -> SwarmNode {
    SwarmNode(config: config) { conn in hub.attach(conn) }
}

@Suite("hypercore/alpha replication over loopback TCP", .timeLimit(.minutes(2)))
struct ReplicationTests {
    @Test(
        "full replication of a 10,000-block log between two peers (verified off the event loop, and on it)",
        arguments: [true, false])
    func fullReplication(verifyOffLoop: Bool) async throws {
        let writer = try makeWriter(10_000)
        let reader = try makeReplica(of: writer)
        let wHub = ReplicationHub()
        let rHub = ReplicationHub()
        wHub.add(writer)
        let rep = rHub.add(reader, verifyOffLoop: verifyOffLoop)
        let w = replicatingNode(wHub)
        let r = replicatingNode(rHub)
        let addr = try await w.listen()
        _ = try await r.connect(to: addr)
        #expect(await eventually { rep.peerCount == 1 })
        try await rep.download(0..<10_000)
        #expect(reader.length == 10_000)
        #expect(reader.contiguousLength == 10_000)
        #expect(try reader.get(9_999) == Array("block-9999".utf8))
        #expect(try reader.get(0) == Array("block-0".utf8))
        #expect(try reader.verify() == 10_000)
        #expect(reader.treeHash == writer.treeHash)
        await r.shutdown()
        await w.shutdown()
    }

    @Test("sparse: a reader fetching 10 random blocks holds exactly those")
    func sparse() async throws {
        let writer = try makeWriter(5_000)
        let reader = try makeReplica(of: writer)
        let wHub = ReplicationHub()
        let rHub = ReplicationHub()
        wHub.add(writer)
        let rep = rHub.add(reader)
        let w = replicatingNode(wHub)
        let r = replicatingNode(rHub)
        _ = try await r.connect(to: try await w.listen())
        #expect(await eventually { rep.peerCount == 1 })
        var rng = SeededGenerator(seed: 42)
        var picked = Set<UInt64>()
        while picked.count < 10 { picked.insert(UInt64.random(in: 0..<5_000, using: &rng)) }
        try await withThrowingTaskGroup(of: Void.self) { g in
            for i in picked {
                g.addTask {
                    let value = try await rep.get(i)
                    #expect(value == Array("block-\(i)".utf8))
                }
            }
            try await g.waitForAll()
        }
        #expect(reader.length == 5_000)
        #expect(reader.bitfield.count(0, 5_000) == 10)
        for i in picked { #expect(reader.has(i)) }
        #expect(try reader.verify() == 10)
        await r.shutdown()
        await w.shutdown()
    }

    @Test("live tail: appends reach a connected reader without polling")
    func liveTail() async throws {
        let writer = try makeWriter(10)
        let reader = try makeReplica(of: writer)
        let wHub = ReplicationHub()
        let rHub = ReplicationHub()
        wHub.add(writer)
        let rep = rHub.add(reader)
        let w = replicatingNode(wHub)
        let r = replicatingNode(rHub)
        _ = try await r.connect(to: try await w.listen())
        #expect(await eventually { reader.length == 10 })
        for k in 0..<5 {
            _ = try writer.append(Array("live-\(k)".utf8))
            let target = UInt64(11 + k)
            #expect(await eventually(timeout: .seconds(2)) { reader.length == target })
        }
        #expect(try await rep.get(14) == Array("live-4".utf8))
        await r.shutdown()
        await w.shutdown()
    }

    @Test("three peers: a reader replicates through another reader; several logs share one connection")
    func threePeers() async throws {
        let log1 = try makeWriter(300, seed: 1)
        let log2 = try makeWriter(200, seed: 2)
        let wHub = ReplicationHub()
        wHub.add(log1)
        wHub.add(log2)
        let mid1 = try makeReplica(of: log1)
        let mid2 = try makeReplica(of: log2)
        let mHub = ReplicationHub()
        let m1 = mHub.add(mid1)
        let m2 = mHub.add(mid2)
        let end1 = try makeReplica(of: log1)
        let eHub = ReplicationHub()
        let e1 = eHub.add(end1)
        let w = replicatingNode(wHub)
        let m = replicatingNode(mHub)
        let e = replicatingNode(eHub)
        let wAddr = try await w.listen()
        let mAddr = try await m.listen()
        let conn = try await m.connect(to: wAddr)
        #expect(await eventually { m1.peerCount == 1 && m2.peerCount == 1 })
        #expect(w.connections.count == 1)
        #expect(conn.mux != nil)
        try await m1.download(0..<300)
        try await m2.download(0..<200)
        #expect(try mid2.get(199) == Array("block-199".utf8))
        _ = try await e.connect(to: mAddr)
        #expect(await eventually { e1.peerCount == 1 && end1.length == 300 })
        try await e1.download(0..<300)
        #expect(try end1.verify() == 300)
        await e.shutdown()
        await m.shutdown()
        await w.shutdown()
    }

    @Test("a dropped connection resumes and the download completes")
    func resume() async throws {
        let writer = try makeWriter(2_000)
        let reader = try makeReplica(of: writer)
        let wHub = ReplicationHub()
        let rHub = ReplicationHub()
        wHub.add(writer)
        let rep = rHub.add(reader)
        let w = replicatingNode(wHub)
        var config = SwarmConfiguration()
        config.backoff = Backoff(base: 0.02, maximum: 0.2)
        let r = replicatingNode(rHub, config: config)
        let addr = try await w.listen()
        r.maintain(addr)
        #expect(await eventually { rep.peerCount == 1 })
        try await rep.download(0..<1_000)
        #expect(await eventually { w.connections.count == 1 })
        for c in w.connections { c.close() }
        #expect(await eventually { rep.peerCount == 0 })
        #expect(await eventually { rep.peerCount == 1 })
        try await rep.download(0..<2_000)
        #expect(reader.contiguousLength == 2_000)
        await r.shutdown()
        await w.shutdown()
    }
}
