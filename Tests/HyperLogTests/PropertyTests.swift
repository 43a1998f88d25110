import HyperCrypto
import TestSupport
import Testing

@testable import HyperLog

/// Random single-field corruptions of a proof; each must make verification fail.
func tamperings(of proof: Proof, using rng: inout SeededGenerator) -> [Proof] {
    var out: [Proof] = []
    if var b = proof.block {
        var p = proof
        if !b.value.isEmpty {
            b.value[Int.random(in: 0..<b.value.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
        } else {
            b.value = [0]
        }
        p.block = b
        out.append(p)
        if !proof.block!.nodes.isEmpty {
            p = proof
            let k = Int.random(in: 0..<proof.block!.nodes.count, using: &rng)
            p.block!.nodes[k].hash[Int.random(in: 0..<32, using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            out.append(p)
            p = proof
            p.block!.nodes[k].size &+= 1
            out.append(p)
        }
    }
    if let u = proof.upgrade {
        var p = proof
        p.upgrade!.signature[Int.random(in: 0..<u.signature.count, using: &rng)] ^= 0x40
        out.append(p)
        for list in [\Proof.Upgrade.nodes, \Proof.Upgrade.additionalNodes] where !u[keyPath: list].isEmpty {
            let k = Int.random(in: 0..<u[keyPath: list].count, using: &rng)
            p = proof
            p.upgrade![keyPath: list][k].hash[Int.random(in: 0..<32, using: &rng)] ^= 0x01
            out.append(p)
            p = proof
            p.upgrade![keyPath: list][k].size &+= 1
            out.append(p)
        }
    }
    return out
}

@Suite("Property tests (seeded)")
struct PropertyTests {
    @Test(
        "random append / truncate / clear sequences keep every proof valid, into empty replicas",
        arguments: [
            UInt64(1), 2, 3, 4,
        ])
    func randomOperations(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let kp = try Ed25519KeyPair(seed: (0..<32).map { UInt8($0) ^ UInt8(seed) })
        let mode: SigningMode = seed % 2 == 0 ? .compat : .manifest
        let log = try HyperLog.create(in: MemoryLogStorage(), keyPair: kp, mode: mode)
        var model: [[UInt8]?] = []  // what the log should hold; nil = cleared
        var sizes: [Int] = []  // block sizes (cleared blocks still count in byteLength)
        var counter = 0
        for step in 0..<40 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<6:
                let n = Int.random(in: 1...9, using: &rng)
                let batch = (0..<n).map { _ -> [UInt8] in
                    counter += 1
                    let size = Int.random(in: 0...40, using: &rng)
                    return Array("s\(seed)-\(counter):".utf8)
                        + (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
                }
                #expect(try log.append(batch) == UInt64(model.count + n))
                model += batch.map { Optional($0) }
                sizes += batch.map(\.count)
            case 6..<8 where !model.isEmpty:
                let to = Int.random(in: 0...model.count, using: &rng)
                let fork = log.fork
                let oldLength = UInt64(model.count)
                try log.truncate(to: UInt64(to))
                #expect(log.fork == fork + 1)
                // A writer keeps exactly the nodes whose whole span lies inside the new length.
                for i in UInt64(0)..<(4 * oldLength + 4) {
                    let inside = FlatTree.rightSpan(i) < 2 * UInt64(to)
                    #expect((try log.node(i) != nil) == inside, "node \(i) after truncate \(oldLength) -> \(to)")
                }
                model.removeLast(model.count - to)
                sizes.removeLast(sizes.count - to)
            case 8..<10 where !model.isEmpty:
                let a = Int.random(in: 0..<model.count, using: &rng)
                let b = Int.random(in: a...min(model.count, a + 5), using: &rng)
                try log.clear(UInt64(a)..<UInt64(b))
                for i in a..<b { model[i] = nil }
            default: continue
            }
            // The log matches the model.
            #expect(log.length == UInt64(model.count), "step \(step)")
            #expect(log.byteLength == UInt64(sizes.reduce(0, +)))
            for (i, m) in model.enumerated() {
                #expect(log.has(UInt64(i)) == (m != nil))
                if let m { #expect(try log.get(UInt64(i)) == m) }
            }
            let firstMissing = model.firstIndex { $0 == nil } ?? model.count
            #expect(log.contiguousLength == UInt64(firstMissing))
            if model.isEmpty { continue }
            #expect(try log.verify() == UInt64(model.compactMap { $0 }.count))

            // A fresh replica accepts the upgrade and then every available block, and rejects tampered proofs.
            let replica = try HyperLog.replica(in: MemoryLogStorage(), key: log.key)
            let up = try log.proof(
                for: ProofRequest(fork: log.fork, upgrade: .init(start: 0, length: UInt64(model.count)), manifest: true)
            )
            for bad in tamperings(of: up, using: &rng) {
                #expect(throws: HyperLogError.self) { try replica.apply(bad) }
            }
            #expect(replica.length == 0)
            try replica.apply(up)
            #expect(replica.treeHash == log.treeHash && replica.length == log.length)
            for (i, m) in model.enumerated() {
                let req = ProofRequest(
                    fork: log.fork, block: .init(index: UInt64(i), nodes: try replica.missingNodes(UInt64(i))))
                guard let m else {
                    #expect(throws: HyperLogError.blockNotAvailable(UInt64(i))) { try log.proof(for: req) }
                    continue
                }
                let p = try log.proof(for: req)
                for bad in tamperings(of: p, using: &rng) {
                    #expect(throws: HyperLogError.self) { try replica.apply(bad) }
                    #expect(!replica.has(UInt64(i)))
                }
                try replica.apply(p)
                #expect(try replica.get(UInt64(i)) == m)
            }
            #expect(try replica.verify() == UInt64(model.compactMap { $0 }.count))
        }
    }

    @Test("a replica that is behind catches up through block+upgrade proofs at random points")
    func incrementalCatchUp() throws {
        var rng = SeededGenerator(seed: 99)
        let log = try HyperLog.create(in: MemoryLogStorage(), keyPair: .generate(), mode: .manifest)
        let replica = try HyperLog.replica(in: MemoryLogStorage(), key: log.key, manifest: log.identity.manifest)
        for round in 0..<30 {
            try log.append((0..<Int.random(in: 1...20, using: &rng)).map { Array("r\(round)-\($0)".utf8) })
            let target = UInt64.random(in: replica.length + 1...log.length, using: &rng)
            let block = UInt64.random(in: 0..<target, using: &rng)
            let p = try log.proof(
                for: ProofRequest(
                    fork: 0,
                    block: .init(index: block, nodes: block < replica.length ? try replica.missingNodes(block) : 0),
                    upgrade: .init(start: replica.length, length: target - replica.length)))
            // Encoded and decoded as SwarmTransport would carry it.
            let (_, wire) = try Proof.decodeDataMessage(p.encodeDataMessage(request: UInt64(round)))
            try replica.apply(wire)
            #expect(replica.length == log.length && replica.treeHash == log.treeHash)
            #expect(try replica.get(block) == log.get(block))
        }
        #expect(try replica.verify() > 0)
    }

    @Test(
        "a long-lived replica follows random appends and truncations (reorgs) through update and fetch",
        arguments: [
            UInt64(5), 6,
        ])
    func followWriter(seed: UInt64) async throws {
        var rng = SeededGenerator(seed: seed)
        let log = try HyperLog.create(
            in: MemoryLogStorage(), keyPair: .generate(), mode: seed % 2 == 0 ? .compat : .manifest)
        let source = LocalProofSource(log)
        let replica = try HyperLog.replica(in: MemoryLogStorage(), key: log.key)
        var counter = 0
        for _ in 0..<40 {
            if Int.random(in: 0..<4, using: &rng) == 0 && log.length > 0 {
                try log.truncate(to: UInt64.random(in: 0..<log.length, using: &rng))
            } else {
                let batch = (0..<Int.random(in: 1...12, using: &rng)).map { _ -> [UInt8] in
                    counter += 1
                    return Array("f\(seed)-\(counter)".utf8)
                }
                try log.append(batch)
            }
            guard log.length > 0 else { continue }
            try await replica.update(from: source)
            #expect(replica.length == log.length && replica.fork == log.fork && replica.treeHash == log.treeHash)
            let i = UInt64.random(in: 0..<log.length, using: &rng)
            #expect(try await replica.fetch(i, from: source) == log.get(i))
            // Blocks kept across reorgs are still the writer's blocks, and everything stored verifies.
            for j in UInt64(0)..<log.length where replica.has(j) { #expect(try replica.get(j) == log.get(j)) }
            #expect(try replica.verify() >= 1)
        }
    }

    @Test("random bytes and random mutations of data messages never crash and never store wrong data")
    func fuzzDataMessages() throws {
        var rng = SeededGenerator(seed: 1234)
        let w = try writer(40)
        let good = try w.proof(
            for: ProofRequest(
                fork: 0, block: .init(index: 17, nodes: 0), upgrade: .init(start: 0, length: 40), manifest: true)
        ).encodeDataMessage(request: 5)
        var accepted = 0
        for round in 0..<1500 {
            var bytes: [UInt8]
            if round % 3 == 0 {
                bytes = (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                bytes = good
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            guard let (_, proof) = try? Proof.decodeDataMessage(bytes) else { continue }
            let r = try HyperLog.replica(in: MemoryLogStorage(), key: w.key)
            guard (try? r.apply(proof)) != nil else {
                #expect(r.length == 0 && r.bitfield.pageNumbers.isEmpty)
                continue
            }
            // Whatever was accepted is exactly the writer's data.
            accepted += 1
            #expect(r.length == w.length && r.treeHash == w.treeHash)
            for i in UInt64(0)..<40 where r.has(i) { #expect(try r.get(i) == w.get(i)) }
        }
        // Mutations of the request id (or of nothing that matters) are the only ones accepted.
        #expect(accepted > 0)
    }
}
