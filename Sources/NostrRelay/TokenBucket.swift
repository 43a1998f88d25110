/// Token buckets keyed by a string (remote address, public key), refilled continuously.
final class TokenBucketTable: Sendable {
    private struct Bucket {
        var tokens: Double
        var updated: Double
    }

    let limit: RelayConfiguration.RateLimit
    private let buckets = Locked<[String: Bucket]>([:])
    /// Above this many keys, buckets that have refilled completely are forgotten.
    private let pruneThreshold = 50_000

    init(limit: RelayConfiguration.RateLimit) { self.limit = limit }

    /// Takes one token for `key` at time `now` (seconds); false when the bucket is empty.
    func take(_ key: String, now: Double) -> Bool {
        guard !limit.isUnlimited else { return true }
        return buckets.withLock { table in
            var b = table[key] ?? Bucket(tokens: limit.burst, updated: now)
            b.tokens = min(limit.burst, b.tokens + max(0, now - b.updated) * limit.rate)
            b.updated = now
            let granted = b.tokens >= 1
            if granted { b.tokens -= 1 }
            table[key] = b
            if table.count > pruneThreshold {
                table = table.filter { $0.value.tokens + (now - $0.value.updated) * limit.rate < limit.burst }
            }
            return granted
        }
    }
}
