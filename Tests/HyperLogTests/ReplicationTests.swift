import HyperCrypto
import TestSupport
import Testing

@testable import HyperLog

func blocks(_ range: Range<Int>, prefix: String = "block") -> [[UInt8]] {
    range.map { Array("\(prefix)-\($0)".utf8) }
}

func writer(_ n: Int, mode: SigningMode = .manifest, seed: UInt8 = 7) throws -> HyperLog {
    let kp = try Ed25519KeyPair(seed: [UInt8](repeating: seed, count: 32))
    let log = try HyperLog.create(in: MemoryLogStorage(), keyPair: kp, mode: mode)
    if n > 0 { try log.append(blocks(0..<n)) }
    return log
}

@Suite("Proofs and replicas")
struct ReplicationTests {
    @Test(
        "an upgrade proof brings an empty replica to the writer's length, tree hash and signature",
        arguments: [
            SigningMode.manifest, .compat,
        ])
    func upgradeIntoEmptyReplica(mode: SigningMode) throws {
        let w = try writer(13, mode: mode)
        let r = try HyperLog.replica(in: MemoryLogStorage(), key: w.key)
        let proof = try w.proof(for: ProofRequest(fork: 0, upgrade: .init(start: 0, length: 13), manifest: true))
        let result = try r.apply(proof)
        #expect(result.upgradedTo == 13)
        #expect(r.length == 13 && r.byteLength == w.byteLength)
        #expect(r.treeHash == w.treeHash && r.signature == w.signature)
        #expect(r.identity.mode == mode)
        #expect(r.contiguousLength == 0 && !r.has(0))
        #expect(throws: HyperLogError.blockNotAvailable(3)) { try r.get(3) }
    }

    @Test("block proofs verify against the replica's trusted roots, for every index")
    func blockProofs() throws {
        let w = try writer(37)
        let r = try HyperLog.replica(in: MemoryLogStorage(), key: w.key, manifest: w.identity.manifest)
        try r.apply(try w.proof(for: ProofRequest(fork: 0, upgrade: .init(start: 0, length: 37))))
        for i in UInt64(0)..<37 {
            let nodes = try r.missingNodes(i)
            let p = try w.proof(for: ProofRequest(fork: 0, block: .init(index: i, nodes: nodes)))
            #expect(p.block?.nodes.count == Int(nodes))
            try r.apply(p)
            #expect(try r.get(i) == w.get(i))
        }
        #expect(r.contiguousLength == 37)
        #expect(try r.verify() == 37)
    }

    @Test("block + upgrade in one proof, with additional nodes up to the writer's head")
    func blockWithUpgradeAndAdditional() throws {
        let w = try writer(5)
        let r = try HyperLog.replica(in: MemoryLogStorage(), key: w.key, manifest: w.identity.manifest)
        try r.apply(try w.proof(for: ProofRequest(fork: 0, upgrade: .init(start: 0, length: 5))))
        #expect(r.length == 5)
        try w.append(blocks(5..<50))
        // The writer's head is 50 but only 5..<20 is asked for: additional nodes extend to 50.
        let p = try w.proof(
            for: ProofRequest(fork: 0, block: .init(index: 12, nodes: 0), upgrade: .init(start: 5, length: 15)))
        #expect(p.upgrade?.additionalNodes.isEmpty == false)
        try r.apply(p)
        #expect(r.length == 50 && r.treeHash == w.treeHash)
        #expect(try r.get(12) == w.get(12))
        // A block below the old length together with an upgrade.
        let w2 = try writer(9)
        let r2 = try HyperLog.replica(in: MemoryLogStorage(), key: w2.key, manifest: w2.identity.manifest)
        try r2.apply(try w2.proof(for: ProofRequest(fork: 0, upgrade: .init(start: 0, length: 4))))
        #expect(r2.length == 9)
        try w2.append(blocks(9..<30))
        let p2 = try w2.proof(
            for: ProofRequest(
                fork: 0, block: .init(index: 2, nodes: try r2.missingNodes(2)), upgrade: .init(start: 9, length: 21)))
        try r2.apply(p2)
        #expect(r2.length == 30)
        #expect(try r2.get(2) == w2.get(2))
    }

