/// A NIP-01 filter. Conditions are AND'ed; list conditions match any listed value; an empty list matches nothing.
public struct Filter: Sendable, Equatable {
    /// Exact event ids (64 lowercase hex).
    public var ids: Set<String>?
    /// Exact author public keys (64 lowercase hex).
    public var authors: Set<String>?
    public var kinds: Set<Int>?
    /// Single-letter tag conditions: `#e` → ["e": values].
    public var tags: [String: Set<String>]
    /// Inclusive bounds on `created_at`.
    public var since: Int64?
    public var until: Int64?
    /// Newest events wanted (before clamping by the relay).
    public var limit: Int?

    public init(
        ids: Set<String>? = nil, authors: Set<String>? = nil, kinds: Set<Int>? = nil,
        tags: [String: Set<String>] = [:], since: Int64? = nil, until: Int64? = nil, limit: Int? = nil
    ) {
        self.ids = ids
        self.authors = authors
        self.kinds = kinds
        self.tags = tags
        self.since = since
        self.until = until
        self.limit = limit
    }

    /// Whether `event` satisfies every condition (limit is not considered).
    public func matches(_ event: NostrEvent) -> Bool {
        if let since, event.createdAt < since { return false }
        if let until, event.createdAt > until { return false }
        if let kinds, !kinds.contains(event.kind) { return false }
        if let authors, !authors.contains(event.pubkey) { return false }
        if let ids, !ids.contains(event.id) { return false }
        for (name, values) in tags {
            var found = false
            for tag in event.tags where tag.count >= 2 && tag[0] == name && values.contains(tag[1]) {
                found = true
                break
            }
            if !found { return false }
        }
        return true
    }

    /// Whether no stored event can match (an empty list, or since > until).
    public var isImpossible: Bool {
        if ids?.isEmpty == true || authors?.isEmpty == true || kinds?.isEmpty == true { return true }
        if tags.values.contains(where: { $0.isEmpty }) { return true }
        if let since, let until, since > until { return true }
        return false
    }

    /// Parses a filter object. Unknown keys are refused (`unsupported:`) so that an unsupported condition such as
    /// NIP-50 `search` never silently widens a query.
    public static func parse(_ value: JSONValue) throws(EventValidationError) -> Filter {
        guard case .object(let o) = value else { throw EventValidationError("invalid: a filter must be a JSON object") }
        var filter = Filter()
        for (key, v) in o {
            switch key {
            case "ids": filter.ids = try hexList(v, key)
            case "authors": filter.authors = try hexList(v, key)
            case "kinds":
                guard let items = v.arrayValue else { throw EventValidationError("invalid: kinds must be an array") }
                var kinds = Set<Int>()
                for item in items {
                    guard let k = item.integerValue, k >= 0, k <= 65_535 else {
                        throw EventValidationError("invalid: kinds must be integers between 0 and 65535")
                    }
                    kinds.insert(Int(k))
                }
                filter.kinds = kinds
            case "since", "until":
                guard let t = v.integerValue else { throw EventValidationError("invalid: \(key) must be an integer") }
                if key == "since" { filter.since = t } else { filter.until = t }
            case "limit":
                guard let l = v.integerValue, l >= 0 else {
                    throw EventValidationError("invalid: limit must be a non-negative integer")
                }
                filter.limit = Int(clamping: l)
            default:
                let scalars = Array(key.unicodeScalars)
                guard scalars.count == 2, scalars[0] == "#", scalars[1].isASCII,
                    scalars[1].properties.isAlphabetic
                else {
                    throw EventValidationError(
                        "unsupported: filter contains unknown element \(JSONWriter.quoted(key))")
                }
                guard let items = v.arrayValue else { throw EventValidationError("invalid: \(key) must be an array") }
                var values = Set<String>()
                for item in items {
                    guard let s = item.stringValue else {
                        throw EventValidationError("invalid: \(key) values must be strings")
                    }
                    values.insert(s)
                }
                filter.tags[String(scalars[1])] = values
            }
        }
        return filter
    }

    private static func hexList(_ v: JSONValue, _ key: String) throws(EventValidationError) -> Set<String> {
        guard let items = v.arrayValue else { throw EventValidationError("invalid: \(key) must be an array") }
        var out = Set<String>()
        for item in items {
            guard let s = item.stringValue, NostrEvent.isLowerHex(s, length: 64) else {
                throw EventValidationError("invalid: \(key) must be 64-character lowercase hex strings")
            }
            out.insert(s)
        }
        return out
    }
}
