/// The contract of this module: a signed, append-only, Merkle-verified log that can be read, extended by its
/// writer, and replicated through proofs. `HyperLog` implements it over any `LogStorage` (`MemoryLogStorage` for
/// tests, `LMDBLogStore` for real use).
public protocol SignedLog: AnyObject, Sendable {
    /// Core key (public key in compat mode, manifest hash otherwise).
    var key: [UInt8] { get }
    /// Topic peers announce for this log.
    var discoveryKey: [UInt8] { get }
    /// Number of blocks (for a replica, the longest verified length).
    var length: UInt64 { get }
    /// Total bytes of all blocks.
    var byteLength: UInt64 { get }
    /// Fork id, incremented by every truncation.
    var fork: UInt64 { get }
    /// Whether `append` is allowed.
    var isWritable: Bool { get }
    /// Whether block `index` is stored locally.
    func has(_ index: UInt64) -> Bool
    /// A locally stored block.
    func get(_ index: UInt64) throws -> [UInt8]
    /// Appends a batch atomically; returns the new length.
    @discardableResult func append(_ blocks: [[UInt8]]) throws -> UInt64
    /// Changes from now on.
    func events() -> AsyncStream<LogEvent>
    /// A block, fetched through `source` and verified when missing locally.
    func fetch(_ index: UInt64, from source: any ProofSource) async throws -> [UInt8]
    /// Answers a proof request.
    func proof(for request: ProofRequest) throws -> Proof
    /// Verifies and stores a remote proof.
    @discardableResult func apply(_ proof: Proof) throws -> HyperLog.ApplyResult
}

extension HyperLog: SignedLog {}
