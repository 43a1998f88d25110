import CLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A named database (LMDB `MDB_dbi`) inside an environment.
public struct LMDBDatabase: Sendable, Hashable {
    let dbi: MDB_dbi
    /// The name it was opened with (nil for the main database).
    public let name: String?
}

/// One LMDB environment (a directory holding `data.mdb` and `lock.mdb`) shared by several named databases.
///
/// Concurrency invariants (why this is `@unchecked Sendable`):
/// - `env` is valid from `init` until `close()`; every use happens under `gate` (shared for transactions,
///   exclusive for resize and close), so no transaction can be open while the map is resized or the env closed.
/// - Write transactions are serialised by `writer` and run to completion inside one synchronous closure on the
///   calling thread (LMDB write transactions are thread-bound). Never `await` inside a transaction closure.
/// - Read transactions use `MDB_NOTLS` and also never outlive their closure.
public final class LMDBEnvironment: @unchecked Sendable {
    private var env: OpaquePointer?
    private let gate = ReadWriteLock()
    private let writer = Lock()
    private var mapSize: Int
    /// Directory of the environment.
    public let path: String

    /// Options for opening an environment.
    public struct Options: Sendable {
        /// Initial map size in bytes; the map doubles on `MDB_MAP_FULL` (up to `maxMapSize`).
        public var initialMapSize: Int = 64 << 20
        /// Upper bound for automatic growth.
        public var maxMapSize: Int = 1 << 40
        /// Maximum number of named databases.
        public var maxDatabases: UInt32 = 32
        /// Maximum concurrent readers.
        public var maxReaders: UInt32 = 256
        /// fsync on every commit (crash-safe). Turning it off trades durability for speed.
        public var durable: Bool = true
        /// Open read-only.
        public var readOnly: Bool = false

        public init() {}
    }