    @Test("proofs survive the data-message wire encoding byte for byte")
    func wireRoundTrip() throws {
        let w = try writer(21)
        let p = try w.proof(
            for: ProofRequest(
                fork: 0, block: .init(index: 6, nodes: 0), upgrade: .init(start: 3, length: 10), manifest: true))
        let bytes = p.encodeDataMessage(request: 42)
        let (id, back) = try Proof.decodeDataMessage(bytes)
        #expect(id == 42 && back == p)
        #expect(back.encodeDataMessage(request: 42) == bytes)
        // Every strict prefix is rejected with a typed error, never a crash.
        for cut in 0..<bytes.count {
            #expect(throws: HyperLogError.self) { try Proof.decodeDataMessage(Array(bytes[0..<cut])) }
        }
        #expect(throws: HyperLogError.self) { try Proof.decodeDataMessage(bytes + [0]) }
        let q = ProofRequest(
            fork: 2, block: .init(index: 300, nodes: 3), upgrade: .init(start: 1, length: 70000), manifest: true,
            priority: 1)
        let qb = q.encodeRequestMessage(id: 9)
        let (qid, qback) = try ProofRequest.decodeRequestMessage(qb)
        #expect(qid == 9 && qback == q)
    }

    @Test("the request message matches hypercore's bytes from the protomux vectors")
    func requestMatchesProtomuxVector() throws {
        // protomux.json: A<-B request {id 1, fork 0, block {index 1, nodes 0}, upgrade {0, 2}, manifest}
        // framed as 01 01 19 | 01 00 01 00 02 ... ("010119010001000002": channel 1, type 1 (request), payload).
        let payload = ProofRequest(
            fork: 0, block: .init(index: 1, nodes: 0), upgrade: .init(start: 0, length: 2), manifest: true
        )
        .encodeRequestMessage(id: 1)
        #expect([UInt8](hex: "010119010001000002")!.suffix(payload.count) == ArraySlice(payload))
        #expect(payload == [UInt8](hex: "19010001000002")!)
    }

    @Test("tampered proofs never verify and leave the replica unchanged")
    func tampered() throws {
        let w = try writer(20)
        let good = try w.proof(
            for: ProofRequest(fork: 0, block: .init(index: 7, nodes: 0), upgrade: .init(start: 0, length: 20)))
        var variants: [Proof] = []
        var p = good
        p.block!.value[0] ^= 1
        variants.append(p)
        p = good
        p.upgrade!.signature[10] ^= 1
        variants.append(p)
        for k in 0..<good.upgrade!.nodes.count {
            p = good
            p.upgrade!.nodes[k].hash[0] ^= 1
            variants.append(p)
            p = good
            p.upgrade!.nodes[k].size += 1
            variants.append(p)
        }
        for k in 0..<good.block!.nodes.count {
            p = good
            p.block!.nodes[k].hash[31] ^= 0x80
            variants.append(p)
        }
        p = good
        p.block!.index = 8
        variants.append(p)
        p = good
        p.upgrade!.length = 19
        variants.append(p)
        p = good
        p.fork = 1
        variants.append(p)
        p = good
        p.upgrade!.nodes.removeLast()
        variants.append(p)
        for bad in variants {
            let r = try HyperLog.replica(in: MemoryLogStorage(), key: w.key, manifest: w.identity.manifest)
            #expect(throws: HyperLogError.self) { try r.apply(bad) }
            #expect(r.length == 0 && !r.has(7) && !r.has(8))
        }
        // The untampered proof does verify.
        let r = try HyperLog.replica(in: MemoryLogStorage(), key: w.key, manifest: w.identity.manifest)
        try r.apply(good)
        #expect(try r.get(7) == w.get(7))
        // A proof signed by another key is refused.
        let other = try writer(20, seed: 9)
        let forged = try other.proof(for: ProofRequest(fork: 0, upgrade: .init(start: 0, length: 20)))
        let r2 = try HyperLog.replica(in: MemoryLogStorage(), key: w.key, manifest: w.identity.manifest)
        #expect(throws: HyperLogError.invalidSignature) { try r2.apply(forged) }
        // A manifest that does not hash to the key is ignored, so a compat guess fails.
        var withManifest = forged
        withManifest.manifest = other.identity.manifest
        let r3 = try HyperLog.replica(in: MemoryLogStorage(), key: w.key)
        #expect(throws: HyperLogError.self) { try r3.apply(withManifest) }
        #expect(r3.length == 0)
    }

