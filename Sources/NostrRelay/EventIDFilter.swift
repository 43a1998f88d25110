/// A set of event ids as a Bloom filter whose three bit positions are taken straight from the id (a SHA-256 hash, so
/// its bits are already uniform). A clear bit proves the id was never added, which lets an insert skip a random-key
/// tree lookup; a set bit only means "look it up". The store keeps two: ids that may carry a NIP-09 deletion marker
/// (`deleted:<id>:<pubkey>`) and ids that may be stored.
struct EventIDFilter: Sendable {
    /// Default size, 2^22 bits (512 KiB): under 1% false positives up to ~400,000 ids.
    static let defaultBitCount = 1 << 22
    /// Bits in the filter (a power of two, at most 2^24: each position is 24 bits of the id).
    let bitCount: Int
    private var words: [UInt64]
    /// Ids added (for tests and diagnostics).
    private(set) var count = 0

    /// An empty filter of `bitCount` bits (rounded to a power of two between 2^12 and 2^24).
    init(bitCount: Int = defaultBitCount) {
        var bits = 1 << 12
        while bits < min(bitCount, 1 << 24) { bits <<= 1 }
        self.bitCount = bits
        self.words = [UInt64](repeating: 0, count: bits / 64)
    }

    /// The three bit positions of `id` (64 lower-case hex characters), or nil if it is not one.
    func positions(_ id: String) -> (Int, Int, Int)? {
        var values = (0, 0, 0)
        var i = 0
        for c in id.utf8 {
            guard i < 18 else { break }
            let nibble: Int
            switch c {
            case 0x30...0x39: nibble = Int(c - 0x30)
            case 0x61...0x66: nibble = Int(c - 0x61 + 10)
            default: return nil
            }
            switch i / 6 {
            case 0: values.0 = values.0 << 4 | nibble
            case 1: values.1 = values.1 << 4 | nibble
            default: values.2 = values.2 << 4 | nibble
            }
            i += 1
        }
        guard i == 18 else { return nil }
        let mask = bitCount - 1
        return (values.0 & mask, values.1 & mask, values.2 & mask)
    }

    private func test(_ bit: Int) -> Bool { words[bit >> 6] & (1 << UInt64(bit & 63)) != 0 }
    private mutating func set(_ bit: Int) { words[bit >> 6] |= 1 << UInt64(bit & 63) }

    /// Adds `id`.
    mutating func insert(_ id: String) {
        guard let (a, b, c) = positions(id) else { return }
        set(a)
        set(b)
        set(c)
        count += 1
    }

    /// False only if `id` was certainly never added (ids that are not hex always answer true).
    func mayContain(_ id: String) -> Bool {
        guard let (a, b, c) = positions(id) else { return true }
        return test(a) && test(b) && test(c)
    }
}
