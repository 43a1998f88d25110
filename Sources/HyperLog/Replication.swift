import HyperCrypto

extension HyperLog {
    /// What `apply(_:)` changed.
    public struct ApplyResult: Sendable, Equatable {
        /// The verified block index that was stored, if the proof carried a block.
        public var block: UInt64?
        /// The new length when the proof upgraded the log.
        public var upgradedTo: UInt64?
    }

    /// Answers a proof request from this log's stored nodes and blocks (like Hypercore's `MerkleTree.proof`).
    /// Block + upgrade requests are served; `hash` and `seek` requests throw `unsupported`.
    public func proof(for request: ProofRequest) throws -> Proof {
        guard request.hash == nil else { throw HyperLogError.unsupported("hash proofs") }
        guard request.seek == nil else { throw HyperLogError.unsupported("seek proofs") }
        let (header, identity) = lock.withLock { (state.header, state.identity) }
        guard request.fork == header.fork else {
            throw HyperLogError.forkMismatch(expected: header.fork, got: request.fork)
        }
        let head = 2 * header.length
        var from: UInt64 = 0
        var to = head
        if let u = request.upgrade {
            let (end, overflow) = u.start.addingReportingOverflow(u.length)
            guard !overflow, u.length > 0, end <= header.length else {
                throw HyperLogError.invalidArgument("upgrade \(u.start)+\(u.length) beyond length \(header.length)")
            }
            from = 2 * u.start
            to = 2 * end
        }
        if let b = request.block, b.index >= header.length {
            throw HyperLogError.outOfRange(index: b.index, length: header.length)
        }
        if request.upgrade == nil && request.block == nil {
            throw HyperLogError.invalidArgument("request asks for neither a block nor an upgrade")
        }
        return try storage.read { r in
            var b = ProofBuilder(node: { i in
                guard let n = try Self.readNode(r, i) else { throw HyperLogError.corrupt("missing node \(i)") }
                return n
            })
            var subTree = head
            if let block = request.block, request.upgrade == nil || block.index < request.upgrade!.start {
                subTree = try ProofBuilder.nodesToRoot(2 * block.index, block.nodes, to)
                try b.blockProof(block.index, root: subTree)
            } else if let block = request.block {
                subTree = 2 * block.index
            }
            if let u = request.upgrade {
                try b.upgradeProof(block: request.block?.index, from: from, to: to, subTree: subTree, additional: false)
                if head > to { try b.upgradeProof(block: nil, from: to, to: head, subTree: head, additional: true) }
                _ = u
            }
            var proof = Proof(fork: header.fork)
            if let block = request.block {
                guard let value = try r.get(.blocks, LogKeys.u64(block.index)) else {
                    throw HyperLogError.blockNotAvailable(block.index)
                }
                proof.block = Proof.Block(index: block.index, value: value, nodes: b.blockNodes ?? [])
            }
            if let u = request.upgrade {
                proof.upgrade = Proof.Upgrade(
                    start: u.start, length: u.length, nodes: b.upgradeNodes ?? [],
                    additionalNodes: b.additionalNodes ?? [], signature: header.signature)
            }
            if request.manifest && identity.mode == .manifest { proof.manifest = identity.manifest }
            return proof
        }
    }

    /// How many nodes on the path from block `index` upward this log lacks (the `nodes` field of a request).
    public func missingNodes(_ index: UInt64) throws -> UInt64 {
        let head = 2 * length
        return try storage.read { r in
            var ite = FlatTree.Iterator(2 * index)
            var count: UInt64 = 0
            while !ite.contains(head), ite.factor < (1 << 62), try Self.readNode(r, ite.index) == nil {
                count += 1
                ite.parent()
            }
            return count
        }
    }

    /// Verifies a remote proof and stores what it proves (block, nodes, new signed length). Nothing is stored
    /// unless every hash and the signature check out.
    @discardableResult
    public func apply(_ proof: Proof) throws -> ApplyResult {
        guard proof.hash == nil, proof.seek == nil else { throw HyperLogError.unsupported("hash / seek proofs") }
        let (result, events): (ApplyResult, [LogEvent]) = try lock.withLock {
            var header = state.header
            var identity = state.identity
            // Adopt a manifest only if it hashes to our key.
            if let m = proof.manifest, !header.manifestKnown || header.mode == .compat {
                if m.manifestHash == header.key {
                    identity = LogIdentity(manifest: m)
                    header.mode = .manifest
                    header.manifest = m
                    header.manifestKnown = true
                }
            }
            guard proof.fork == header.fork || (header.length == 0 && proof.upgrade != nil) else {
                throw HyperLogError.forkMismatch(expected: header.fork, got: proof.fork)
            }
            var batchNodes: [TreeNode] = []
            let blockRoot = try ProofVerifier.verifyBlock(proof, nodes: &batchNodes)
            var tree = TreeBatch(roots: state.roots, length: header.length, byteLength: header.byteLength)
            var unverified = blockRoot
            var upgraded = false
            if let u = proof.upgrade {
                guard u.start == header.length else {
                    throw HyperLogError.invalidProof("upgrade starts at \(u.start), log length is \(header.length)")
                }
                guard u.length > 0 else { throw HyperLogError.invalidProof("empty upgrade") }
                if try ProofVerifier.verifyUpgrade(u, blockRoot: blockRoot, batch: &tree) { unverified = nil }
                guard
                    identity.verify(
                        signature: u.signature, treeHash: HypercoreCrypto.treeHash(tree.roots), length: tree.length,
                        fork: proof.fork)
                else { throw HyperLogError.invalidSignature }
                if !header.manifestKnown && identity.mode == .compat { header.manifestKnown = true }
                upgraded = true
            }
            if let u = unverified {
                let trusted = try storage.read { try Self.readNode($0, u.index) }
                guard let trusted, trusted.hash == u.hash, trusted.size == u.size else {
                    throw HyperLogError.invalidProof("block does not hash to a trusted node (at \(u.index))")
                }
            }
            let newLength = upgraded ? tree.length : header.length
            if let b = proof.block, b.index >= newLength {
                throw HyperLogError.outOfRange(index: b.index, length: newLength)
            }
            var batch = LogWriteBatch()
            for n in batchNodes + tree.nodes { batch.put(.nodes, LogKeys.u64(n.index), n.stored) }
            var bitfield = state.bitfield
            if let b = proof.block {
                batch.put(.blocks, LogKeys.u64(b.index), b.value)
                bitfield.set(b.index, true)
            }
            if upgraded {
                header.length = tree.length
                header.byteLength = tree.byteLength
                header.fork = proof.fork
                header.signature = proof.upgrade!.signature
            }
            header.contiguousLength = min(bitfield.firstUnset(from: header.contiguousLength), header.length)
            bitfield.flush(into: &batch)
            batch.put(.meta, LogKeys.header, header.compactEncoded)
            try storage.write(batch)
            state.header = header
            state.identity = identity
            if upgraded { state.roots = tree.roots }
            state.bitfield = bitfield
            var events: [LogEvent] = []
            if upgraded { events.append(.appended(length: header.length, byteLength: header.byteLength)) }
            if let b = proof.block { events.append(.downloaded(index: b.index)) }
            return (ApplyResult(block: proof.block?.index, upgradedTo: upgraded ? header.length : nil), events)
        }
        for e in events { emit(e) }
        return result
    }

