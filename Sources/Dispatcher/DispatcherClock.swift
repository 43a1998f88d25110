import Foundation

/// A point in time, in nanoseconds since an arbitrary origin fixed by the clock that produced it.
public struct Moment: Comparable, Hashable, Sendable, Codable {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static func < (a: Moment, b: Moment) -> Bool { a.nanoseconds < b.nanoseconds }
    /// This moment moved by `d`.
    public func advanced(by d: Duration) -> Moment { Moment(nanoseconds: nanoseconds &+ d.nanoseconds) }
    /// Time elapsed from `earlier` to `self`.
    public func since(_ earlier: Moment) -> Duration { .nanoseconds(nanoseconds &- earlier.nanoseconds) }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    public var nanoseconds: Int64 {
        let (s, atto) = components
        let (ns, o) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if o { return s < 0 ? .min : .max }
        return ns &+ atto / 1_000_000_000
    }
}

/// Where the dispatcher reads time. Production uses ``SystemDispatcherClock``; simulations use ``VirtualClock``.
public protocol DispatcherClock: Sendable {
    func now() -> Moment
}

/// Monotonic wall time (CLOCK_MONOTONIC via `DispatchTime`).
public struct SystemDispatcherClock: DispatcherClock {
    public init() {}
    public func now() -> Moment { Moment(nanoseconds: Int64(clamping: DispatchTime.now().uptimeNanoseconds)) }
}

/// A clock that only moves when told to: deterministic tests and simulations never sleep.
public final class VirtualClock: DispatcherClock, @unchecked Sendable {
    // Invariant: `current` is only read or written while `lock` is held.
    private let lock = NSLock()
    private var current: Moment

    public init(start: Moment = Moment(nanoseconds: 0)) { current = start }

    public func now() -> Moment {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    /// Moves time forward by `d` (negative durations are ignored: time never goes back).
    public func advance(by d: Duration) {
        lock.lock()
        if d > .zero { current = current.advanced(by: d) }
        lock.unlock()
    }

    /// Moves time to `m` if it is later than now.
    public func advance(to m: Moment) {
        lock.lock()
        if m > current { current = m }
        lock.unlock()
    }
}
