import CompactEncoding
import HyperCrypto

/// A Hypercore manifest (version 1): who may sign the tree. The core key of a manifest core is its hash.
public struct Manifest: Sendable, Hashable {
    /// One signer of a manifest.
    public struct Signer: Sendable, Hashable {
        /// Signature scheme; only `ed25519` (0) exists.
        public var signature: UInt64 = 0
        /// 32-byte namespace (defaults to `Caps.defaultNamespace`).
        public var namespace: [UInt8]
        /// 32-byte Ed25519 public key.
        public var publicKey: [UInt8]

        public init(publicKey: [UInt8], namespace: [UInt8] = Caps.defaultNamespace) {
            self.publicKey = publicKey
            self.namespace = namespace
        }
    }

    /// A prologue: a tree hash and length the core must start with.
    public struct Prologue: Sendable, Hashable {
        public var hash: [UInt8]
        public var length: UInt64
    }

    public var version: UInt64 = 1
    /// Tree hash function; only `blake2b` (0) exists.
    public var hash: UInt64 = 0
    public var allowPatch = false
    public var quorum: UInt64 = 1
    public var signers: [Signer]
    public var prologue: Prologue? = nil
    public var unencrypted = false

    /// The default single-signer manifest Hypercore 11 builds for a key pair.
    public static func singleSigner(publicKey: [UInt8]) -> Manifest {
        Manifest(signers: [Signer(publicKey: publicKey)])
    }

    public init(signers: [Signer], quorum: UInt64 = 1) {
        self.signers = signers
        self.quorum = quorum
    }

    /// BLAKE2b-256(MANIFEST cap || encoding): the core key of a manifest core.
    public var manifestHash: [UInt8] { BLAKE2b.hash(Caps.manifest, compactEncoded) }
}

extension Manifest: CompactCodable {
    /// hypercore lib/messages.js `manifest` (version 1).
    public func encode(to w: inout CompactWriter) {
        w.uint(version)
        var flags: UInt64 = 0
        if allowPatch { flags |= 1 }
        if prologue != nil { flags |= 2 }
        if unencrypted { flags |= 4 }
        w.uint(flags)
        w.uint(hash)
        w.uint(quorum)
        w.uint(signers.count)
        for s in signers {
            w.uint(s.signature)
            w.fixed32(s.namespace)
            w.fixed32(s.publicKey)
        }
        if let p = prologue {
            w.fixed32(p.hash)
            w.uint(p.length)
        }
    }

    public init(from r: inout CompactReader) throws {
        let v = try r.uint()
        guard v == 1 else { throw CompactDecodingError.invalid("unsupported manifest version \(v)") }
        let flags = try r.uint()
        let hash = try r.uint()
        guard hash == 0 else { throw CompactDecodingError.invalid("unknown manifest hash \(hash)") }
        let quorum = try r.uint()
        let n = try r.length(limit: r.remaining / 65)
        var signers: [Signer] = []
        for _ in 0..<n {
            let sig = try r.uint()
            guard sig == 0 else { throw CompactDecodingError.invalid("unknown signature scheme \(sig)") }
            let ns = try r.fixed32()
            let pk = try r.fixed32()
            signers.append(Signer(publicKey: pk, namespace: ns))
        }
        self.init(signers: signers, quorum: quorum)
        self.allowPatch = flags & 1 != 0
        self.unencrypted = flags & 4 != 0
        if flags & 2 != 0 { prologue = Prologue(hash: try r.fixed32(), length: try r.uint()) }
    }
}

/// The multisig container a manifest core stores and sends as its signature (hypercore lib/multisig.js):
/// proofs `[signer uint, signature fixed64, patch uint]` then an array of patch nodes. 68 bytes for one signer.
public struct MultiSignature: Sendable, Hashable, CompactCodable {
    public struct Proof: Sendable, Hashable {
        public var signer: UInt64
        public var signature: [UInt8]
        public var patch: UInt64
    }
    public var proofs: [Proof]
    public var patch: [TreeNode]

    public init(proofs: [Proof], patch: [TreeNode] = []) {
        self.proofs = proofs
        self.patch = patch
    }

