import Foundation

/// Rolling per-peer measurements: latency EWMA and exact p95 over a sample window, decaying failure rate.

/// Latency samples of one peer: an EWMA and the exact p95 (nearest rank) of the last `capacity` samples.
///
/// Adding a sample is O(capacity) memory moves in the worst case (a sorted copy is kept), no allocation.
struct LatencyStats: Sendable {
    private(set) var ewmaMs: Double
    private(set) var p95Ms: Double
    private(set) var count = 0
    private var ring: [Double]
    private var sorted: [Double]
    private var next = 0
    private let alpha: Double

    init(capacity: Int, alpha: Double, initialMs: Double) {
        ring = Array(repeating: 0, count: max(1, capacity))
        sorted = []
        sorted.reserveCapacity(max(1, capacity))
        self.alpha = alpha
        ewmaMs = initialMs
        p95Ms = initialMs
    }

    /// Uses a latency the peer reported for itself until the gateway has measured one.
    mutating func seed(reportedMs: Double) {
        guard count == 0, reportedMs.isFinite, reportedMs >= 0 else { return }
        ewmaMs = reportedMs
        p95Ms = reportedMs
    }

    mutating func add(_ sampleMs: Double) {
        guard sampleMs.isFinite else { return }
        let ms = max(0, sampleMs)
        ewmaMs = count == 0 ? ms : ewmaMs + alpha * (ms - ewmaMs)
        if count == ring.count {
            let old = ring[next]
            sorted.remove(at: lowerBound(old))
        } else {
            count += 1
        }
        ring[next] = ms
        next = (next + 1) % ring.count
        sorted.insert(ms, at: lowerBound(ms))
        // Nearest rank: the smallest sample with at least 95% of samples at or below it.
        let rank = (95 * sorted.count + 99) / 100
        p95Ms = sorted[max(0, rank - 1)]
    }

    private func lowerBound(_ v: Double) -> Int {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
}

/// A failure rate in 0...1: each outcome moves it by `alpha` toward 1 (failure) or 0 (success), and it
/// halves every `halfLife` while nothing happens.
struct DecayingRate: Sendable {
    private(set) var value: Double = 0
    private var stamp: Int64
    let alpha: Double
    let halfLifeNs: Double

    init(alpha: Double, halfLifeNs: Int64, now: Int64) {
        self.alpha = alpha
        self.halfLifeNs = Double(max(1, halfLifeNs))
        stamp = now
    }

    /// Applies the time decay up to `now` and returns the current value.
    mutating func decay(now: Int64) -> Double {
        if now > stamp {
            if value > 0 {
                value *= exp2(-Double(now - stamp) / halfLifeNs)
                if value < 1e-9 { value = 0 }
            }
            stamp = now
        }
        return value
    }

    mutating func record(failure: Bool, now: Int64) {
        _ = decay(now: now)
        value += alpha * ((failure ? 1 : 0) - value)
    }
}

/// Circuit breaker of one peer.
public enum CircuitState: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Normal: failures are counted.
    case closed
    /// No work until the moment given (then half-open).
    case open(until: Moment)
    /// One probe job allowed; its success closes the circuit, its failure opens it again.
    case halfOpen

    public var description: String {
        switch self {
        case .closed: return "closed"
        case .open: return "open"
        case .halfOpen: return "half-open"
        }
    }
}
