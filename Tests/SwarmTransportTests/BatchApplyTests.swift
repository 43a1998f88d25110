import HyperCrypto
import HyperLog
import Testing

/// A writer with `count` blocks of `size` random bytes (equal lengths, so the SIMD leaf-hash lanes are used).
private func makeBulkWriter(_ count: Int, size: Int) throws -> HyperLog {
    let log = try HyperLog.create(in: MemoryLogStorage(), keyPair: .generate())
    _ = try log.append((0..<count).map { _ in randomBytes(size) })
    return log
}

/// A replica of `writer` that knows its full length (verified upgrade) but holds no block.
private func upgradedReplica(of writer: HyperLog) throws -> HyperLog {
    let r = try HyperLog.replica(in: MemoryLogStorage(), key: writer.key, manifest: writer.identity.manifest)
    try r.apply(
        writer.proof(for: ProofRequest(fork: writer.fork, upgrade: .init(start: 0, length: writer.length))))
    return r
}

/// Block proofs as in-flight requests would get them: every request built before any answer is applied.
private func blockProofs(_ indices: [UInt64], from writer: HyperLog, for reader: HyperLog) throws -> [Proof] {
    let requests = try indices.map { i in
        ProofRequest(fork: reader.fork, block: .init(index: i, nodes: try reader.missingNodes(i)))
    }
    return try requests.map { try writer.proof(for: $0) }
}

@Suite("HyperLog.applyBlocks: batched verification of received blocks")
struct BatchApplyTests {
    @Test("a batch stores exactly what one-by-one apply stores, and the log verifies")
    func sameAsApply() throws {
        let writer = try makeBulkWriter(40, size: 4096)
        let batched = try upgradedReplica(of: writer)
        let single = try upgradedReplica(of: writer)
        let indices: [UInt64] = [0, 1, 2, 3, 5, 8, 13, 21, 22, 23, 24, 25, 26, 39]
        let proofs = try blockProofs(indices, from: writer, for: batched)
        let results = batched.applyBlocks(proofs)
        #expect(results.count == indices.count)
        for (i, r) in zip(indices, results) {
            #expect(try r.get().block == i)
        }
        for p in try blockProofs(indices, from: writer, for: single) { try single.apply(p) }
        for i in 0..<writer.length {
            #expect(batched.has(i) == indices.contains(i))
            if batched.has(i) {
                #expect(try batched.get(i) == writer.get(i))
                #expect(try batched.get(i) == single.get(i))
            }
        }
        #expect(batched.contiguousLength == 4)
        #expect(try batched.verify() == UInt64(indices.count))
        // Later requests need fewer nodes: the batch stored the proof nodes.
        #expect(try batched.missingNodes(4) == single.missingNodes(4))
    }

    @Test("a tampered block or proof node fails alone; the others are stored; the log stays valid")
    func tamperedItemsFailAlone() throws {
        let writer = try makeBulkWriter(32, size: 1024)
        let reader = try upgradedReplica(of: writer)
        let indices = Array(UInt64(0)..<16)
        var proofs = try blockProofs(indices, from: writer, for: reader)
        proofs[3].block!.value[0] ^= 1
        #expect(!proofs[7].block!.nodes.isEmpty)
        proofs[7].block!.nodes[0].hash[5] ^= 1
        proofs[9].fork = 7
        let results = reader.applyBlocks(proofs)
        for (k, r) in results.enumerated() {
            switch r {
            case .success: #expect(![3, 7, 9].contains(k), "item \(k) should have failed")
            case .failure(let e):
                #expect([3, 7, 9].contains(k), "item \(k) failed: \(e)")
            }
        }
        #expect(!reader.has(3) && !reader.has(7) && !reader.has(9))
        #expect(reader.has(2) && reader.has(8) && reader.has(15))
        #expect(try reader.verify() == 13)
        // The honest proofs for the failed blocks still apply afterwards.
        let retry = reader.applyBlocks(try blockProofs([3, 7, 9], from: writer, for: reader))
        #expect(retry.allSatisfy { (try? $0.get()) != nil })
        #expect(try reader.verify() == 16)
        #expect(reader.contiguousLength == 16)
    }

    @Test("upgrades in a batch are applied in order; blocks past the known length are refused")
    func upgradesInOrder() throws {
        let writer = try makeBulkWriter(8, size: 512)
        let reader = try HyperLog.replica(in: MemoryLogStorage(), key: writer.key, manifest: writer.identity.manifest)
        let block = try writer.proof(for: ProofRequest(fork: 0, block: .init(index: 2, nodes: 3)))
        // Before any upgrade the replica cannot place the block.
        #expect(throws: (any Error).self) { try reader.applyBlocks([block])[0].get() }
        #expect(!reader.has(2))
        let upgrade = try writer.proof(for: ProofRequest(fork: 0, upgrade: .init(start: 0, length: 8)))
        let results = reader.applyBlocks([upgrade, block])
        #expect(try results[0].get().upgradedTo == 8)
        #expect(try results[1].get().block == 2)
        #expect(try reader.get(2) == writer.get(2))
        #expect(try reader.verify() == 1)
    }
}
