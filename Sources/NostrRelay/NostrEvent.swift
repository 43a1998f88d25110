import HyperCrypto

/// A NIP-01 event. Build one from untrusted JSON with `NostrEvent.parse(_:)` followed by `verify()`, or from
/// trusted storage with `NostrEvent(storedJSON:)`. `json` is the compact form stored and served.
public struct NostrEvent: Sendable, Hashable {
    /// 64 lowercase hex characters each.
    public let id: String
    public let pubkey: String
    public let createdAt: Int64
    public let kind: Int
    public let tags: [[String]]
    public let content: String
    /// 128 lowercase hex characters.
    public let sig: String
    /// `{"id":...,"pubkey":...,"created_at":...,"kind":...,"tags":...,"content":...,"sig":...}` as stored.
    public let json: String

    /// Kind classes of NIP-01.
    public enum KindClass: Sendable, Equatable {
        case regular, replaceable, ephemeral, addressable
    }

    /// Largest `created_at` the index scheme can hold (10 decimal digits).
    public static let maxCreatedAt: Int64 = 9_999_999_999

    /// Builds an event from its fields (no verification); `json` is computed.
    public init(
        id: String, pubkey: String, createdAt: Int64, kind: Int, tags: [[String]], content: String, sig: String
    ) {
        self.id = id
        self.pubkey = pubkey
        self.createdAt = createdAt
        self.kind = kind
        self.tags = tags
        self.content = content
        self.sig = sig
        var out: [UInt8] = []
        out.reserveCapacity(220 + content.utf8.count + tags.count * 80)
        out.append(contentsOf: #"{"id":""#.utf8)
        out.append(contentsOf: id.utf8)
        out.append(contentsOf: #"","pubkey":""#.utf8)
        out.append(contentsOf: pubkey.utf8)
        out.append(contentsOf: #"","created_at":"#.utf8)
        JSONWriter.appendInteger(createdAt, to: &out)
        out.append(contentsOf: #","kind":"#.utf8)
        JSONWriter.appendInteger(Int64(kind), to: &out)
        out.append(contentsOf: #","tags":"#.utf8)
        JSONWriter.appendTags(tags, to: &out)
        out.append(contentsOf: #","content":"#.utf8)
        JSONWriter.appendString(content, to: &out)
        out.append(contentsOf: #","sig":""#.utf8)
        out.append(contentsOf: sig.utf8)
        out.append(contentsOf: #""}"#.utf8)
        self.json = String(decoding: out, as: UTF8.self)
    }

    /// Builds an event whose stored JSON is already known.
    init(
        id: String, pubkey: String, createdAt: Int64, kind: Int, tags: [[String]], content: String, sig: String,
        json: String
    ) {
        self.id = id
        self.pubkey = pubkey
        self.createdAt = createdAt
        self.kind = kind
        self.tags = tags
        self.content = content
        self.sig = sig
        self.json = json
    }

    public static func == (a: NostrEvent, b: NostrEvent) -> Bool { a.json == b.json }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// The NIP-01 serialisation `[0,pubkey,created_at,kind,tags,content]` whose SHA-256 is the id.
    public static func canonicalBytes(
        pubkey: String, createdAt: Int64, kind: Int, tags: [[String]], content: String
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(100 + content.utf8.count + tags.count * 80)
        out.append(contentsOf: #"[0,""#.utf8)
        out.append(contentsOf: pubkey.utf8)
        out.append(contentsOf: #"","#.utf8)
        JSONWriter.appendInteger(createdAt, to: &out)
        out.append(UInt8(ascii: ","))
        JSONWriter.appendInteger(Int64(kind), to: &out)
        out.append(UInt8(ascii: ","))
        JSONWriter.appendTags(tags, to: &out)
        out.append(UInt8(ascii: ","))
        JSONWriter.appendString(content, to: &out)
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// This event's canonical serialisation.
    public var canonicalBytes: [UInt8] {
        Self.canonicalBytes(pubkey: pubkey, createdAt: createdAt, kind: kind, tags: tags, content: content)
    }

    /// SHA-256 of the canonical serialisation, hex.
    public var computedID: String { SHA256.hash(canonicalBytes).hex }

    /// The kind class.
    public var kindClass: KindClass { Self.kindClass(of: kind) }

    /// The kind class of `kind`.
    public static func kindClass(of kind: Int) -> KindClass {
        switch kind {
        case 0, 3, 10_000..<20_000: return .replaceable
        case 20_000..<30_000: return .ephemeral
        case 30_000..<40_000: return .addressable
        default: return .regular
        }
    }

    /// First value of the first tag named `name`.
    public func firstTagValue(_ name: String) -> String? {
        for tag in tags where tag.count >= 2 && tag[0] == name { return tag[1] }
        return nil
    }

    /// The `d` tag value of an addressable event ("" when absent).
    public var dTag: String { firstTagValue("d") ?? "" }

    /// NIP-40 expiration timestamp, if the event has a valid one.
    public var expiration: Int64? {
        guard let v = firstTagValue("expiration") else { return nil }
        return Int64(v)
    }

    /// NIP-70: carries the `["-"]` tag.
    public var isProtected: Bool { tags.contains { $0.count >= 1 && $0[0] == "-" } }

    /// `kind:pubkey:d` address of a replaceable or addressable event.
    public var address: String { "\(kind):\(pubkey):\(kindClass == .addressable ? dTag : "")" }

    /// Whether `s` is exactly `length` lowercase hex characters.
    public static func isLowerHex(_ s: String, length: Int) -> Bool {
        guard s.utf8.count == length else { return false }
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): continue
            default: return false
            }
        }
        return true
    }
}

/// Why an event is refused before storage; `message` is the OK message (prefix `invalid:`).
public struct EventValidationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension NostrEvent {
    /// Reads an event object's fields, checking types and formats (not the id or signature: see `verify`).
    public static func parse(_ value: JSONValue) throws(EventValidationError) -> NostrEvent {
        try parse(value, json: nil)
    }

    static func parse(_ value: JSONValue, json: String?) throws(EventValidationError) -> NostrEvent {
        guard case .object(let o) = value else { throw EventValidationError("invalid: event must be a JSON object") }
        func hexField(_ name: String, _ length: Int) throws(EventValidationError) -> String {
            guard let s = o[name]?.stringValue, isLowerHex(s, length: length) else {
                throw EventValidationError("invalid: \(name) must be \(length) lowercase hex characters")
            }
            return s
        }
        let id = try hexField("id", 64)
        let pubkey = try hexField("pubkey", 64)
        let sig = try hexField("sig", 128)
        guard let createdAt = o["created_at"]?.integerValue, createdAt >= 0, createdAt <= maxCreatedAt else {
            throw EventValidationError("invalid: created_at must be an integer between 0 and \(maxCreatedAt)")
        }
        guard let kind = o["kind"]?.integerValue, kind >= 0, kind <= 65_535 else {
            throw EventValidationError("invalid: kind must be an integer between 0 and 65535")
        }
        guard let content = o["content"]?.stringValue else {
            throw EventValidationError("invalid: content must be a string")
        }
        guard let rawTags = o["tags"]?.arrayValue else { throw EventValidationError("invalid: tags must be an array") }
        var tags: [[String]] = []
        tags.reserveCapacity(rawTags.count)
        for raw in rawTags {
            guard let items = raw.arrayValue else { throw EventValidationError("invalid: each tag must be an array") }
            var tag: [String] = []
            tag.reserveCapacity(items.count)
            for item in items {
                guard let s = item.stringValue else {
                    throw EventValidationError("invalid: tag items must be strings")
                }
                tag.append(s)
            }
            tags.append(tag)
        }
        if let json {
            return NostrEvent(
                id: id, pubkey: pubkey, createdAt: createdAt, kind: Int(kind), tags: tags, content: content, sig: sig,
                json: json)
        }
        return NostrEvent(
            id: id, pubkey: pubkey, createdAt: createdAt, kind: Int(kind), tags: tags, content: content, sig: sig)
    }

    /// Parses event JSON text (fields only; see `verify`).
    public static func parse(json: String) throws(EventValidationError) -> NostrEvent {
        let value: JSONValue
        do { value = try JSONReader.parse(json) } catch { throw EventValidationError("invalid: \(error)") }
        return try parse(value)
    }

    /// Recomputes the id and checks the BIP-340 signature.
    public func verify() throws(EventValidationError) {
        guard computedID == id else { throw EventValidationError("invalid: event id does not match its content") }
        guard Schnorr.verify(signatureHex: sig, messageHex: id, publicKeyHex: pubkey) else {
            throw EventValidationError("invalid: bad signature")
        }
    }

    /// Decodes an event this engine stored itself (trusted: not re-verified; `json` is kept as given).
    /// Returns nil if malformed.
    public init?(storedJSON: String) {
        guard let value = try? JSONReader.parse(storedJSON), let e = try? NostrEvent.parse(value, json: storedJSON)
        else { return nil }
        self = e
    }

    /// Builds, hashes and signs an event (tests, tools, the gateway's own events).
    public static func signed(
        secretKey: [UInt8], createdAt: Int64, kind: Int, tags: [[String]] = [], content: String
    ) throws(EventValidationError) -> NostrEvent {
        guard let pubkey = Schnorr.publicKey(secretKey: secretKey) else {
            throw EventValidationError("invalid: bad secret key")
        }
        let pubHex = pubkey.hex
        let id = SHA256.hash(
            canonicalBytes(pubkey: pubHex, createdAt: createdAt, kind: kind, tags: tags, content: content))
        guard let sig = Schnorr.sign(message: id, secretKey: secretKey) else {
            throw EventValidationError("invalid: signing failed")
        }
        return NostrEvent(
            id: id.hex, pubkey: pubHex, createdAt: createdAt, kind: kind, tags: tags, content: content, sig: sig.hex)
    }
}