    /// Brings this log up to the source's length with a verified upgrade proof; returns the new length.
    @discardableResult
    public func update(from source: any ProofSource) async throws -> UInt64 {
        let remote = try await source.remoteLength()
        let (length, fork, needManifest) = lock.withLock {
            (state.header.length, state.header.fork, !state.header.manifestKnown)
        }
        guard remote > length else { return length }
        let request = ProofRequest(
            fork: fork, upgrade: .init(start: length, length: remote - length), manifest: needManifest)
        let proof = try await source.proof(for: request)
        try apply(proof)
        return self.length
    }

    /// The block at `index`, fetched from `source` and verified when not stored locally.
    public func fetch(_ index: UInt64, from source: any ProofSource) async throws -> [UInt8] {
        if has(index) { return try get(index) }
        if index >= length { try await update(from: source) }
        let length = self.length
        guard index < length else { throw HyperLogError.outOfRange(index: index, length: length) }
        let request = ProofRequest(
            fork: fork, block: .init(index: index, nodes: try missingNodes(index)),
            manifest: !lock.withLock { state.header.manifestKnown })
        let proof = try await source.proof(for: request)
        guard proof.block?.index == index else { throw HyperLogError.invalidProof("source sent another block") }
        try apply(proof)
        return try get(index)
    }

    /// Re-checks the whole stored log: the signature over the roots, and every stored block against the tree.
    /// Returns how many blocks were checked.
    @discardableResult
    public func verify() throws -> UInt64 {
        let (header, identity, roots) = lock.withLock { (state.header, state.identity, state.roots) }
        if header.length == 0 { return 0 }
        guard
            identity.verify(
                signature: header.signature, treeHash: HypercoreCrypto.treeHash(roots), length: header.length,
                fork: header.fork)
        else { throw HyperLogError.invalidSignature }
        guard roots.reduce(0, { $0 + $1.size }) == header.byteLength else {
            throw HyperLogError.corrupt("byte length does not match the roots")
        }
        let rootSet = Dictionary(uniqueKeysWithValues: roots.map { ($0.index, $0) })
        return try storage.read { r in
            var checked: UInt64 = 0
            var verifiedNodes = Set<UInt64>()
            try r.scan(.blocks, from: nil) { k, v in
                guard let index = LogKeys.decodeU64(k) else { throw HyperLogError.corrupt("bad block key") }
                guard index < header.length else { throw HyperLogError.corrupt("block \(index) past length") }
                var node = TreeNode(index: 2 * index, size: UInt64(v.count), hash: HypercoreCrypto.leafHash(v))
                // Climb until a node already proven, or a root.
                while true {
                    if let root = rootSet[node.index] {
                        guard root == node else { throw HyperLogError.corrupt("block \(index) does not match root") }
                        break
                    }
                    guard let stored = try Self.readNode(r, node.index), stored == node else {
                        throw HyperLogError.corrupt("block \(index): node \(node.index) does not match")
                    }
                    if verifiedNodes.contains(node.index) { break }
                    verifiedNodes.insert(node.index)
                    let sibIndex = FlatTree.sibling(node.index)
                    guard let sib = try Self.readNode(r, sibIndex) else {
                        throw HyperLogError.corrupt("block \(index): missing node \(sibIndex)")
                    }
                    node = sib.index < node.index ? TreeNode.parent(sib, node) : TreeNode.parent(node, sib)
                }
                checked += 1
                return true
            }
            return checked
        }
    }
}

/// Serves proofs from a local log (tests, and in-process replication).
public struct LocalProofSource: ProofSource {
    public let log: HyperLog
    public init(_ log: HyperLog) { self.log = log }
    public func remoteLength() async throws -> UInt64 { log.length }
    public func proof(for request: ProofRequest) async throws -> Proof { try log.proof(for: request) }
}