    @Test("fetch pulls missing blocks through a ProofSource; events report upgrades and downloads")
    func fetchAndEvents() async throws {
        let w = try writer(10)
        let r = try HyperLog.replica(in: MemoryLogStorage(), key: w.key)
        let events = r.events()
        let source = LocalProofSource(w)
        #expect(try await r.fetch(4, from: source) == w.get(4))
        #expect(r.length == 10 && r.identity.mode == .manifest)
        try w.append(blocks(10..<16))
        #expect(try await r.fetch(15, from: source) == w.get(15))
        #expect(try await r.update(from: source) == 16)
        var seen: [LogEvent] = []
        for await e in events {
            seen.append(e)
            if seen.count == 4 { break }
        }
        #expect(
            seen == [
                .appended(length: 10, byteLength: 70),
                .downloaded(index: 4), .appended(length: 16, byteLength: w.byteLength), .downloaded(index: 15),
            ])
        await #expect(throws: HyperLogError.outOfRange(index: 99, length: 16)) { try await r.fetch(99, from: source) }
    }

    @Test("after the writer truncates, a replica reorgs to the new fork through update and refuses old-fork proofs")
    func reorgAfterTruncate() async throws {
        let w = try writer(20)
        let source = LocalProofSource(w)
        let r = try HyperLog.replica(in: MemoryLogStorage(), key: w.key)
        for i: UInt64 in [3, 12, 19] { _ = try await r.fetch(i, from: source) }
        let oldProof = try w.proof(for: ProofRequest(fork: 0, block: .init(index: 5, nodes: try r.missingNodes(5))))
        try w.truncate(to: 10)
        try w.append(blocks(100..<105))
        let events = r.events()
        #expect(throws: HyperLogError.self) {
            try w.proof(for: ProofRequest(fork: 0, block: .init(index: 5, nodes: 0)))
        }
        // A partial upgrade on the new fork is refused; the full one reorgs.
        let partial = try w.proof(for: ProofRequest(fork: 1, upgrade: .init(start: 10, length: 5)))
        #expect(throws: HyperLogError.forkMismatch(expected: 0, got: 1)) { try r.apply(partial) }
        #expect(r.length == 20 && r.has(3))
        #expect(try await r.update(from: source) == 15)
        // Blocks under the unchanged first root (0...7) are kept; 12 and 19 (old fork) are gone.
        #expect(r.fork == 1 && r.treeHash == w.treeHash && r.has(3) && !r.has(12) && !r.has(19))
        #expect(r.contiguousLength == 0)
        #expect(try await r.fetch(12, from: source) == Array("block-102".utf8))
        #expect(try await r.fetch(3, from: source) == Array("block-3".utf8))
        #expect(throws: HyperLogError.forkMismatch(expected: 1, got: 0)) { try r.apply(oldProof) }
        var seen: [LogEvent] = []
        for await e in events {
            seen.append(e)
            if seen.count == 3 { break }
        }
        #expect(
            seen == [
                .truncated(length: 8, fork: 1), .appended(length: 15, byteLength: w.byteLength), .downloaded(index: 12),
            ])
        #expect(try r.verify() == 2)
    }

    @Test("hash proofs prove any tree node, alone or with an upgrade, and tampered ones are refused")
    func hashProofs() throws {
        let w = try writer(23)
        let r = try HyperLog.replica(in: MemoryLogStorage(), key: w.key, manifest: w.identity.manifest)
        // With an upgrade from 0: node 11 (blocks 4...7).
        let p = try w.proof(
            for: ProofRequest(fork: 0, hash: .init(index: 11, nodes: 0), upgrade: .init(start: 0, length: 23)))
        #expect(p.hash?.nodes.first?.index == 11 && p.block == nil)
        let (_, wire) = try Proof.decodeDataMessage(p.encodeDataMessage(request: 1))
        let result = try r.apply(wire)
        #expect(result.hash == 11 && result.upgradedTo == 23)
        #expect(try r.node(11) == w.node(11))
        // Alone, for every node of the tree, against what the replica already trusts.
        for i in UInt64(0)..<46 where FlatTree.rightSpan(i) / 2 < 23 {
            // Ask for the node's own ancestors the replica lacks (a node it already has needs none).
            let have = try r.node(i) != nil
            var climb: UInt64 = 0
            if !have {
                var it = FlatTree.Iterator(i)
                while try r.node(it.index) == nil, !it.contains(2 * 23), climb < 64 {
                    climb += 1
                    it.parent()
                }
            }
            let hp = try w.proof(for: ProofRequest(fork: 0, hash: .init(index: i, nodes: climb)))
            var bad = hp
            bad.hash!.nodes[0].hash[0] ^= 1
            #expect(throws: HyperLogError.self) { try r.apply(bad) }
            try r.apply(hp)
            #expect(try r.node(i) == w.node(i), "node \(i)")
        }
        #expect(throws: HyperLogError.outOfRange(index: 31, length: 23)) {
            try w.proof(for: ProofRequest(fork: 0, hash: .init(index: 47, nodes: 0)))
        }
        #expect(throws: HyperLogError.self) {
            try w.proof(for: ProofRequest(fork: 0, block: .init(index: 1, nodes: 0), hash: .init(index: 1, nodes: 0)))
        }
    }
}