    public func encode(to w: inout CompactWriter) {
        w.uint(proofs.count)
        for p in proofs {
            w.uint(p.signer)
            w.fixed64(p.signature)
            w.uint(p.patch)
        }
        w.array(patch)
    }

    public init(from r: inout CompactReader) throws {
        let n = try r.length(limit: r.remaining / 66)
        var proofs: [Proof] = []
        for _ in 0..<n {
            proofs.append(Proof(signer: try r.uint(), signature: try r.fixed64(), patch: try r.uint()))
        }
        self.proofs = proofs
        self.patch = try r.array(of: TreeNode.self)
    }
}

/// How a log's tree is signed and what its key is.
public enum SigningMode: String, Sendable, Hashable, Codable {
    /// Key = Ed25519 public key; raw 64-byte signature over the 80-byte compat signable (bare Hypercore 11 default).
    case compat
    /// Key = manifest hash; 68-byte multisig container over the 112-byte signable (Corestore 7 default).
    case manifest
}

/// The verifying half of a log's identity: key, manifest, mode. Signs when given the secret key.
public struct LogIdentity: Sendable, Hashable {
    public let mode: SigningMode
    /// The core key (public key in compat mode, manifest hash otherwise).
    public let key: [UInt8]
    /// The manifest (in compat mode the implied single-signer manifest).
    public let manifest: Manifest
    /// `HypercoreCrypto.discoveryKey(key)`.
    public let discoveryKey: [UInt8]

    /// Identity of a single-signer log.
    public init(publicKey: [UInt8], mode: SigningMode) {
        self.mode = mode
        manifest = .singleSigner(publicKey: publicKey)
        key = mode == .compat ? publicKey : manifest.manifestHash
        discoveryKey = HypercoreCrypto.discoveryKey(key)
    }

    /// Identity from an explicit manifest (manifest mode).
    public init(manifest: Manifest) {
        mode = .manifest
        self.manifest = manifest
        key = manifest.manifestHash
        discoveryKey = HypercoreCrypto.discoveryKey(key)
    }

    /// The bytes a signer signs for a tree state.
    public func signable(treeHash: [UInt8], length: UInt64, fork: UInt64) -> [UInt8] {
        switch mode {
        case .compat: return Caps.treeSignableCompat(treeHash: treeHash, length: length, fork: fork)
        case .manifest:
            return Caps.treeSignable(manifestHash: key, treeHash: treeHash, length: length, fork: fork)
        }
    }

    /// The signature stored and sent for a tree state (raw in compat mode, multisig container otherwise).
    public func sign(treeHash: [UInt8], length: UInt64, fork: UInt64, keyPair: Ed25519KeyPair) -> [UInt8] {
        let raw = keyPair.sign(signable(treeHash: treeHash, length: length, fork: fork))
        switch mode {
        case .compat: return raw
        case .manifest:
            let index = manifest.signers.firstIndex { $0.publicKey == keyPair.publicKey } ?? 0
            return MultiSignature(proofs: [.init(signer: UInt64(index), signature: raw, patch: 0)]).compactEncoded
        }
    }

    /// Whether `signature` is a valid signature of the tree state by this identity's signers.
    public func verify(signature: [UInt8], treeHash: [UInt8], length: UInt64, fork: UInt64) -> Bool {
        let message = signable(treeHash: treeHash, length: length, fork: fork)
        switch mode {
        case .compat:
            return Ed25519.verify(signature: signature, message: message, publicKey: manifest.signers[0].publicKey)
        case .manifest:
            guard let multi = try? MultiSignature(compactEncoded: signature), multi.patch.isEmpty else { return false }
            var seen = Set<UInt64>()
            for p in multi.proofs {
                guard p.patch == 0, p.signer < UInt64(manifest.signers.count), !seen.contains(p.signer) else {
                    return false
                }
                let signer = manifest.signers[Int(p.signer)]
                guard Ed25519.verify(signature: p.signature, message: message, publicKey: signer.publicKey) else {
                    return false
                }
                seen.insert(p.signer)
            }
            return UInt64(seen.count) >= max(1, manifest.quorum)
        }
    }
}
