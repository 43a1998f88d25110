/// Jittered exponential back-off: attempt n waits a uniformly random time in
/// [(1 - jitter) * d, d] where d = min(maximum, base * 2^n).
public struct Backoff: Sendable, Equatable {
    public var base: Double = 0.1
    public var maximum: Double = 30
    /// Fraction of the delay that is randomised (0 = none, 1 = full jitter).
    public var jitter: Double = 0.5

    public init(base: Double = 0.1, maximum: Double = 30, jitter: Double = 0.5) {
        self.base = base
        self.maximum = maximum
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The ceiling of the delay for `attempt` (0-based), in seconds.
    public func ceiling(attempt: Int) -> Double {
        let exp = Double(1 << min(attempt, 30))
        return min(maximum, base * exp)
    }

    /// A delay in seconds for `attempt` (0-based).
    public func delay<G: RandomNumberGenerator>(attempt: Int, using rng: inout G) -> Double {
        let d = ceiling(attempt: attempt)
        return d * (1 - jitter * Double.random(in: 0...1, using: &rng))
    }

    public func delay(attempt: Int) -> Double {
        var g = SystemRandomNumberGenerator()
        return delay(attempt: attempt, using: &g)
    }
}
