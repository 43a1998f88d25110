import CLMDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A transaction handed to `LMDBEnvironment.read` / `write` closures. Never let it escape the closure.
public struct LMDBTransaction {
    let txn: OpaquePointer
    /// Whether puts and deletes are allowed.
    public let writable: Bool

    init(txn: OpaquePointer, writable: Bool) {
        self.txn = txn
        self.writable = writable
    }

    /// Opens a named database inside this (write) transaction.
    public func openDatabase(_ name: String?, create: Bool) throws -> LMDBDatabase {
        var dbi: MDB_dbi = 0
        let flags = create ? UInt32(MDB_CREATE) : 0
        try LMDBError.check(mdb_dbi_open(txn, name, flags, &dbi), "open database \(name ?? "<main>")")
        return LMDBDatabase(dbi: dbi, name: name)
    }

    /// Borrows the value stored at `key` for the duration of `body` (zero-copy); nil if absent.
    public func withValue<T>(
        _ db: LMDBDatabase, key: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer?) throws -> T
    )
        throws -> T
    {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(txn, db.dbi, &k, &v)
        if rc == MDB_NOTFOUND { return try body(nil) }
        try LMDBError.check(rc, "get")
        return try body(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    /// Copies out the value at `key`, or nil.
    public func get(_ db: LMDBDatabase, key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { k in try withValue(db, key: k) { $0.map { Array($0.bindMemory(to: UInt8.self)) } } }
    }

    /// Whether `key` exists.
    public func contains(_ db: LMDBDatabase, key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { k in try withValue(db, key: k) { $0 != nil } }
    }

    /// Stores `value` at `key`, replacing any previous value.
    public func put(_ db: LMDBDatabase, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        try LMDBError.check(mdb_put(txn, db.dbi, &k, &v, 0), "put")
    }

    /// Stores `value` at `key`, replacing any previous value.
    public func put(_ db: LMDBDatabase, key: [UInt8], value: [UInt8]) throws {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try put(db, key: k, value: v) } }
    }

    /// Reserves `count` bytes at `key` and lets `fill` write them in place (no intermediate copy).
    public func putReserved(_ db: LMDBDatabase, key: [UInt8], count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void)
        throws
    {
        try key.withUnsafeBytes { kb in
            var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
            var v = MDB_val(mv_size: count, mv_data: nil)
            try LMDBError.check(mdb_put(txn, db.dbi, &k, &v, UInt32(MDB_RESERVE)), "put (reserve)")
            fill(UnsafeMutableRawBufferPointer(start: v.mv_data, count: count))
        }
    }

    /// Deletes `key`. Returns false if it was absent.
    @discardableResult
    public func delete(_ db: LMDBDatabase, key: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { kb in
            var k = MDB_val(mv_size: kb.count, mv_data: UnsafeMutableRawPointer(mutating: kb.baseAddress))
            let rc = mdb_del(txn, db.dbi, &k, nil)
            if rc == MDB_NOTFOUND { return false }
            try LMDBError.check(rc, "delete")
            return true
        }
    }

    /// Removes every entry of `db` (keeps the database).
    public func clear(_ db: LMDBDatabase) throws {
        try LMDBError.check(mdb_drop(txn, db.dbi, 0), "clear database")
    }

    /// Database statistics (entries, depth, pages).
    public func stat(_ db: LMDBDatabase) throws -> MDB_stat {
        var st = MDB_stat()
        try LMDBError.check(mdb_stat(txn, db.dbi, &st), "stat")
        return st
    }

    /// Walks keys in order starting at the first key >= `start` (or the first key), or in reverse starting at the
    /// last key <= `start` (or the last key). `body` returns false to stop. Buffers are valid only during the call.
    public func scan(
        _ db: LMDBDatabase, from start: [UInt8]? = nil, reverse: Bool = false,
        _ body: (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(txn, db.dbi, &cursor), "cursor open")
        defer { mdb_cursor_close(cursor) }
        var k = MDB_val()
        var v = MDB_val()
        var rc: Int32
        var startCopy = start ?? []
        rc = try startCopy.withUnsafeMutableBytes { sb -> Int32 in
            if start != nil {
                k = MDB_val(mv_size: sb.count, mv_data: sb.baseAddress)
                var r = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
                if reverse {
                    if r == MDB_NOTFOUND {
                        r = mdb_cursor_get(cursor, &k, &v, MDB_LAST)
                    } else if r == 0 {
                        // Step back if we landed past `start`.
                        let found = UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size)
                        if compare(found, UnsafeRawBufferPointer(sb)) > 0 {
                            r = mdb_cursor_get(cursor, &k, &v, MDB_PREV)
                        }
                    }
                }
                return r
            }
            return mdb_cursor_get(cursor, &k, &v, reverse ? MDB_LAST : MDB_FIRST)
        }
        while rc == 0 {
            let go = try body(
                UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
            if !go { return }
            rc = mdb_cursor_get(cursor, &k, &v, reverse ? MDB_PREV : MDB_NEXT)
        }
        if rc != MDB_NOTFOUND { try LMDBError.check(rc, "cursor get") }
    }

    /// Deletes every key in [from, to) (lexicographic; `to` nil = to the end). Returns how many were deleted.
    @discardableResult
    public func deleteRange(_ db: LMDBDatabase, from: [UInt8], to: [UInt8]?) throws -> Int {
        var cursor: OpaquePointer?
        try LMDBError.check(mdb_cursor_open(txn, db.dbi, &cursor), "cursor open")
        defer { mdb_cursor_close(cursor) }
        var count = 0
        var fromCopy = from
        var k = MDB_val()
        var v = MDB_val()
        var rc = fromCopy.withUnsafeMutableBytes { fb -> Int32 in
            k = MDB_val(mv_size: fb.count, mv_data: fb.baseAddress)
            return mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
        }
        while rc == 0 {
            if let to {
                let stop = to.withUnsafeBytes {
                    compare(UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size), $0) >= 0
                }
                if stop { break }
            }
            try LMDBError.check(mdb_cursor_del(cursor, 0), "cursor delete")
            count += 1
            rc = mdb_cursor_get(cursor, &k, &v, MDB_GET_CURRENT)
            if rc == MDB_NOTFOUND || rc == EINVAL_CODE { rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT) }
        }
        if rc != 0 && rc != MDB_NOTFOUND { try LMDBError.check(rc, "cursor get") }
        return count
    }
}

private let EINVAL_CODE: Int32 = 22

/// Lexicographic byte comparison (LMDB's default key order).
@inline(__always)
func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0, let pa = a.baseAddress, let pb = b.baseAddress {
        let c = memcmp(pa, pb, n)
        if c != 0 { return Int(c) }
    }
    return a.count - b.count
}