    /// Opens (creating the directory if needed) an environment at `path`.
    public init(path: String, options: Options = Options()) throws {
        self.path = path
        self.mapSize = options.initialMapSize
        if !options.readOnly {
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw LMDBError(code: errno, operation: "create directory \(path)")
            }
        }
        var e: OpaquePointer?
        try LMDBError.check(mdb_env_create(&e), "env_create")
        do {
            try LMDBError.check(mdb_env_set_maxdbs(e, options.maxDatabases), "set_maxdbs")
            try LMDBError.check(mdb_env_set_maxreaders(e, options.maxReaders), "set_maxreaders")
            // Keep a larger existing map if the file is already bigger.
            try LMDBError.check(mdb_env_set_mapsize(e, options.initialMapSize), "set_mapsize")
            var flags = UInt32(MDB_NOTLS | MDB_NORDAHEAD)
            if !options.durable { flags |= UInt32(MDB_NOSYNC) }
            if options.readOnly { flags |= UInt32(MDB_RDONLY) }
            try LMDBError.check(mdb_env_open(e, path, flags, 0o600), "open environment at \(path)")
        } catch {
            mdb_env_close(e)
            throw error
        }
        var info = MDB_envinfo()
        mdb_env_info(e, &info)
        mapSize = max(mapSize, info.me_mapsize)
        env = e
        maxMapSize = options.maxMapSize
    }

    private let maxMapSize: Int

    deinit { close() }

    /// Closes the environment. Safe to call twice; later use throws.
    public func close() {
        gate.withWriteLock {
            if let e = env {
                mdb_env_close(e)
                env = nil
            }
        }
    }

    /// Current map size in bytes.
    public var currentMapSize: Int { gate.withReadLock { mapSize } }

    /// Flushes buffers to disk (only needed when `durable` is false).
    public func sync(force: Bool = true) throws {
        try gate.withReadLock {
            guard let e = env else { throw LMDBError(code: EINVAL, operation: "sync (environment closed)") }
            try LMDBError.check(mdb_env_sync(e, force ? 1 : 0), "sync")
        }
    }

    /// Opens (creating when `create`) a named database.
    public func database(named name: String?, create: Bool = true) throws -> LMDBDatabase {
        try write { txn in try txn.openDatabase(name, create: create) }
    }

    /// Runs `body` in a read-only transaction. Data handed to `body` is valid only inside it.
    public func read<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        while true {
            do {
                return try gate.withReadLock {
                    guard let e = env else { throw LMDBError(code: EINVAL, operation: "read (environment closed)") }
                    var txn: OpaquePointer?
                    try LMDBError.check(mdb_txn_begin(e, nil, UInt32(MDB_RDONLY), &txn), "begin read transaction")
                    defer { mdb_txn_abort(txn) }
                    return try body(LMDBTransaction(txn: txn!, writable: false))
                }
            } catch let error as LMDBError where error.code == MDB_MAP_RESIZED {
                // Another process grew the map: adopt its size with no transaction of ours open, then retry.
                try adoptResizedMap()
            }
        }
    }

    private func adoptResizedMap() throws {
        try gate.withWriteLock {
            guard let e = env else { throw LMDBError(code: EINVAL, operation: "resize (environment closed)") }
            try LMDBError.check(mdb_env_set_mapsize(e, 0), "adopt map size")
            var info = MDB_envinfo()
            mdb_env_info(e, &info)
            mapSize = info.me_mapsize
        }
    }

    /// Runs `body` in a write transaction and commits it. On `MDB_MAP_FULL` the map grows and `body` runs again,
    /// so `body` must only act through the transaction. Throwing from `body` aborts.
    public func write<T>(_ body: (LMDBTransaction) throws -> T) throws -> T {
        try writer.withLock {
            while true {
                do {
                    return try gate.withReadLock { () throws -> T in
                        guard let e = env else {
                            throw LMDBError(code: EINVAL, operation: "write (environment closed)")
                        }
                        var txn: OpaquePointer?
                        try LMDBError.check(mdb_txn_begin(e, nil, 0, &txn), "begin write transaction")
                        let t = LMDBTransaction(txn: txn!, writable: true)
                        let result: T
                        do {
                            result = try body(t)
                        } catch {
                            mdb_txn_abort(txn)
                            throw error
                        }
                        try LMDBError.check(mdb_txn_commit(txn), "commit")
                        return result
                    }
                } catch let error as LMDBError where error.isMapFull {
                    try grow()
                } catch let error as LMDBError where error.code == MDB_MAP_RESIZED {
                    try adoptResizedMap()
                }
            }
        }
    }

    /// Doubles the map (exclusive: no transaction of this process is open).
    private func grow() throws {
        try gate.withWriteLock {
            guard let e = env else { throw LMDBError(code: EINVAL, operation: "grow (environment closed)") }
            let next = mapSize * 2
            guard next <= maxMapSize else {
                throw LMDBError(code: MDB_MAP_FULL, operation: "grow map beyond configured maximum \(maxMapSize)")
            }
            try LMDBError.check(mdb_env_set_mapsize(e, next), "set_mapsize \(next)")
            mapSize = next
        }
    }

    /// Statistics of a database: entries and pages in use.
    public func stat(_ db: LMDBDatabase) throws -> mdb_stat_t {
        try read { txn in try txn.stat(db) }
    }

    /// Environment-wide page usage: (pages in use by the last transaction, page size, map size).
    public func info() throws -> (lastPage: Int, pageSize: Int, mapSize: Int) {
        try gate.withReadLock {
            guard let e = env else { throw LMDBError(code: EINVAL, operation: "info (environment closed)") }
            var info = MDB_envinfo()
            var st = MDB_stat()
            mdb_env_info(e, &info)
            mdb_env_stat(e, &st)
            return (info.me_last_pgno, Int(st.ms_psize), info.me_mapsize)
        }
    }
}

/// Database statistics.
public typealias mdb_stat_t = MDB_stat
