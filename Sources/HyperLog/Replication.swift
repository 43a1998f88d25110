import HyperCrypto

extension HyperLog {
    /// What `apply(_:)` changed.
    public struct ApplyResult: Sendable, Equatable {
        /// The verified block index that was stored, if the proof carried a block.
        public var block: UInt64?
        /// The new length when the proof upgraded the log.
        public var upgradedTo: UInt64?
        /// The verified tree node index, if the proof was a hash proof.
        public var hash: UInt64? = nil
    }

    /// Answers a proof request from this log's stored nodes and blocks (like Hypercore's `MerkleTree.proof`).
    /// Block, hash (any tree node) and upgrade requests are served; `seek` requests throw `unsupported`.
    public func proof(for request: ProofRequest) throws -> Proof {
        guard request.seek == nil else { throw HyperLogError.unsupported("seek proofs") }
        guard request.block == nil || request.hash == nil else {
            throw HyperLogError.invalidArgument("request asks for both a block and a hash")
        }
        let (header, identity) = lock.withLock { (state.header, state.identity) }
        // A peer on an older fork can only be served a full upgrade from 0 (it then reorgs).
        guard request.fork == header.fork || request.upgrade?.start == 0 else {
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
        // The node the proof starts from, its `nodes` count, and the last block it covers.
        var target: (ProofBuilder.Target, nodes: UInt64, last: UInt64)?
        if let b = request.block {
            target = (.init(index: 2 * b.index, includeSelf: false), b.nodes, b.index)
        } else if let h = request.hash {
            guard h.index < (1 << 62) else { throw HyperLogError.invalidArgument("hash index \(h.index) too large") }
            target = (.init(index: h.index, includeSelf: true), h.nodes, FlatTree.rightSpan(h.index) / 2)
        }
        if let t = target, t.last >= header.length {
            throw HyperLogError.outOfRange(index: t.last, length: header.length)
        }
        if let t = target, let u = request.upgrade, t.last >= u.start + u.length {
            throw HyperLogError.invalidArgument("block \(t.last) lies beyond the requested upgrade")
        }
        if request.upgrade == nil && target == nil {
            throw HyperLogError.invalidArgument("request asks for neither a block, a hash nor an upgrade")
        }
        return try storage.read { r in
            var b = ProofBuilder(node: { i in
                guard let n = try Self.readNode(r, i) else { throw HyperLogError.corrupt("missing node \(i)") }
                return n
            })
            var subTree = head
            if let t = target, request.upgrade == nil || t.last < request.upgrade!.start {
                subTree = try ProofBuilder.nodesToRoot(t.0.index, t.nodes, to)
                try b.blockProof(t.0, root: subTree)
            } else if let t = target {
                subTree = t.0.index
            }
            if request.upgrade != nil {
                try b.upgradeProof(block: target?.0, from: from, to: to, subTree: subTree, additional: false)
                if head > to { try b.upgradeProof(block: nil, from: to, to: head, subTree: head, additional: true) }
            }
            var proof = Proof(fork: header.fork)
            if let block = request.block {
                guard let value = try r.get(.blocks, LogKeys.u64(block.index)) else {
                    throw HyperLogError.blockNotAvailable(block.index)
                }
                proof.block = Proof.Block(index: block.index, value: value, nodes: b.blockNodes ?? [])
            }
            if let hash = request.hash {
                proof.hash = Proof.Hash(index: hash.index, nodes: b.blockNodes ?? [])
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
        guard proof.seek == nil else { throw HyperLogError.unsupported("seek proofs") }
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
            // A newer fork with a full upgrade from 0 replaces our tree (the writer truncated): a reorg.
            let reorg = proof.fork != header.fork && header.length > 0
            guard
                proof.fork == header.fork || (header.length == 0 && proof.upgrade != nil)
                    || (proof.fork > header.fork && proof.upgrade?.start == 0)
            else {
                throw HyperLogError.forkMismatch(expected: header.fork, got: proof.fork)
            }
            var batchNodes: [TreeNode] = []
            let blockRoot = try ProofVerifier.verifyBlock(proof, nodes: &batchNodes)
            var tree =
                reorg
                ? TreeBatch(roots: [], length: 0, byteLength: 0)
                : TreeBatch(roots: state.roots, length: header.length, byteLength: header.byteLength)
            var unverified = blockRoot
            var upgraded = false
            if let u = proof.upgrade {
                guard u.start == tree.length else {
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
                let trusted =
                    reorg
                    ? tree.nodes.first { $0.index == u.index } : try storage.read { try Self.readNode($0, u.index) }
                guard let trusted, trusted.hash == u.hash, trusted.size == u.size else {
                    throw HyperLogError.invalidProof("block does not hash to a trusted node (at \(u.index))")
                }
            }
            let newLength = upgraded ? tree.length : header.length
            if let b = proof.block, b.index >= newLength {
                throw HyperLogError.outOfRange(index: b.index, length: newLength)
            }
            if let h = proof.hash, FlatTree.rightSpan(h.index) / 2 >= newLength {
                throw HyperLogError.outOfRange(index: FlatTree.rightSpan(h.index) / 2, length: newLength)
            }
            var batch = LogWriteBatch()
            var bitfield = state.bitfield
            var nodeWriter = NodeWriter(storage: storage)
            var kept: UInt64 = 0
            if reorg {
                // Keep the old blocks under the leading new roots we already hold identically (the common prefix);
                // drop the rest of the old fork. Dropped blocks are re-fetched and re-verified on demand.
                try storage.read { r in
                    for root in tree.roots {
                        guard let old = try Self.readNode(r, root.index), old == root else { break }
                        kept = FlatTree.rightSpan(root.index) / 2 + 1
                    }
                }
                batch.deleteRange(.blocks, from: LogKeys.u64(kept), to: nil)
                try nodeWriter.removeAll(from: 2 * kept)
                var i = 2 * kept
                while FlatTree.depth(i) < 62 && FlatTree.leftSpan(i) < 2 * header.length {
                    i = FlatTree.parent(i)
                    if i < 2 * kept { try nodeWriter.remove(i) }
                }
                bitfield.setRange(kept, max(header.length, kept), false)
                header.contiguousLength = min(header.contiguousLength, kept)
            }
            for n in batchNodes + tree.nodes { try nodeWriter.put(n) }
            nodeWriter.flush(into: &batch)
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
            if reorg {
                // Blocks from `kept` on may have changed: report a truncation to it, then the growth.
                state.truncations.append((header.fork, kept))
                events.append(.truncated(length: kept, fork: header.fork))
            }
            if upgraded { events.append(.appended(length: header.length, byteLength: header.byteLength)) }
            if let b = proof.block { events.append(.downloaded(index: b.index)) }
            return (
                ApplyResult(
                    block: proof.block?.index, upgradedTo: upgraded ? header.length : nil, hash: proof.hash?.index),
                events
            )
        }
        for e in events { emit(e) }
        return result
    }

    /// Brings this log up to the source's length with a verified upgrade proof; returns the new length.
    @discardableResult
    public func update(from source: any ProofSource) async throws -> UInt64 {
        let remote = try await source.remoteLength()
        let remoteFork = try await source.remoteFork()
        let (length, fork, needManifest) = lock.withLock {
            (state.header.length, state.header.fork, !state.header.manifestKnown)
        }
        let request: ProofRequest
        if let remoteFork, remoteFork > fork, length > 0, remote > 0 {
            // The writer truncated: fetch its whole new tree and reorg.
            request = ProofRequest(fork: fork, upgrade: .init(start: 0, length: remote), manifest: needManifest)
        } else {
            guard remote > length else { return length }
            request = ProofRequest(
                fork: fork, upgrade: .init(start: length, length: remote - length), manifest: needManifest)
        }
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
    public func remoteFork() async throws -> UInt64? { log.fork }
    public func proof(for request: ProofRequest) async throws -> Proof { try log.proof(for: request) }
}
