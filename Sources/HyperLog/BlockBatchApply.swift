import HyperCrypto

extension HyperLog {
    /// True when `proof` carries only a block with its Merkle nodes (no upgrade, hash, seek or manifest): the kind
    /// `applyBlocks(_:)` verifies in a batch.
    public static func isPlainBlockProof(_ proof: Proof) -> Bool {
        proof.block != nil && proof.upgrade == nil && proof.hash == nil && proof.seek == nil && proof.manifest == nil
    }

    /// Verifies and stores a batch of received proofs, in order; one result per proof.
    ///
    /// Equivalent to calling `apply(_:)` on each proof in turn, but plain block proofs (see `isPlainBlockProof`)
    /// are verified together: their leaf hashes are computed with the multi-lane SIMD kernel, and everything that
    /// verified is stored in one storage write. A proof that fails verification stores nothing and does not stop
    /// the others. Other proofs (upgrades, hashes) go through `apply(_:)`.
    public func applyBlocks(_ proofs: [Proof]) -> [Result<ApplyResult, Error>] {
        var results: [Result<ApplyResult, Error>] = []
        results.reserveCapacity(proofs.count)
        var i = 0
        while i < proofs.count {
            guard Self.isPlainBlockProof(proofs[i]) else {
                results.append(Result { try apply(proofs[i]) })
                i += 1
                continue
            }
            var j = i + 1
            while j < proofs.count && Self.isPlainBlockProof(proofs[j]) { j += 1 }
            results.append(contentsOf: applyPlainBlocks(proofs[i..<j]))
            i = j
        }
        return results
    }

    /// The batch path of `applyBlocks`: every proof is a plain block proof.
    private func applyPlainBlocks(_ proofs: ArraySlice<Proof>) -> [Result<ApplyResult, Error>] {
        let values = proofs.map { $0.block!.value }
        let leafHashes = LeafHasher.hash(values, mode: .serial)
        var results: [Result<ApplyResult, Error>] = []
        results.reserveCapacity(proofs.count)
        let events: [LogEvent]
        do {
            events = try lock.withLock { () throws -> [LogEvent] in
                var header = state.header
                var bitfield = state.bitfield
                var nodeWriter = NodeWriter(storage: storage)
                var batch = LogWriteBatch()
                // Nodes verified by earlier proofs of this batch count as trusted for later ones.
                var verified: [UInt64: TreeNode] = [:]
                var stored: [UInt64] = []
                for (k, proof) in proofs.enumerated() {
                    let block = proof.block!
                    do {
                        guard proof.fork == header.fork else {
                            throw HyperLogError.forkMismatch(expected: header.fork, got: proof.fork)
                        }
                        guard block.index < header.length else {
                            throw HyperLogError.outOfRange(index: block.index, length: header.length)
                        }
                        var path: [TreeNode] = []
                        let top = try ProofVerifier.verifyBlock(proof, leafHash: leafHashes[k], nodes: &path)!
                        let trusted = try verified[top.index] ?? storage.read { try Self.readNode($0, top.index) }
                        guard let trusted, trusted.hash == top.hash, trusted.size == top.size else {
                            throw HyperLogError.invalidProof("block does not hash to a trusted node (at \(top.index))")
                        }
                        for n in path {
                            try nodeWriter.put(n)
                            verified[n.index] = n
                        }
                        batch.put(.blocks, LogKeys.u64(block.index), block.value)
                        bitfield.set(block.index, true)
                        stored.append(block.index)
                        results.append(.success(ApplyResult(block: block.index, upgradedTo: nil)))
                    } catch {
                        results.append(.failure(error))
                    }
                }
                guard !stored.isEmpty else { return [] }
                nodeWriter.flush(into: &batch)
                header.contiguousLength = min(bitfield.firstUnset(from: header.contiguousLength), header.length)
                bitfield.flush(into: &batch)
                batch.put(.meta, LogKeys.header, header.compactEncoded)
                try storage.write(batch)
                state.header = header
                state.bitfield = bitfield
                return stored.map { LogEvent.downloaded(index: $0) }
            }
        } catch {
            // The storage write failed: nothing of this batch was stored.
            return proofs.map { _ in .failure(error) }
        }
        for e in events { emit(e) }
        return results
    }
}
