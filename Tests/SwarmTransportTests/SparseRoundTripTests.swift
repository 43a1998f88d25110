import HyperCrypto
import HyperLog
import HyperTree
import TestSupport
import Testing

@testable import SwarmTransport

@Suite("Sparse tree gets over the swarm: round trips per tree level", .timeLimit(.minutes(3)))
struct SparseRoundTripTests {
    static func key(_ i: Int) -> [UInt8] {
        let s = String(i)
        return Array(("key-" + String(repeating: "0", count: 8 - s.count) + s).utf8)
    }

    /// Levels of the tree at the log's current length (the leftmost path; a B-tree's leaves share one depth).
    static func depth(_ log: HyperLog) throws -> Int {
        var seq = log.length - 1
        var level = try NodeMessage.decode(try log.get(seq), seq: seq).levels[0]
        var d = 1
        while !level.children.isEmpty {
            seq = level.children[0]
            level = try NodeMessage.decode(try log.get(seq), seq: seq).levels[Int(level.children[1])]
            d += 1
        }
        return d
    }

    @Test(
        "a cold get awaits at most one round trip per level plus the root's, and the wire sees far fewer than without prefetch"
    )
    func roundTripsOverSwarm() async throws {
        let writerLog = try HyperLog.create(
            in: MemoryLogStorage(), keyPair: try Ed25519KeyPair(seed: [UInt8](repeating: 4, count: 32)))
        let writerTree = HyperTree(log: HyperLogSource(writerLog))
        var g = SeededGenerator(seed: 5)
        let order = Array(0..<20_000).shuffled(using: &g)
        var i = 0
        while i < order.count {
            let chunk = order[i..<min(i + 1000, order.count)]
            try await writerTree.batch { b in
                for k in chunk { try await b.put(Self.key(k), Array("value-\(k)".utf8)) }
            }
            i += 1000
        }
        let depth = try Self.depth(writerLog)

        let wHub = ReplicationHub()
        wHub.add(writerLog)
        let w = replicatingNode(wHub)
        let addr = try await w.listen()
        var results: [SparsePrefetch: (trips: [Int], blocks: [Int])] = [:]
        var waves: [Int] = []
        for mode in [SparsePrefetch.off, .keysAndChildren] {
            let readerLog = try makeReplica(of: writerLog)
            let rHub = ReplicationHub()
            let rep = rHub.add(readerLog)
            let r = replicatingNode(rHub)
            _ = try await r.connect(to: addr)
            #expect(await eventually { readerLog.length == writerLog.length })  // live upgrade, before any get
            let counter = CountingProofSource(rep)
            let readerTree = HyperTree(log: HyperLogSource(readerLog, remote: counter), options: .init(prefetch: mode))
            var trips: [Int] = []
            var blocks: [Int] = []
            for k in [0, 12_345, 19_999, 7_777, 25_000] {
                let (beforeTrips, beforeRequests, beforeSent) = (counter.roundTrips, counter.requests, rep.requestsSent)
                let trace = QueryTrace()
                let entry = try await readerTree.get(Self.key(k), trace: trace)
                #expect(entry?.value == (k < 20_000 ? Array("value-\(k)".utf8) : nil))
                let requests = counter.requests - beforeRequests
                // Every request went over the wire, and every fetched block was one request.
                #expect(UInt64(requests) == rep.requestsSent - beforeSent)
                #expect(requests == trace.blocksFetched)
                let wire = counter.roundTrips - beforeTrips
                trips.append(wire)
                blocks.append(trace.blocksFetched)
                // Each wave the tree awaits is at least one round trip on the wire (waves never overlap). The wire
                // may count more when a loaded machine spreads one batch's sends over more than a round trip.
                #expect(wire >= trace.roundTrips)
                if mode == .off { #expect(wire == trace.blocksFetched) }  // one block per round trip
                if mode == .keysAndChildren {
                    #expect(trace.roundTrips <= depth + 1, "key \(k): the tree awaited \(trace.roundTrips) waves")
                    waves.append(trace.roundTrips)
                }
            }
            // The replica verified and holds exactly what it fetched.
            #expect(try readerLog.verify() == readerLog.bitfield.count(0, readerLog.length))
            results[mode] = (trips, blocks)
            await r.shutdown()
        }
        await w.shutdown()
        let none = results[.off]!
        let full = results[.keysAndChildren]!
        print(
            "sparse get over the swarm, 20,000 keys, depth \(depth): round trips none \(none.trips) "
                + "(blocks \(none.blocks)), keysAndChildren \(full.trips) (tree waves \(waves), blocks \(full.blocks))")
        #expect(full.trips[0] < none.trips[0])
        #expect(full.trips.reduce(0, +) < none.trips.reduce(0, +))
    }
}
