/// The tables a log keeps (each a sorted key-value space private to one log).
public enum LogTable: Int, Sendable, CaseIterable {
    /// Block data, keyed by big-endian block index.
    case blocks = 0
    /// Merkle nodes (40 bytes: u64le size || hash), keyed by big-endian flat-tree index.
    case nodes = 1
    /// Header and key material, keyed by name.
    case meta = 2
    /// Bitfield pages of `Bitfield.pageBits` bits, keyed by big-endian page number.
    case bitfield = 3
}

/// One operation of an atomic write batch.
public enum LogWriteOp: Sendable {
    case put(LogTable, key: [UInt8], value: [UInt8])
    case delete(LogTable, key: [UInt8])
    /// Deletes every key in [from, to) (`to` nil: to the end of the table).
    case deleteRange(LogTable, from: [UInt8], to: [UInt8]?)
}

/// A set of writes applied atomically and durably by `LogStorage.write`.
public struct LogWriteBatch: Sendable {
    public private(set) var ops: [LogWriteOp] = []
    public init() {}
    public var isEmpty: Bool { ops.isEmpty }
    public mutating func put(_ table: LogTable, _ key: [UInt8], _ value: [UInt8]) {
        ops.append(.put(table, key: key, value: value))
    }
    public mutating func delete(_ table: LogTable, _ key: [UInt8]) { ops.append(.delete(table, key: key)) }
    public mutating func deleteRange(_ table: LogTable, from: [UInt8], to: [UInt8]?) {
        ops.append(.deleteRange(table, from: from, to: to))
    }
    /// Appends the operations of `other` after this batch's.
    public mutating func append(contentsOf other: LogWriteBatch) { ops.append(contentsOf: other.ops) }
}

/// A consistent read view handed to `LogStorage.read` closures. Never let it escape the closure.
public protocol LogStorageReader {
    /// Borrows the value at `key` for the duration of `body` (zero-copy where the driver allows).
    func withValue<T>(_ table: LogTable, _ key: [UInt8], _ body: (UnsafeRawBufferPointer?) throws -> T) throws -> T
    /// Walks keys in order from the first key >= `from` (or the start); `body` returns false to stop.
    func scan(
        _ table: LogTable, from: [UInt8]?,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws
}

extension LogStorageReader {
    /// Copies out the value at `key`, or nil.
    public func get(_ table: LogTable, _ key: [UInt8]) throws -> [UInt8]? {
        try withValue(table, key) { $0.map { Array($0.bindMemory(to: UInt8.self)) } }
    }

    /// Whether `key` exists.
    public func contains(_ table: LogTable, _ key: [UInt8]) throws -> Bool {
        try withValue(table, key) { $0 != nil }
    }
}

/// Storage for one log: the storage-driver contract (read / write batch / close).
///
/// Implementations: `LMDBLogStore` (real: several logs in one LMDB environment, durable commits) and
/// `MemoryLogStore` (tests).
public protocol LogStorage: AnyObject, Sendable {
    /// Runs `body` against a consistent snapshot of this log's tables.
    func read<T>(_ body: (any LogStorageReader) throws -> T) throws -> T
    /// Applies every op of `batch` atomically (all or nothing) and durably.
    func write(_ batch: LogWriteBatch) throws
    /// Applies `head`, then the ops `tail` returns, as one atomic, durable write. A driver may start applying
    /// `head` before it calls `tail` (at most once, on the calling thread), so work `tail` waits for can overlap the
    /// storage writes. `tail` must not use this storage. Throwing from `tail` writes nothing.
    func write(_ head: LogWriteBatch, then tail: () throws -> LogWriteBatch) throws
    /// Releases this log's handle (the store stays open).
    func close()
    /// Pages (or bytes for memory stores) used by each table, for diagnostics and tests.
    func usage(_ table: LogTable) throws -> StorageUsage
}

extension LogStorage {
    /// Default: builds the whole batch first, then writes it with `write(_:)`.
    public func write(_ head: LogWriteBatch, then tail: () throws -> LogWriteBatch) throws {
        var batch = head
        batch.append(contentsOf: try tail())
        try write(batch)
    }
}

/// Space used by one table.
public struct StorageUsage: Sendable, Equatable {
    /// Number of entries.
    public var entries: Int
    /// Pages in use (LMDB: branch + leaf + overflow pages); for memory stores, bytes / 4096 rounded up.
    public var pages: Int

    public init(entries: Int, pages: Int) {
        self.entries = entries
        self.pages = pages
    }
}

/// A store that holds many logs: the driver's `open` / `close`.
public protocol LogStore: AnyObject, Sendable {
    /// Opens (creating when absent) the storage of the log called `name`.
    func open(name: String) throws -> any LogStorage
    /// Names of the logs this store holds.
    func logNames() throws -> [String]
    /// Closes the store; later use throws.
    func close()
}

/// Big-endian key encodings used by the tables.
enum LogKeys {
    @inline(__always) static func u64(_ v: UInt64) -> [UInt8] {
        withUnsafeBytes(of: v.bigEndian) { Array($0) }
    }

    @inline(__always) static func decodeU64(_ b: UnsafeRawBufferPointer) -> UInt64? {
        guard b.count == 8 else { return nil }
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(b[i]) }
        return v
    }

    static let header = Array("header".utf8)
    static let secretKey = Array("secret-key".utf8)
}
