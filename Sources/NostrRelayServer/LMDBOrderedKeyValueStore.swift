import LMDBKit
import NostrRelay
import Synchronization

/// A durable `OrderedKeyValueStore` in one LMDB environment: `apply` is one write transaction, committed with
/// fsync before it returns, so an event acknowledged with OK survives kill -9 and power loss.
///
/// This is the gateway's store until the HyperTree adapter lands; it keeps the same relay index scheme (written by
/// `IndexedEventStore`), only the storage under it differs.
public final class LMDBOrderedKeyValueStore: OrderedKeyValueStore {
    private let environment: LMDBEnvironment
    private let database: LMDBDatabase
    private let closed = Mutex(false)

    /// Opens (creating) the store in `directory`.
    public init(directory: String, durable: Bool = true) throws {
        var options = LMDBEnvironment.Options()
        options.durable = durable
        environment = try LMDBEnvironment(path: directory, options: options)
        database = try environment.database(named: "relay")
    }

    private func checkOpen() throws {
        if closed.withLock({ $0 }) { throw EventStoreError.closed }
    }

    public func get(_ key: [UInt8]) async throws -> [UInt8]? {
        try checkOpen()
        return try environment.read { try $0.get(database, key: key) }
    }

    public func apply(_ operations: [KVOperation]) async throws {
        try checkOpen()
        try environment.write { txn in
            for operation in operations {
                switch operation {
                case .put(let key, let value): try txn.put(database, key: key, value: value)
                case .delete(let key): _ = try txn.delete(database, key: key)
                }
            }
        }
    }

    public func range(_ range: KVRange) async throws -> [KVEntry] {
        try checkOpen()
        guard range.limit > 0 else { return [] }
        return try environment.read { txn in
            var out: [KVEntry] = []
            let start = range.reverse ? (range.lte ?? range.lt) : (range.gte ?? range.gt)
            try txn.scan(database, from: start, reverse: range.reverse) { keyBuffer, valueBuffer in
                let key = [UInt8](keyBuffer)
                if range.reverse {
                    guard range.isBelowUpper(key) else { return true }  // the exclusive upper bound itself
                    guard range.isAboveLower(key) else { return false }
                } else {
                    guard range.isAboveLower(key) else { return true }  // the exclusive lower bound itself
                    guard range.isBelowUpper(key) else { return false }
                }
                out.append(KVEntry(key: key, value: [UInt8](valueBuffer)))
                return out.count < range.limit
            }
            return out
        }
    }

    public func close() async throws {
        let wasClosed = closed.withLock { c -> Bool in
            defer { c = true }
            return c
        }
        if wasClosed { return }
        try environment.sync(force: true)
        environment.close()
    }
}
