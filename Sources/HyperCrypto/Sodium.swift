import CSodium

/// Process-wide libsodium initialisation; every entry point of this module touches it first.
enum Sodium {
    /// `sodium_init` is idempotent and thread-safe; a negative result means the library is unusable.
    static let ready: Bool = sodium_init() >= 0

    @inline(__always) static func ensureReady() {
        precondition(ready, "libsodium failed to initialise")
    }
}

/// Fills a new array with `count` cryptographically secure random bytes.
public func randomBytes(_ count: Int) -> [UInt8] {
    Sodium.ensureReady()
    var out = [UInt8](repeating: 0, count: count)
    if count > 0 { out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) } }
    return out
}

/// Compares two byte sequences in constant time (for secrets and MACs).
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { pa in
        b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 }
    }
}
