import HyperCrypto

/// The relay index scheme (ARCHITECTURE.md "Relay index scheme", plus the keys marked *added*):
/// - `<32 raw id bytes>` → event JSON
/// - `created_at:<10>:id:<hex>`, `kind:<5>:created_at:<10>:id:<hex>`, `pubkey:<hex>:created_at:<10>:id:<hex>`,
///   `tagKey:<letter>:tagValue:<value>:created_at:<10>:id:<hex>` → id hex
/// - *added* `pubkind:<hex>:kind:<5>:created_at:<10>:id:<hex>` → id hex (author+kind queries)
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
    static func pubkindPrefix(_ pubkey: String, _ kind: Int) -> String {
        "pubkind:\(pubkey):kind:\(pad(Int64(kind), width: 5)):"
    }
    static func tagPrefix(_ name: String, _ value: String) -> String { "tagKey:\(name):tagValue:\(value):" }
    static func replaceable(kind: Int, pubkey: String, d: String) -> String {
        "replaceable:\(pad(Int64(kind), width: 5)):\(pubkey):\(d)"
    }
    static func expiration(_ at: Int64, _ id: String) -> String { "expiration:\(pad(at, width: 10)):id:\(id)" }
    static func deleted(id: String, pubkey: String) -> String { "deleted:\(id):\(pubkey)" }
    static func deletedAddress(kind: Int, pubkey: String, d: String) -> String {
        "deletedaddr:\(pad(Int64(kind), width: 5)):\(pubkey):\(d)"
    }

    /// Longest tag value that is indexed (longer values are stored but not findable by `#x`).
    static let maxIndexedTagValueBytes = 512

    /// Single-letter tag (name, value) pairs that get an index entry, deduplicated.
    static func indexedTags(_ e: NostrEvent) -> [(String, String)] {
        var seen = Set<String>()
        var out: [(String, String)] = []
        for tag in e.tags where tag.count >= 2 && tag[0].utf8.count == 1 {
            let name = tag[0]
            guard let c = name.utf8.first, (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) else { continue }
            guard tag[1].utf8.count <= maxIndexedTagValueBytes else { continue }
            if seen.insert(name + "\u{0}" + tag[1]).inserted { out.append((name, tag[1])) }
        }
        return out
    }

    /// Every index key (not the body) of an event, with the id hex as value.
    static func indexEntries(_ e: NostrEvent) -> [String] {
        let t = createdAt(e)
        var keys = [t, kindPrefix(e.kind) + t, pubkeyPrefix(e.pubkey) + t, pubkindPrefix(e.pubkey, e.kind) + t]
        for (name, value) in indexedTags(e) { keys.append(tagPrefix(name, value) + t) }
        if let exp = e.expiration, exp >= 0, exp <= NostrEvent.maxCreatedAt { keys.append(expiration(exp, e.id)) }
        return keys
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
