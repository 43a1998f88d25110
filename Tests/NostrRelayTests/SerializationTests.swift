import HyperCrypto
import Testing

@testable import NostrRelay

@Suite("NIP-01 serialisation, ids and signatures")
struct SerializationTests {
    let pk = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"

    // Expected ids computed independently with Python's json.dumps(ensure_ascii=False, separators=(',',':')),
    // whose escaping coincides with NIP-01's.
    @Test("control characters, quotes and backslashes are escaped exactly as NIP-01 says; DEL, U+2028 verbatim")
    func canonicalEscaping() {
        let content = "a\nb\"c\\d\re\tf\u{8}g\u{C}h\u{0}i\u{1}j\u{1F}k\u{7F}l\u{2028}m\u{2029}n/o"
        let tags = [["e", "x\ny"], ["t", "\u{7}"]]
        let bytes = NostrEvent.canonicalBytes(
            pubkey: pk, createdAt: 1_700_000_000, kind: 1, tags: tags, content: content)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(
            text == "[0,\"\(pk)\",1700000000,1,[[\"e\",\"x\\ny\"],[\"t\",\"\\u0007\"]],"
                + "\"a\\nb\\\"c\\\\d\\re\\tf\\bg\\fh\\u0000i\\u0001j\\u001fk\u{7F}l\u{2028}m\u{2029}n/o\"]")
        #expect(SHA256.hash(bytes).hex == "218e090a5c4d3d54ddc377d699a3a91caf91c230aeade548c9450d1f110d65f5")
    }

    @Test("non-ASCII text is hashed as raw UTF-8")
    func unicodeVerbatim() {
        let tags = [["e", "x\ny"], ["t", "\u{7}"]]
        let a = NostrEvent.canonicalBytes(
            pubkey: pk, createdAt: 1_700_000_000, kind: 1, tags: tags, content: "héllo 🌍 ✓ é")
        #expect(SHA256.hash(a).hex == "83bde348956bf64b542250acb1222bbabbea6694a1c05b41dc680095e6ca943f")
        let b = NostrEvent.canonicalBytes(pubkey: pk, createdAt: 1_700_000_000, kind: 1, tags: tags, content: "")
        #expect(SHA256.hash(b).hex == "cc80efb40dd272d085a14a081a95e21547bc870c49f5833dcbadd56fd55c74d0")
    }

    @Test("real events from the network verify (id recomputed, BIP-340 signature)")
    func realEvents() throws {
        let note = NostrEvent(
            id: "1b71f57e1c3365f32b2a0abd8ded19f2a5e217a6eeaf3df11fa5c904bfb90dd6",
            pubkey: "35d26e4690cbe1a898af61cc3515661eb5fa763b57bd0b42e45099c8b32fd50f", createdAt: 1_681_157_953,
            kind: 1, tags: [["r", "https://btcplusplus.dev/talks#nostr"]],
            content:
                "I will be giving a talk on Nostr at the Bitcoin++ conference in Austin TX, end of this month, hoping to meet some other nostr people!  https://btcplusplus.dev/talks#nostr",
            sig:
                "ec6e37c3d492654a4b8b5411b1872fc1dd7bbc3920d2c0818b177b42bd9429e206b878ad3b8fa0e72993b58182024d32a345ce487072de897bd0061d1c5e2189"
        )
        try note.verify()
        let metadata = NostrEvent(
            id: "b12e1d13848d47e28f912bb0a8b3d6b211d1af97f60e9e10b9cf5df9e5c731ed",
            pubkey: "35d26e4690cbe1a898af61cc3515661eb5fa763b57bd0b42e45099c8b32fd50f", createdAt: 1_677_727_939,
            kind: 0, tags: [],
            content:
                "{\"name\":\"scsibug\",\"picture\":\"https://s.gravatar.com/avatar/1a425d744df94198d68dfffbf7ae51cf\",\"about\":\"author of nostr-rs-relay, operates nostr-pub.wellorder.net\",\"nip05\":\"scsibug@wellorder.net\",\"lud06\":\"\",\"lud16\":\"outsideice77@walletofsatoshi.com\",\"username\":\"scsibug\",\"display_name\":\"\",\"displayName\":\"\",\"banner\":\"\",\"website\":\"\"}",
            sig:
                "02f3e61059e99874cfd777f8cff44a2faa801429ab2cfd844adcc52e5c917ed886891d2cafab30fb4d38acfd20a399a2fd75e7472a4d13669735dc2cea84d6b6"
        )
        try metadata.verify()
        // The stored JSON parses back to the same event, which still verifies.
        let reparsed = try NostrEvent.parse(json: metadata.json)
        #expect(reparsed == metadata)
        try reparsed.verify()
    }

