import HyperCrypto

/// Hypercore 11 hashing, capabilities and signables (hypercore-crypto and hypercore lib/caps.js formats).
public enum HypercoreCrypto {
    static let leafType: UInt8 = 0
    static let parentType: UInt8 = 1
    static let rootType: UInt8 = 2

    /// BLAKE2b-256(0x00 || u64le(len) || data).
    public static func leafHash(_ data: [UInt8]) -> [UInt8] {
        data.withUnsafeBytes { leafHash($0) }
    }

    /// BLAKE2b-256(0x00 || u64le(len) || data) over borrowed bytes.
    public static func leafHash(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        var h = BLAKE2b()
        h.update(byte: leafType)
        h.update(uint64LE: UInt64(data.count))
        h.update(data)
        return h.finalize()
    }

    /// BLAKE2b-256(0x01 || u64le(sizeL + sizeR) || hashL || hashR), L being the node with the lower index
    /// (arguments may come in either order, as in hypercore-crypto).
    public static func parentHash(_ a: TreeNode, _ b: TreeNode) -> [UInt8] {
        let (left, right) = a.index <= b.index ? (a, b) : (b, a)
        var h = BLAKE2b()
        h.update(byte: parentType)
        h.update(uint64LE: left.size + right.size)
        h.update(left.hash)
        h.update(right.hash)
        return h.finalize()
    }

    /// BLAKE2b-256(0x02 || for each root: hash || u64le(index) || u64le(size)).
    public static func treeHash(_ roots: [TreeNode]) -> [UInt8] {
        var h = BLAKE2b()
        h.update(byte: rootType)
        for r in roots {
            h.update(r.hash)
            h.update(uint64LE: r.index)
            h.update(uint64LE: r.size)
        }
        return h.finalize()
    }

    /// BLAKE2b-256 keyed with the core key over "hypercore": the topic peers announce instead of the key.
    public static func discoveryKey(_ key: [UInt8]) -> [UInt8] {
        BLAKE2b.hash(Array("hypercore".utf8), key: key)
    }

    /// BLAKE2b-256 of several byte strings concatenated.
    public static func hash(_ parts: [[UInt8]]) -> [UInt8] {
        var h = BLAKE2b()
        for p in parts { h.update(p) }
        return h.finalize()
    }

    /// hypercore-crypto `namespace(name, count)`: BLAKE2b-256(BLAKE2b-256(name) || byte(i)) for i in 0..<count.
    public static func namespace(_ name: String, count: Int) -> [[UInt8]] {
        let base = BLAKE2b.hash(Array(name.utf8))
        return (0..<count).map { i in BLAKE2b.hash(base, [UInt8(truncatingIfNeeded: i)]) }
    }

    /// hypercore-crypto `namespace(name, ids)` for explicit ids.
    public static func namespace(_ name: String, ids: [Int]) -> [[UInt8]] {
        let base = BLAKE2b.hash(Array(name.utf8))
        return ids.map { i in BLAKE2b.hash(base, [UInt8(truncatingIfNeeded: i)]) }
    }
}

/// Hypercore's capability constants (lib/caps.js: `namespace('hypercore', 6)`).
public enum Caps {
    private static let all = HypercoreCrypto.namespace("hypercore", count: 6)
    /// Prefix of every tree signable.
    public static let tree = all[0]
    public static let replicateInitiator = all[1]
    public static let replicateResponder = all[2]
    /// Prefix of the manifest hash input.
    public static let manifest = all[3]
    /// Default signer namespace in a manifest.
    public static let defaultNamespace = all[4]
    public static let defaultEncryption = all[5]

    /// The 112-byte signable of a manifest core: TREE || manifestHash || treeHash || u64le(length) || u64le(fork).
    public static func treeSignable(manifestHash: [UInt8], treeHash: [UInt8], length: UInt64, fork: UInt64) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(112)
        out.append(contentsOf: tree)
        out.append(contentsOf: manifestHash)
        out.append(contentsOf: treeHash)
        appendU64(&out, length)
        appendU64(&out, fork)
        return out
    }

    /// The 80-byte signable of a compat core: TREE || treeHash || u64le(length) || u64le(fork).
    public static func treeSignableCompat(treeHash: [UInt8], length: UInt64, fork: UInt64) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(80)
        out.append(contentsOf: tree)
        out.append(contentsOf: treeHash)
        appendU64(&out, length)
        appendU64(&out, fork)
        return out
    }

    private static func appendU64(_ out: inout [UInt8], _ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }
}
