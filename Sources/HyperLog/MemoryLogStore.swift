import LMDBKit

/// An in-memory `LogStore` for tests: every log's tables are sorted dictionaries guarded by one lock.
public final class MemoryLogStore: LogStore, @unchecked Sendable {
    // Invariant: `logs` and `closed` are only touched under `lock`.
    private let lock = Lock()
    private var logs: [String: MemoryLogStorage] = [:]
    private var closed = false

    public init() {}

    public func open(name: String) throws -> any LogStorage {
        try lock.withLock {
            guard !closed else { throw HyperLogError.storageClosed }
            if let s = logs[name] { return s }
            let s = MemoryLogStorage()
            logs[name] = s
            return s
        }
    }

    public func logNames() throws -> [String] { lock.withLock { logs.keys.sorted() } }

    public func close() { lock.withLock { closed = true } }
}

/// One log's tables in memory.
public final class MemoryLogStorage: LogStorage, @unchecked Sendable {
    // Invariant: `tables` is only read or written under `lock`; readers run inside it.
    private let lock = Lock()
    private var tables: [[[UInt8]: [UInt8]]] = Array(repeating: [:], count: LogTable.allCases.count)

    public init() {}

    struct Reader: LogStorageReader {
        let tables: [[[UInt8]: [UInt8]]]

        func withValue<T>(_ table: LogTable, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> T) throws
            -> T
        {
            guard let v = tables[table.rawValue][key] else { return try body(nil) }
            return try v.withUnsafeBytes { try body($0) }
        }

        func scan(
            _ table: LogTable, from: [UInt8]?, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
        ) throws {
            let t = tables[table.rawValue]
            for k in t.keys.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
                if let from, k.lexicographicallyPrecedes(from) { continue }
                let go = try k.withUnsafeBytes { kb in try t[k]!.withUnsafeBytes { vb in try body(kb, vb) } }
                if !go { return }
            }
        }
    }

    public func read<T>(_ body: (any LogStorageReader) throws -> T) throws -> T {
        try lock.withLock { try body(Reader(tables: tables)) }
    }

    public func write(_ batch: LogWriteBatch) throws {
        lock.withLock {
            for op in batch.ops {
                switch op {
                case .put(let t, let k, let v): tables[t.rawValue][k] = v
                case .delete(let t, let k): tables[t.rawValue][k] = nil
                case .deleteRange(let t, let from, let to):
                    for k in Array(tables[t.rawValue].keys)
                    where !k.lexicographicallyPrecedes(from) && (to == nil || k.lexicographicallyPrecedes(to!)) {
                        tables[t.rawValue][k] = nil
                    }
                }
            }
        }
    }

    public func close() {}

    public func usage(_ table: LogTable) throws -> StorageUsage {
        lock.withLock {
            let t = tables[table.rawValue]
            let bytes = t.reduce(0) { $0 + $1.key.count + $1.value.count }
            return StorageUsage(entries: t.count, pages: (bytes + 4095) / 4096)
        }
    }
}
