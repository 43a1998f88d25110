import CompactEncoding
import HyperCrypto
import TestSupport
import Testing

@testable import HyperLog

@Suite("Encodings and small invariants")
struct EncodingTests {
    @Test("truncated or trailing manifest, multisig and node encodings throw instead of crashing")
    func truncatedEncodings() throws {
        let v = try Vectors.load("merkle")
        let manifestBytes = hex((v["manifest"] as! [String: Any])["manifestEncoded"])
        let sigBytes = hex(
            ((v["signatures"] as! [String: Any])["letters3"] as! [String: Any])["storedSignature_multisigV1"])
        #expect(sigBytes.count == 68)
        let multi = try MultiSignature(compactEncoded: sigBytes)
        #expect(multi.proofs.count == 1 && multi.proofs[0].signer == 0 && multi.patch.isEmpty)
        #expect(multi.compactEncoded == sigBytes)
        let node = TreeNode(index: 300, size: 70000, hash: [UInt8](repeating: 9, count: 32))
        let nodeBytes = node.compactEncoded
        #expect(try TreeNode(compactEncoded: nodeBytes) == node)
        for bytes in [manifestBytes, sigBytes, nodeBytes] {
            for cut in 0..<bytes.count {
                let prefix = Array(bytes[0..<cut])
                #expect(throws: CompactDecodingError.self) {
                    if bytes == manifestBytes { _ = try Manifest(compactEncoded: prefix) }
                    if bytes == sigBytes { _ = try MultiSignature(compactEncoded: prefix) }
                    if bytes == nodeBytes { _ = try TreeNode(compactEncoded: prefix) }
                }
            }
        }
        #expect(throws: CompactDecodingError.self) { try Manifest(compactEncoded: manifestBytes + [0]) }
        var v2 = manifestBytes
        v2[0] = 2
        #expect(throws: CompactDecodingError.self) { try Manifest(compactEncoded: v2) }
    }

    @Test("a multisig with a bad signer index, duplicate signer or patch does not verify")
    func multisigRules() throws {
        let kp = try Ed25519KeyPair(seed: [UInt8](repeating: 5, count: 32))
        let id = LogIdentity(publicKey: kp.publicKey, mode: .manifest)
        let tree = [UInt8](repeating: 1, count: 32)
        let good = id.sign(treeHash: tree, length: 3, fork: 0, keyPair: kp)
        #expect(id.verify(signature: good, treeHash: tree, length: 3, fork: 0))
        var m = try MultiSignature(compactEncoded: good)
        m.proofs[0].signer = 1
        #expect(!id.verify(signature: m.compactEncoded, treeHash: tree, length: 3, fork: 0))
        m = try MultiSignature(compactEncoded: good)
        m.proofs.append(m.proofs[0])
        #expect(!id.verify(signature: m.compactEncoded, treeHash: tree, length: 3, fork: 0))
        m = try MultiSignature(compactEncoded: good)
        m.proofs[0].patch = 1
        #expect(!id.verify(signature: m.compactEncoded, treeHash: tree, length: 3, fork: 0))
        #expect(!id.verify(signature: [], treeHash: tree, length: 3, fork: 0))
        #expect(!id.verify(signature: good, treeHash: tree, length: 3, fork: 1))
        // Two signers, quorum 2: one signature is not enough.
        let kp2 = try Ed25519KeyPair(seed: [UInt8](repeating: 6, count: 32))
        let two = LogIdentity(
            manifest: Manifest(signers: [.init(publicKey: kp.publicKey), .init(publicKey: kp2.publicKey)], quorum: 2))
        let s1 = try MultiSignature(compactEncoded: two.sign(treeHash: tree, length: 1, fork: 0, keyPair: kp))
        let s2 = try MultiSignature(compactEncoded: two.sign(treeHash: tree, length: 1, fork: 0, keyPair: kp2))
        #expect(s2.proofs[0].signer == 1)
        #expect(!two.verify(signature: s1.compactEncoded, treeHash: tree, length: 1, fork: 0))
        let both = MultiSignature(proofs: s1.proofs + s2.proofs)
        #expect(two.verify(signature: both.compactEncoded, treeHash: tree, length: 1, fork: 0))
    }

    @Test("bitfield pages, ranges, counts and the first unset bit")
    func bitfield() {
        var b = Bitfield()
        #expect(b.firstUnset(from: 0) == 0 && !b.get(5))
        b.setRange(0, 70000, true)
        #expect(b.firstUnset(from: 0) == 70000)
        #expect(b.count(0, 100_000) == 70000)
        #expect(b.pageNumbers == [0, 1, 2])
        b.set(40000, false)
        #expect(b.firstUnset(from: 0) == 40000 && b.firstUnset(from: 40001) == 70000)
        #expect(b.words(page: 0).allSatisfy { $0 == .max })
        #expect(b.words(page: 1)[(40000 - 32768) / 32] != .max)
        #expect(b.words(page: 9) == [UInt32](repeating: 0, count: 1024))
        b.setRange(0, 70000, false)
        var batch = LogWriteBatch()
        b.flush(into: &batch)
        #expect(b.pageNumbers.isEmpty)
        #expect(batch.ops.count == 3)
    }

    @Test("withBlock reads a block without copying it out, with the same errors as get")
    func withBlock() throws {
        let log = try writer(3)
        #expect(try log.withBlock(1) { Array($0) } == Array("block-1".utf8))
        #expect(throws: HyperLogError.outOfRange(index: 3, length: 3)) { try log.withBlock(3) { $0.count } }
        try log.clear(1..<2)
        #expect(throws: HyperLogError.blockNotAvailable(1)) { try log.withBlock(1) { $0.count } }
    }

    @Test("the SignedLog contract drives a writer and a replica")
    func contract() async throws {
        let w: any SignedLog = try writer(0)
        #expect(try w.append(blocks(0..<4)) == 4)
        let r: any SignedLog = try HyperLog.replica(in: MemoryLogStorage(), key: w.key)
        #expect(!r.isWritable && r.discoveryKey == HypercoreCrypto.discoveryKey(w.key))
        #expect(try await r.fetch(2, from: LocalProofSource(w as! HyperLog)) == w.get(2))
        #expect(r.length == 4 && r.has(2) && !r.has(1))
    }

    @Test("replicationCheck copies every stored block through encoded data messages")
    func replicationCheck() async throws {
        let log = try writer(30)
        try log.clear(4..<6)
        let report = try await HyperLog.replicationCheck(of: log)
        #expect(report.contains("28 blocks sent") && report.contains("verified 28 blocks"))
        #expect(try await HyperLog.replicationCheck(of: try writer(0)).contains("empty log"))
    }
}
