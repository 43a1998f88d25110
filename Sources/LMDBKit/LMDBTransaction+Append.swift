import CLMDB

extension LMDBTransaction {
    /// Stores `value` at `key` with LMDB's `MDB_APPEND`, which fills pages instead of splitting them in half, when
    /// `key` sorts after every key in `db`. Returns false, storing nothing, when it does not (the caller then uses
    /// `put`).
    public func putAppending(_ db: LMDBDatabase, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws
        -> Bool
    {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let rc = mdb_put(txn, db.dbi, &k, &v, UInt32(MDB_APPEND))
        if rc == MDB_KEYEXIST { return false }
        try LMDBError.check(rc, "put (append)")
        return true
    }
}
