import CLMDB

/// An LMDB failure with the operation that failed and LMDB's own message.
public struct LMDBError: Error, Equatable, CustomStringConvertible {
    /// LMDB or errno return code.
    public let code: Int32
    /// What we were doing.
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    public var description: String {
        "LMDB \(operation) failed: \(String(cString: mdb_strerror(code))) (\(code))"
    }

    /// The map is full (handled internally by growing the map).
    public var isMapFull: Bool { code == MDB_MAP_FULL }

    @inline(__always) static func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws {
        if rc != 0 { throw LMDBError(code: rc, operation: operation()) }
    }
}
