import HyperCrypto

/// The relay index scheme (ARCHITECTURE.md "Relay index scheme", plus the keys marked *added*):
/// - `<32 raw id bytes>` → event JSON
/// - `created_at:<10>:id:<hex>`, `kind:<5>:created_at:<10>:id:<hex>`, `pubkey:<hex>:created_at:<10>:id:<hex>`,
///   `tagKey:<letter>:tagValue:<value>:created_at:<10>:id:<hex>` → id hex (values over 512 bytes:
///   *added* `tagKey:<letter>:tagHash:<SHA-256 hex of the value>:created_at:<10>:id:<hex>`)
/// - (stores written before 2026-11-22 also hold `pubkind:<hex>:kind:<5>:created_at:<10>:id:<hex>`: no longer
///   written nor read; author+kind queries walk `pubkey:` and check the kind)
/// - *added* `replaceable:<5>:<pubkey>:<d>` → id hex of the current version (replaceable: d is empty)
/// - *added* `expiration:<10>:id:<hex>` → id hex (NIP-40 purge)
/// - *added* `deleted:<id hex>:<pubkey>` → "" (a kind-5 by that key named that id)
/// - *added* `deletedaddr:<5>:<pubkey>:<d>` → created_at of the newest kind-5 naming that address
enum IndexKeys {
    /// Length of `:created_at:<10>:id:<64 hex>` minus the leading colon: the fixed suffix of every time index.
    static let suffixLength = "created_at:".utf8.count + 10 + ":id:".utf8.count + 64

