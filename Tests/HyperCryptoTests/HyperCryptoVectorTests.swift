import HyperCrypto
import TestSupport
import Testing

@Suite("HyperCrypto against hypercore-crypto.json")
struct HyperCryptoVectorTests {
    let v: [String: Any]
    init() throws { v = try Vectors.load("hypercore-crypto") }

    @Test("key pairs derive from seeds exactly as sodium does")
    func keyPairs() throws {
        let pairs = try #require(v["keyPairs"] as? [[String: Any]])
        #expect(!pairs.isEmpty)
        for p in pairs {
            let kp = try Ed25519KeyPair(seed: hex(p["seed"]))
            #expect(kp.publicKey == hex(p["publicKey"]))
            #expect(kp.secretKey == hex(p["secretKey"]))
            #expect(try Ed25519KeyPair(secretKey: kp.secretKey) == kp)
        }
    }

    @Test("detached signatures match and verify; a wrong message does not")
    func signatures() throws {
        let cases = try #require(v["sign"] as? [[String: Any]])
        #expect(!cases.isEmpty)
        for c in cases {
            let kp = try Ed25519KeyPair(seed: hex(c["seed"]))
            let msg = hex(c["message"])
            let sig = kp.sign(msg)
            #expect(sig == hex(c["signature"]))
            #expect(Ed25519.verify(signature: sig, message: msg, publicKey: kp.publicKey) == (c["verify"] as? Bool))
            #expect(
                Ed25519.verify(signature: sig, message: msg + [1], publicKey: kp.publicKey)
                    == (c["verifyWrongMsg"] as? Bool))
        }
    }

    @Test("BLAKE2b-256 over several parts equals the one-shot hash")
    func blake2b() throws {
        let cases = try #require(v["hash"] as? [[String: Any]])
        for c in cases {
            let parts = try #require(c["parts"] as? [String]).map { hex($0) }
            var h = BLAKE2b()
            for p in parts { h.update(p) }
            #expect(h.finalize() == hex(c["hash"]))
        }
    }

    @Test("keyed BLAKE2b gives the discovery key")
    func discoveryKey() throws {
        let cases = try #require(v["discoveryKey"] as? [[String: Any]])
        for c in cases {
            let dk = BLAKE2b.hash(Array("hypercore".utf8), key: hex(c["key"]))
            #expect(dk == hex(c["discoveryKey"]))
        }
    }

    @Test("malformed key material is a typed error")
    func badKeys() {
        #expect(throws: Ed25519KeyPair.KeyError.badSeedLength(31)) {
            try Ed25519KeyPair(seed: [UInt8](repeating: 0, count: 31))
        }
        var sk = Ed25519KeyPair.generate().secretKey
        sk[40] ^= 1
        #expect(throws: Ed25519KeyPair.KeyError.inconsistentSecretKey) { try Ed25519KeyPair(secretKey: sk) }
        #expect(!Ed25519.verify(signature: [1, 2, 3], message: [], publicKey: [UInt8](repeating: 0, count: 32)))
    }

    @Test("hex round-trips and rejects junk")
    func hexCodec() {
        let bytes: [UInt8] = [0, 1, 0xab, 0xff]
        #expect(bytes.hex == "0001abff")
        #expect([UInt8](hex: "0001ABff") == bytes)
        #expect([UInt8](hex: "abc") == nil)
        #expect([UInt8](hex: "zz") == nil)
        #expect(
            SHA256.hash(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
