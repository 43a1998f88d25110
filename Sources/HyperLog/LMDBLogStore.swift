import LMDBKit

/// The real `LogStore`: one LMDB environment (a directory) holding any number of logs.
///
/// Layout: named databases `hyperlog.blocks`, `hyperlog.nodes`, `hyperlog.meta`, `hyperlog.bitfield` shared by all
/// logs, every key prefixed by the log's 4-byte id; `hyperlog.logs` maps log names to ids. Every write batch is one
/// LMDB transaction, committed durably (fsync) unless the store was opened with `durable: false`. The map grows on
/// `MDB_MAP_FULL` (LMDBKit).
public final class LMDBLogStore: LogStore, @unchecked Sendable {
    /// The environment (shared with callers who want raw access, e.g. benchmarks and page-count checks).
    public let environment: LMDBEnvironment
    let tables: [LMDBDatabase]
    private let names: LMDBDatabase
    // Invariant: `open` handles are created under `lock`.
    private let lock = Lock()
    private var handles: [String: LMDBLogStorage] = [:]

    /// Opens (creating when needed) the store in directory `path`.
    public init(path: String, durable: Bool = true, initialMapSize: Int = 64 << 20) throws {
        var options = LMDBEnvironment.Options()
        options.durable = durable
        options.initialMapSize = initialMapSize
        do {
            let env = try LMDBEnvironment(path: path, options: options)
            tables = try LogTable.allCases.map { t in
                try env.database(named: "hyperlog.\(["blocks", "nodes", "meta", "bitfield"][t.rawValue])")
            }
            names = try env.database(named: "hyperlog.logs")
            environment = env
        } catch let e as LMDBError {
            throw HyperLogError.storage("cannot open log store at \(path): \(e)")
        }
    }

    public func open(name: String) throws -> any LogStorage {
        try lock.withLock {
            if let h = handles[name] { return h }
            let key = Array(name.utf8)
            let id: UInt32 = try wrap {
                try environment.write { txn -> UInt32 in
                    if let v = try txn.get(names, key: key), v.count == 4 {
                        return UInt32(v[0]) << 24 | UInt32(v[1]) << 16 | UInt32(v[2]) << 8 | UInt32(v[3])
                    }
                    let next = UInt32(try txn.stat(names).ms_entries) + 1
                    try txn.put(names, key: key, value: LMDBLogStorage.prefix(next))
                    return next
                }
            }
            let h = LMDBLogStorage(store: self, id: id)
            handles[name] = h
            return h
        }
    }

    public func logNames() throws -> [String] {
        try wrap {
            try environment.read { txn in
                var out: [String] = []
                try txn.scan(names) { k, _ in
                    out.append(String(decoding: k, as: UTF8.self))
                    return true
                }
                return out
            }
        }
    }

    public func close() { environment.close() }
}

/// Converts LMDB failures into `HyperLogError.storage`.
@inline(__always) func wrap<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as LMDBError { throw HyperLogError.storage(e.description) }
}

/// One log inside an `LMDBLogStore`.
final class LMDBLogStorage: LogStorage, @unchecked Sendable {
    // Immutable after init; the environment does its own locking.
    let store: LMDBLogStore
    let prefix: [UInt8]
    let nextPrefix: [UInt8]

    init(store: LMDBLogStore, id: UInt32) {
        self.store = store
        prefix = Self.prefix(id)
        nextPrefix = id == .max ? [0xff, 0xff, 0xff, 0xff, 0xff] : Self.prefix(id + 1)
    }

    static func prefix(_ id: UInt32) -> [UInt8] { withUnsafeBytes(of: id.bigEndian) { Array($0) } }

    @inline(__always) func full(_ key: [UInt8]) -> [UInt8] {
        var k = prefix
        k.append(contentsOf: key)
        return k
    }

    struct Reader: LogStorageReader {
        let txn: LMDBTransaction
        let owner: LMDBLogStorage

        func withValue<T>(_ table: LogTable, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> T) throws
            -> T
        {
            let k = owner.full(key)
            return try k.withUnsafeBytes { kb in try txn.withValue(owner.store.tables[table.rawValue], key: kb, body) }
        }

        func scan(
            _ table: LogTable, from: [UInt8]?, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
        ) throws {
            let p = owner.prefix
            try txn.scan(owner.store.tables[table.rawValue], from: owner.full(from ?? [])) { k, v in
                guard k.count >= 4, k[0] == p[0], k[1] == p[1], k[2] == p[2], k[3] == p[3] else { return false }
                return try body(UnsafeRawBufferPointer(rebasing: k[4...]), v)
            }
        }
    }

    func read<T>(_ body: (any LogStorageReader) throws -> T) throws -> T {
        try wrap { try store.environment.read { txn in try body(Reader(txn: txn, owner: self)) } }
    }

    func write(_ batch: LogWriteBatch) throws {
        try wrap {
            try store.environment.write { txn in
                var appending = true
                try apply(batch, txn, &appending)
            }
        }
    }

    func write(_ head: LogWriteBatch, then tail: () throws -> LogWriteBatch) throws {
        // The environment reruns the body after growing a full map: `tail` is still called only once.
        var rest: LogWriteBatch? = nil
        try wrap {
            try store.environment.write { txn in
                var appending = true
                try apply(head, txn, &appending)
                if rest == nil { rest = try tail() }
                try apply(rest!, txn, &appending)
            }
        }
    }

    /// Applies the ops of `batch` in `txn`. Blocks are mostly appended in key order: they go in with MDB_APPEND
    /// (full pages, no split) until LMDB refuses one, then `appending` turns false.
    private func apply(_ batch: LogWriteBatch, _ txn: LMDBTransaction, _ appending: inout Bool) throws {
        let tables = store.tables
        for op in batch.ops {
            switch op {
            case .put(let t, let k, let v):
                // Prefix the key in a stack buffer (no heap allocation per put).
                try withUnsafeTemporaryAllocation(byteCount: 4 + k.count, alignment: 1) { kb in
                    prefix.withUnsafeBytes { kb.copyMemory(from: $0) }
                    k.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: kb[4...]).copyMemory(from: $0) }
                    try v.withUnsafeBytes { vb in
                        let key = UnsafeRawBufferPointer(kb)
                        if t == .blocks && appending {
                            if try txn.putAppending(tables[t.rawValue], key: key, value: vb) { return }
                            appending = false
                        }
                        try txn.put(tables[t.rawValue], key: key, value: vb)
                    }
                }
            case .delete(let t, let k):
                try txn.delete(tables[t.rawValue], key: full(k))
            case .deleteRange(let t, let from, let to):
                try txn.deleteRange(tables[t.rawValue], from: full(from), to: to.map(full) ?? nextPrefix)
            }
        }
    }

    func close() {}

    func usage(_ table: LogTable) throws -> StorageUsage {
        let st = try wrap { try store.environment.stat(store.tables[table.rawValue]) }
        return StorageUsage(
            entries: Int(st.ms_entries),
            pages: Int(st.ms_branch_pages) + Int(st.ms_leaf_pages) + Int(st.ms_overflow_pages))
    }
}