    static func pad(_ value: Int64, width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    static func time(_ createdAt: Int64, _ id: String) -> String { "created_at:\(pad(createdAt, width: 10)):id:\(id)" }

    static func body(_ id: String) -> [UInt8] { [UInt8](hex: id) ?? [] }
    static func createdAt(_ e: NostrEvent) -> String { time(e.createdAt, e.id) }
    static func kindPrefix(_ kind: Int) -> String { "kind:\(pad(Int64(kind), width: 5)):" }
    static func pubkeyPrefix(_ pubkey: String) -> String { "pubkey:\(pubkey):" }
    /// The index prefix of a tag value: `tagKey:<name>:tagValue:<value>:`, or, for a value longer than
    /// `maxIndexedTagValueBytes`, `tagKey:<name>:tagHash:<SHA-256 hex of the value>:` (queries re-check the event).
    static func tagPrefix(_ name: String, _ value: String) -> String {
        if value.utf8.count > maxIndexedTagValueBytes {
            return "tagKey:\(name):tagHash:\(SHA256.hash(Array(value.utf8)).hex):"
        }
        return "tagKey:\(name):tagValue:\(value):"
    }
    static func replaceable(kind: Int, pubkey: String, d: String) -> String {
        "replaceable:\(pad(Int64(kind), width: 5)):\(pubkey):\(d)"
    }
    static func expiration(_ at: Int64, _ id: String) -> String { "expiration:\(pad(at, width: 10)):id:\(id)" }
    static func deleted(id: String, pubkey: String) -> String { "deleted:\(id):\(pubkey)" }
    static func deletedAddress(kind: Int, pubkey: String, d: String) -> String {
        "deletedaddr:\(pad(Int64(kind), width: 5)):\(pubkey):\(d)"
    }

    /// Longest tag value indexed by its own bytes; longer values are indexed by their SHA-256 (`tagHash:`), so a
    /// `#x` query finds them too (the event is re-checked against the filter, so a hash never widens an answer).
    static let maxIndexedTagValueBytes = 512

    /// Single-letter tag (name, value) pairs that get an index entry, deduplicated (first occurrence kept).
    static func indexedTags(_ e: NostrEvent) -> [(String, String)] {
        var out: [(String, String)] = []
        var seen = Set<String>()
        for tag in e.tags where tag.count >= 2 && tag[0].utf8.count == 1 {
            let name = tag[0]
            guard let c = name.utf8.first, (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) else { continue }
            // Few tags (the usual case): a linear scan beats hashing; many: a set keeps it linear overall.
            if out.count < 16 {
                if out.contains(where: { $0.0 == name && $0.1 == tag[1] }) { continue }
            } else {
                if seen.isEmpty { for (n, v) in out { seen.insert(n + "\u{0}" + v) } }
                if !seen.insert(name + "\u{0}" + tag[1]).inserted { continue }
            }
            out.append((name, tag[1]))
        }
        return out
    }

    /// Every index key (not the body) of an event, with the id hex as value, built as bytes: the shared
    /// `created_at:<10>:id:<hex>` suffix is encoded once. The `kind:` and `pubkey:` indexes of the scheme serve
    /// author+kind queries together (no extra author+kind index is written); `expiration:` only with a valid tag.
    static func indexEntries(_ e: NostrEvent) -> [[UInt8]] {
        var suffix: [UInt8] = []
        suffix.reserveCapacity(suffixLength)
        suffix.append(contentsOf: "created_at:".utf8)
        appendPadded(e.createdAt, width: 10, to: &suffix)
        suffix.append(contentsOf: ":id:".utf8)
        suffix.append(contentsOf: e.id.utf8)
        func key(_ parts: (inout [UInt8]) -> Void) -> [UInt8] {
            var k: [UInt8] = []
            k.reserveCapacity(suffix.count + 96)
            parts(&k)
            k.append(contentsOf: suffix)
            return k
        }
        let tags = indexedTags(e)
        var keys: [[UInt8]] = []
        keys.reserveCapacity(3 + tags.count + 1)
        keys.append(suffix)
        keys.append(
            key { k in
                k.append(contentsOf: "kind:".utf8)
                appendPadded(Int64(e.kind), width: 5, to: &k)
                k.append(UInt8(ascii: ":"))
            })
        keys.append(
            key { k in
                k.append(contentsOf: "pubkey:".utf8)
                k.append(contentsOf: e.pubkey.utf8)
                k.append(UInt8(ascii: ":"))
            })
        for (name, value) in tags {
            keys.append(
                key { k in
                    k.append(contentsOf: "tagKey:".utf8)
                    k.append(contentsOf: name.utf8)
                    if value.utf8.count > maxIndexedTagValueBytes {
                        k.append(contentsOf: ":tagHash:".utf8)
                        k.append(contentsOf: SHA256.hash(Array(value.utf8)).hex.utf8)
                    } else {
                        k.append(contentsOf: ":tagValue:".utf8)
                        k.append(contentsOf: value.utf8)
                    }
                    k.append(UInt8(ascii: ":"))
                })
        }
        if let exp = e.expiration, exp >= 0, exp <= NostrEvent.maxCreatedAt {
            var k: [UInt8] = []
            k.reserveCapacity(100)
            k.append(contentsOf: "expiration:".utf8)
            appendPadded(exp, width: 10, to: &k)
            k.append(contentsOf: ":id:".utf8)
            k.append(contentsOf: e.id.utf8)
            keys.append(k)
        }
        return keys
    }

    /// Appends `value` (0 ... 10^width - 1) in decimal, left-padded with zeros to `width` digits.
    static func appendPadded(_ value: Int64, width: Int, to out: inout [UInt8]) {
        var digits = [UInt8](repeating: 0x30, count: max(width, 19))
        var v = value < 0 ? 0 : value
        var i = digits.count
        repeat {
            i -= 1
            digits[i] = 0x30 + UInt8(v % 10)
            v /= 10
        } while v > 0 && i > 0
        let start = min(i, digits.count - width)
        out.append(contentsOf: digits[start...])
    }

    /// Parses `created_at` and id from the fixed suffix of a time-index key; nil if the key is not one.
    static func parseSuffix(_ key: [UInt8]) -> (createdAt: Int64, id: String)? {
        guard key.count >= suffixLength else { return nil }
        let start = key.count - suffixLength
        let s = key[start...]
        guard s.starts(with: "created_at:".utf8) else { return nil }
        var t: Int64 = 0
        for i in 0..<10 {
            let c = s[start + 11 + i]
            guard c >= 0x30, c <= 0x39 else { return nil }
            t = t * 10 + Int64(c - 0x30)
        }
        let idStart = start + 11 + 10 + 4
        let id = String(decoding: key[idStart...], as: UTF8.self)
        guard NostrEvent.isLowerHex(id, length: 64) else { return nil }
        return (t, id)
    }
}
