import Foundation

/// A value guarded by a lock.
final class Locked<Value>: @unchecked Sendable {
    // Invariant: `value` is only read or written inside `withLock`.
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    @inline(__always)
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
