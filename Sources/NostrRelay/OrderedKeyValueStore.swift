import Foundation

/// One write of an atomic batch.
public enum KVOperation: Sendable, Equatable {
    case put(key: [UInt8], value: [UInt8])
    case delete(key: [UInt8])
}

/// One key/value pair.
public struct KVEntry: Sendable, Equatable {
    public var key: [UInt8]
    public var value: [UInt8]
    public init(key: [UInt8], value: [UInt8]) {
        self.key = key
        self.value = value
    }
}

/// A key range in byte-wise lexicographic order; nil bounds are open. At most `limit` entries are returned,
/// in ascending order, or descending when `reverse`.
public struct KVRange: Sendable, Equatable {
    public var gt: [UInt8]?
    public var gte: [UInt8]?
    public var lt: [UInt8]?
    public var lte: [UInt8]?
    public var reverse: Bool
    public var limit: Int

    public init(
        gt: [UInt8]? = nil, gte: [UInt8]? = nil, lt: [UInt8]? = nil, lte: [UInt8]? = nil, reverse: Bool = false,
        limit: Int = .max
    ) {
        self.gt = gt
        self.gte = gte
        self.lt = lt
        self.lte = lte
        self.reverse = reverse
        self.limit = limit
    }

    /// Whether `key` is above the lower bound.
    public func isAboveLower(_ key: [UInt8]) -> Bool {
        if let gt, !KeyOrder.less(gt, key) { return false }
        if let gte, KeyOrder.less(key, gte) { return false }
        return true
    }

    /// Whether `key` is below the upper bound.
    public func isBelowUpper(_ key: [UInt8]) -> Bool {
        if let lt, !KeyOrder.less(key, lt) { return false }
        if let lte, KeyOrder.less(lte, key) { return false }
        return true
    }
}

/// An ordered key-value store: the storage contract under `IndexedEventStore`. The in-memory implementation
/// is `InMemoryOrderedKV`; the durable one is the HyperTree adapter.
public protocol OrderedKeyValueStore: Sendable {
    /// The value of `key`, or nil.
    func get(_ key: [UInt8]) async throws -> [UInt8]?
    /// Applies all operations atomically and durably (one commit), in order.
    func apply(_ operations: [KVOperation]) async throws
    /// Entries in `range`.
    func range(_ range: KVRange) async throws -> [KVEntry]
    /// Flushes and closes.
    func close() async throws
}

/// Byte-wise lexicographic order of keys.
public enum KeyOrder {
    @inline(__always)
    public static func less(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let n = min(a.count, b.count)
        let c =
            n == 0
            ? 0 : a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in memcmp(pa.baseAddress!, pb.baseAddress!, n) } }
        return c != 0 ? c < 0 : a.count < b.count
    }
}