    @Test("a changed field breaks the id; a changed signature fails BIP-340")
    func tampering() throws {
        let e = NostrEvent.make(content: "original")
        try e.verify()
        let changed = NostrEvent(
            id: e.id, pubkey: e.pubkey, createdAt: e.createdAt, kind: e.kind, tags: e.tags, content: "forged",
            sig: e.sig)
        #expect(throws: EventValidationError("invalid: event id does not match its content")) { try changed.verify() }
        var sig = Array(e.sig)
        sig[10] = sig[10] == "0" ? "1" : "0"
        let badSig = NostrEvent(
            id: e.id, pubkey: e.pubkey, createdAt: e.createdAt, kind: e.kind, tags: e.tags, content: e.content,
            sig: String(sig))
        #expect(throws: EventValidationError("invalid: bad signature")) { try badSig.verify() }
    }

    @Test("BIP-340 reference vectors 0 and 1 verify; key 3 derives the reference public key")
    func bip340Vectors() {
        #expect(
            Schnorr.publicKey(secretKey: Keys.secret(3))?.hex
                == "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9")
        #expect(
            Schnorr.verify(
                signatureHex:
                    "e907831f80848d1069a5371b402410364bdf1c5f8307b0084c55f1ce2dca821525f66a4a85ea8b71e482a74f382d2ce5ebeee8fdb2172f477df4900d310536c0",
                messageHex: String(repeating: "0", count: 64),
                publicKeyHex: "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"))
        #expect(
            Schnorr.verify(
                signatureHex:
                    "6896bd60eeae296db48a229ff71dfe071bde413e6d43f917dc8dcf8c78de33418906d11ac976abccb20b091292bff4ea897efcb639ea871cfa95f6de339e4b0a",
                messageHex: "243f6a8885a308d313198a2e03707344a4093822299f31d0082efa98ec4e6c89",
                publicKeyHex: "dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659"))
        #expect(
            !Schnorr.verify(
                signatureHex:
                    "6896bd60eeae296db48a229ff71dfe071bde413e6d43f917dc8dcf8c78de33418906d11ac976abccb20b091292bff4ea897efcb639ea871cfa95f6de339e4b0a",
                messageHex: "343f6a8885a308d313198a2e03707344a4093822299f31d0082efa98ec4e6c89",
                publicKeyHex: "dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659"))
        // Not a point on the curve (x = 0): refused, no crash.
        #expect(
            !Schnorr.verify(
                signatureHex: String(repeating: "1", count: 128), messageHex: String(repeating: "0", count: 64),
                publicKeyHex: String(repeating: "0", count: 64)))
    }

    @Test("events signed by the helper verify and round-trip through their stored JSON")
    func signingRoundTrip() throws {
        let e = NostrEvent.make(tags: [["p", Keys.pubkey(2)], ["t", "x\u{1}y"]], content: "tab\there \u{2028} \"q\"")
        try e.verify()
        let back = try #require(NostrEvent(storedJSON: e.json))
        #expect(back == e)
        #expect(back.tags == e.tags && back.content == e.content)
    }

    @Test("event fields are type-checked with invalid: messages")
    func fieldValidation() throws {
        let e = NostrEvent.make()
        func mutate(_ edit: (inout [String: JSONValue]) -> Void) -> JSONValue {
            var o = try! JSONReader.parse(e.json).objectValue!
            edit(&o)
            return .object(o)
        }
        let cases: [(JSONValue, String)] = [
            (mutate { $0["id"] = .string(e.id.uppercased()) }, "invalid: id must be 64 lowercase hex characters"),
            (
                mutate { $0["pubkey"] = .string(String(e.pubkey.prefix(10))) },
                "invalid: pubkey must be 64 lowercase hex characters"
            ),
            (mutate { $0["kind"] = .double(1.5) }, "invalid: kind must be an integer between 0 and 65535"),
            (mutate { $0["kind"] = .integer(70_000) }, "invalid: kind must be an integer between 0 and 65535"),
            (
                mutate { $0["created_at"] = .integer(-1) },
                "invalid: created_at must be an integer between 0 and 9999999999"
            ),
            (mutate { $0["tags"] = .array([.array([.integer(1)])]) }, "invalid: tag items must be strings"),
            (mutate { $0["tags"] = .array([.string("e")]) }, "invalid: each tag must be an array"),
            (mutate { $0["content"] = nil }, "invalid: content must be a string"),
            (.array([]), "invalid: event must be a JSON object"),
        ]
        for (value, message) in cases {
            #expect(throws: EventValidationError(message)) { try NostrEvent.parse(value) }
        }
    }

    @Test("kind classes follow NIP-01")
    func kindClasses() {
        #expect(NostrEvent.kindClass(of: 0) == .replaceable)
        #expect(NostrEvent.kindClass(of: 1) == .regular)
        #expect(NostrEvent.kindClass(of: 3) == .replaceable)
        #expect(NostrEvent.kindClass(of: 5) == .regular)
        #expect(NostrEvent.kindClass(of: 9_999) == .regular)
        #expect(NostrEvent.kindClass(of: 10_000) == .replaceable)
        #expect(NostrEvent.kindClass(of: 19_999) == .replaceable)
        #expect(NostrEvent.kindClass(of: 20_000) == .ephemeral)
        #expect(NostrEvent.kindClass(of: 29_999) == .ephemeral)
        #expect(NostrEvent.kindClass(of: 30_000) == .addressable)
        #expect(NostrEvent.kindClass(of: 39_999) == .addressable)
        #expect(NostrEvent.kindClass(of: 40_000) == .regular)
    }
}

