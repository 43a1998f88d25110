import HyperTree
import LMDBKit

/// A plain LMDB-backed block store (seq -> block), to measure the tree without HyperLog's hashing and signing.
final class LMDBBlockLog: TreeLog, @unchecked Sendable {
    // Invariant: `count` only changes inside `append`, which the tree's write lock serialises; reads are atomic
    // loads of a word guarded by `lock`.
    let env: LMDBEnvironment
    let db: LMDBDatabase
    private let lock = Lock()
    private var count: UInt64 = 0

    init(path: String) throws {
        var o = LMDBEnvironment.Options()
        o.durable = false
        o.initialMapSize = 1 << 30
        env = try LMDBEnvironment(path: path, options: o)
        db = try env.database(named: "blocks")
    }

    static func key(_ seq: UInt64) -> [UInt8] { withUnsafeBytes(of: seq.bigEndian) { Array($0) } }

    var length: UInt64 { lock.withLock { count } }
    var isWritable: Bool { true }

    func localBlock(at seq: UInt64) throws -> [UInt8]? {
        try env.read { txn in try txn.get(db, key: Self.key(seq)) }
    }

    func block(at seq: UInt64) async throws -> [UInt8] {
        guard let b = try localBlock(at: seq) else { throw TreeError.blockUnavailable(seq: seq, reason: "missing") }
        return b
    }

    func append(_ blocks: [[UInt8]]) async throws -> UInt64 {
        let start = length
        try env.write { txn in
            for (i, b) in blocks.enumerated() { try txn.put(db, key: Self.key(start + UInt64(i)), value: b) }
        }
        return lock.withLock {
            count = start + UInt64(blocks.count)
            return count
        }
    }

    func lengthUpdates() -> AsyncStream<UInt64> { AsyncStream { $0.finish() } }
}
