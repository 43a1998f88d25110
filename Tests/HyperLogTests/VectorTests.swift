import CompactEncoding
import HyperCrypto
import TestSupport
import Testing

@testable import HyperLog

private func node(_ any: Any) -> TreeNode {
    if let a = any as? [Any] {
        return TreeNode(index: UInt64(a[0] as! Int), size: UInt64(a[1] as! Int), hash: hex(a[2]))
    }
    let d = any as! [String: Any]
    return TreeNode(index: UInt64(d["index"] as! Int), size: UInt64(d["size"] as! Int), hash: hex(d["hash"]))
}

@Suite("Hypercore vectors")
struct VectorTests {
    @Test("flat-tree index math matches every vector entry")
    func flatTree() throws {
        let v = try Vectors.load("flat-tree")
        let indices = v["indices"] as! [[String: Any]]
        #expect(indices.count == 65)
        for e in indices {
            let i = UInt64(e["index"] as! Int)
            #expect(FlatTree.depth(i) == UInt64(e["depth"] as! Int), "depth \(i)")
            #expect(FlatTree.offset(i) == UInt64(e["offset"] as! Int), "offset \(i)")
            #expect(FlatTree.parent(i) == UInt64(e["parent"] as! Int), "parent \(i)")
            #expect(FlatTree.sibling(i) == UInt64(e["sibling"] as! Int), "sibling \(i)")
            #expect(FlatTree.leftSpan(i) == UInt64(e["leftSpan"] as! Int), "leftSpan \(i)")
            #expect(FlatTree.rightSpan(i) == UInt64(e["rightSpan"] as! Int), "rightSpan \(i)")
            #expect(FlatTree.countLeaves(i) == UInt64(e["countLeaves"] as! Int), "countLeaves \(i)")
            #expect(FlatTree.count(i) == UInt64(e["count"] as! Int), "count \(i)")
            let spans = e["spans"] as! [Int]
            #expect([FlatTree.leftSpan(i), FlatTree.rightSpan(i)] == spans.map(UInt64.init))
            if let children = e["children"] as? [Int] {
                let c = try #require(FlatTree.children(i))
                #expect([c.left, c.right] == children.map(UInt64.init))
                #expect(c.left == UInt64(e["leftChild"] as! Int) && c.right == UInt64(e["rightChild"] as! Int))
            } else {
                #expect(FlatTree.children(i) == nil)
                #expect(e["leftChild"] as! Int == -1)
            }
            // The iterator agrees with the free functions.
            var it = FlatTree.Iterator(i)
            #expect(it.leftSpan == FlatTree.leftSpan(i) && it.rightSpan == FlatTree.rightSpan(i))
            #expect(it.parent() == FlatTree.parent(i))
            it.seek(i)
            #expect(it.sibling() == FlatTree.sibling(i))
        }
        let roots = v["fullRoots"] as! [[String: Any]]
        #expect(roots.count == 41)
        for e in roots {
            let head = UInt64(e["index"] as! Int)
            let expected = (e["fullRoots"] as! [Int]).map(UInt64.init)
            #expect(FlatTree.fullRoots(head) == expected, "fullRoots(\(head))")
            // The iterator's fullRoot/nextTree walk yields the same roots.
            var it = FlatTree.Iterator(0)
            var walked: [UInt64] = []
            while it.fullRoot(head) {
                walked.append(it.index)
                it.nextTree()
            }
            #expect(walked == expected, "iterator roots of \(head)")
        }
        for e in v["index"] as! [[String: Any]] {
            #expect(
                FlatTree.index(depth: UInt64(e["depth"] as! Int), offset: UInt64(e["offset"] as! Int))
                    == UInt64(e["index"] as! Int))
        }
    }

    @Test("hypercore-crypto: key pairs, hashes, discovery keys, namespaces, signatures")
    func crypto() throws {
        let v = try Vectors.load("hypercore-crypto")
        for kp in v["keyPairs"] as! [[String: Any]] {
            let k = try Ed25519KeyPair(seed: hex(kp["seed"]))
            #expect(k.publicKey == hex(kp["publicKey"]) && k.secretKey == hex(kp["secretKey"]))
        }
        for d in v["data"] as! [[String: Any]] {
            let input = hex(d["input"])
            #expect(input.count == d["length"] as! Int)
            #expect(HypercoreCrypto.leafHash(input) == hex(d["hash"]), "leaf \(d["label"]!)")
        }
        for p in v["parent"] as! [[String: Any]] {
            #expect(HypercoreCrypto.parentHash(node(p["left"]!), node(p["right"]!)) == hex(p["hash"]))
        }
        for t in v["tree"] as! [[String: Any]] {
            let roots = (t["roots"] as! [Any]).map(node)
            #expect(HypercoreCrypto.treeHash(roots) == hex(t["hash"]), "\(t["note"]!)")
        }
        for d in v["discoveryKey"] as! [[String: Any]] {
            #expect(HypercoreCrypto.discoveryKey(hex(d["key"])) == hex(d["discoveryKey"]))
        }
        let namespaces = v["namespace"] as! [[String: Any]]
        #expect(namespaces.count == 7)
        for n in namespaces {
            let ids = n["ids"] as! [Int]
            let got = HypercoreCrypto.namespace(n["name"] as! String, ids: ids)
            #expect(got == (n["values"] as! [String]).map { hex($0) }, "namespace \(n["name"]!)")
            if let count = n["count"] as? Int {
                #expect(HypercoreCrypto.namespace(n["name"] as! String, count: count) == got)
            }
        }
        for s in v["sign"] as! [[String: Any]] {
            let k = try Ed25519KeyPair(seed: hex(s["seed"]))
            let msg = hex(s["message"])
            #expect(k.sign(msg) == hex(s["signature"]))
            #expect(Ed25519.verify(signature: hex(s["signature"]), message: msg, publicKey: k.publicKey))
            #expect(
                Ed25519.verify(signature: hex(s["signature"]), message: msg + [1], publicKey: k.publicKey)
                    == (s["verifyWrongMsg"] as! Bool))
        }
        for h in v["hash"] as! [[String: Any]] {
            #expect(HypercoreCrypto.hash((h["parts"] as! [String]).map { hex($0) }) == hex(h["hash"]))
        }
    }

    @Test("every append of the letters core and the 1000-block core gives the vector roots, tree hash and size")
    func merkleSteps() throws {
        let v = try Vectors.load("merkle")
        let kp = try Ed25519KeyPair(seed: [UInt8](repeating: 1, count: 32))
        let letters = v["lettersCore"] as! [String: Any]
        let letterBlocks = (letters["blocks"] as! [String]).map { Array($0.utf8) }
        let thousand = (0..<1000).map { Array("block-\($0)".utf8) }
        for (blocks, steps) in [
            (letterBlocks, letters["steps"] as! [[String: Any]]),
            (thousand, (v["blockCore1000"] as! [String: Any])["steps"] as! [[String: Any]]),
        ] {
            #expect(steps.count == blocks.count)
            let log = try HyperLog.create(in: MemoryLogStorage(), keyPair: kp, mode: .manifest)
            for (i, step) in steps.enumerated() {
                try log.append(blocks[i])
                #expect(log.length == UInt64(step["length"] as! Int))
                #expect(log.byteLength == UInt64(step["byteLength"] as! Int))
                #expect(log.roots == (step["roots"] as! [Any]).map(node), "roots after \(i + 1)")
                #expect(log.treeHash == hex(step["treeHash"]), "tree hash after \(i + 1)")
            }
            #expect(try log.verify() == UInt64(blocks.count))
        }
        // Every node of the 20-letter tree.
        let log = try HyperLog.create(in: MemoryLogStorage(), keyPair: kp)
        try log.append(letterBlocks)
        let all = (letters["allNodesAfter20"] as! [Any]).map(node)
        #expect(all.count == 38)
        for n in all { #expect(try log.node(n.index) == n) }
    }

    @Test("manifest, key, caps, signables and signatures in manifest and compat mode")
    func signatures() throws {
        let v = try Vectors.load("merkle")
        let m = v["manifest"] as! [String: Any]
        let caps = m["caps"] as! [String: Any]
        #expect(Caps.manifest == hex(caps["MANIFEST"]))
        #expect(Caps.defaultNamespace == hex(caps["DEFAULT_NAMESPACE"]))
        #expect(Caps.defaultEncryption == hex(caps["DEFAULT_ENCRYPTION"]))
        #expect(Caps.tree == hex(caps["TREE"]))
        let kp = try Ed25519KeyPair(seed: hex(m["keyPairSeed"]))
        #expect(kp.publicKey == hex(m["publicKey"]))
        let manifest = Manifest.singleSigner(publicKey: kp.publicKey)
        let mj = m["manifest"] as! [String: Any]
        #expect(manifest.version == UInt64(mj["version"] as! Int) && manifest.quorum == UInt64(mj["quorum"] as! Int))
        let signer = (mj["signers"] as! [[String: Any]])[0]
        #expect(manifest.signers[0].namespace == hex(signer["namespace"]))
        #expect(manifest.compactEncoded == hex(m["manifestEncoded"]))
        #expect(Caps.manifest + manifest.compactEncoded == hex(m["manifestHashInput"]))
        #expect(try Manifest(compactEncoded: hex(m["manifestEncoded"])) == manifest)
        let identity = LogIdentity(publicKey: kp.publicKey, mode: .manifest)
        #expect(identity.key == hex(m["key"]))
        #expect(identity.discoveryKey == hex(m["discoveryKey"]))

        let letters = ((v["lettersCore"] as! [String: Any])["blocks"] as! [String]).map { Array($0.utf8) }
        let thousand = (0..<10).map { Array("block-\($0)".utf8) }
        let sigs = v["signatures"] as! [String: Any]
        #expect(sigs.count == 4)
        for (name, blocks) in [
            ("letters3", letters), ("letters10", letters), ("blocks3", thousand), ("blocks10", thousand),
        ] {
            let s = sigs[name] as! [String: Any]
            let n = s["length"] as! Int
            let log = try HyperLog.create(in: MemoryLogStorage(), keyPair: kp, mode: .manifest)
            try log.append(Array(blocks[0..<n]))
            #expect(log.treeHash == hex(s["treeHash"]), "\(name) tree hash")
            let signable = identity.signable(treeHash: log.treeHash, length: log.length, fork: 0)
            #expect(signable.count == 112)
            #expect(signable == hex(s["signable"]), "\(name) signable")
            #expect(kp.sign(signable) == hex(s["ed25519Signature"]))
            #expect(log.signature.count == 68)
            #expect(log.signature == hex(s["storedSignature_multisigV1"]), "\(name) stored signature")
            #expect(identity.verify(signature: log.signature, treeHash: log.treeHash, length: UInt64(n), fork: 0))

            let c = s["compat"] as! [String: Any]
            let clog = try HyperLog.create(in: MemoryLogStorage(), keyPair: kp, mode: .compat)
            try clog.append(Array(blocks[0..<n]))
            #expect(clog.key == hex(c["key"]))
            let compatSignable = clog.identity.signable(treeHash: clog.treeHash, length: clog.length, fork: 0)
            #expect(compatSignable.count == 80)
            #expect(compatSignable == hex(c["signableCompat"]))
            #expect(clog.signature == hex(c["signature"]), "\(name) compat signature")
        }

        // The research fixture: roots from real encrypted blocks, signed by real verifier.js.
        let fx = v["researchFixtureCrossCheck"] as! [String: Any]
        let def = fx["default"] as! [String: Any]
        let roots = (def["roots"] as! [Any]).map(node)
        #expect(roots.reduce(0) { $0 + $1.size } == UInt64(def["byteLength"] as! Int))
        #expect(HypercoreCrypto.treeHash(roots) == hex(def["treeHash"]))
        #expect(identity.signable(treeHash: hex(def["treeHash"]), length: 11, fork: 0) == hex(def["signable"]))
        #expect(
            identity.verify(
                signature: hex(def["storedSignature_multisigV1"]), treeHash: hex(def["treeHash"]), length: 11, fork: 0))
        let compat = fx["compat_seed00"] as! [String: Any]
        let kp0 = try Ed25519KeyPair(seed: [UInt8](repeating: 0, count: 32))
        let cid = LogIdentity(publicKey: kp0.publicKey, mode: .compat)
        #expect(cid.key == hex(compat["key"]) && cid.discoveryKey == hex(compat["discoveryKey"]))
        #expect(cid.signable(treeHash: hex(compat["treeHash"]), length: 11, fork: 0) == hex(compat["signableCompat"]))
        #expect(cid.verify(signature: hex(compat["signature"]), treeHash: hex(compat["treeHash"]), length: 11, fork: 0))
        #expect(
            !cid.verify(signature: hex(compat["signature"]), treeHash: hex(compat["treeHash"]), length: 12, fork: 0))
    }
}