@Suite("JSON reader and writer")
struct JSONTests {
    @Test("integers stay exact, including the Int64 extremes; fractions and huge values become doubles")
    func numbers() throws {
        #expect(try JSONReader.parse("9007199254740993") == .integer(9_007_199_254_740_993))
        #expect(try JSONReader.parse("-9223372036854775808") == .integer(.min))
        #expect(try JSONReader.parse("9223372036854775807") == .integer(.max))
        #expect(try JSONReader.parse("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try JSONReader.parse("1.0") == .double(1))
        #expect(try JSONReader.parse("1e3") == .double(1000))
        #expect(try JSONReader.parse("-0") == .integer(0))
        for bad in ["01", "1.", ".5", "+1", "1e", "-", "1e999", "NaN", "Infinity"] {
            #expect(throws: JSONParseError.self) { try JSONReader.parse(bad) }
        }
    }

    @Test("strings: escapes, surrogate pairs, lone surrogates and raw control characters")
    func strings() throws {
        #expect(try JSONReader.parse(#""a\n\t\"\\\/\u00e9\ud83c\udf0d""#) == .string("a\n\t\"\\/é🌍"))
        #expect(try JSONReader.parse(#""\u2028\u007f""#) == .string("\u{2028}\u{7F}"))
        for bad in [#""\ud83c""#, #""\udf0d""#, #""\ud83cx""#, "\"a\u{1}b\"", #""\x""#, #""abc"#, #""\u12"#] {
            #expect(throws: JSONParseError.self) { try JSONReader.parse(bad) }
        }
    }

    @Test("structure: trailing data, trailing commas, duplicate keys and deep nesting are refused")
    func structure() throws {
        #expect(
            try JSONReader.parse(" [1, {\"a\": [true, false, null]}] ")
                == .array([.integer(1), .object(["a": .array([.bool(true), .bool(false), .null])])]))
        for bad in ["[1,]", "{\"a\":1,}", "[1] x", "{\"a\":1,\"a\":2}", "[", "{", "tru", "", "{1:2}"] {
            #expect(throws: JSONParseError.self) { try JSONReader.parse(bad) }
        }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONReader.parse(deep) }
        let ok = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        _ = try JSONReader.parse(ok)
    }

    @Test("the writer's output parses back to the same string for every control character")
    func writerRoundTrip() throws {
        var s = ""
        for v in 0..<0x80 { s.unicodeScalars.append(Unicode.Scalar(UInt8(v))) }
        s += "é🌍\u{2028}"
        let quoted = JSONWriter.quoted(s)
        #expect(try JSONReader.parse(quoted) == .string(s))
        #expect(quoted.contains("\\u001f") && quoted.contains("\\b") && !quoted.contains("\\u007f"))
    }
}
