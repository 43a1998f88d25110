import Foundation

/// Source of the current time. Tests use `ManualClock` and move it explicitly (no sleeping).
public protocol TokenClock: Sendable {
    /// Unix time in milliseconds.
    func nowMilliseconds() -> UInt64
}

extension TokenClock {
    /// Unix time in whole seconds (JWT NumericDate).
    public func nowSeconds() -> UInt64 { nowMilliseconds() / 1000 }
}

/// The system wall clock.
public struct SystemClock: TokenClock {
    public init() {}

    public func nowMilliseconds() -> UInt64 {
        UInt64(max(0, (Date().timeIntervalSince1970 * 1000).rounded(.down)))
    }
}

/// A clock that only moves when told to.
public final class ManualClock: TokenClock, @unchecked Sendable {
    // Invariant: `current` is only read or written while `lock` is held.
    private let lock = NSLock()
    private var current: UInt64

    /// Starts at `milliseconds` (default: 2026-01-01T00:00:00Z).
    public init(milliseconds: UInt64 = 1_767_225_600_000) { current = milliseconds }

    public func nowMilliseconds() -> UInt64 { lock.withLock { current } }

    /// Moves forward by `seconds`.
    public func advance(seconds: UInt64) { lock.withLock { current += seconds * 1000 } }

    /// Moves forward by `milliseconds`.
    public func advance(milliseconds: UInt64) { lock.withLock { current += milliseconds } }

    /// Jumps to an absolute time.
    public func set(milliseconds: UInt64) { lock.withLock { current = milliseconds } }
}
