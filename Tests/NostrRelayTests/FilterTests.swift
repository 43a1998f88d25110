import Testing

@testable import NostrRelay

@Suite("Filters")
struct FilterTests {
    func parse(_ text: String) throws -> Filter { try Filter.parse(try JSONReader.parse(text)) }

    @Test("every condition must hold; list conditions match any value; tag conditions look at the first value")
    func matching() {
        let e = NostrEvent.make(
            key: 1, at: 500, kind: 7, tags: [["e", "x", "relay"], ["t", "a"], ["t", "b"], ["p"]])
        #expect(Filter().matches(e))
        #expect(Filter(ids: [e.id, String(repeating: "0", count: 64)]).matches(e))
        #expect(!Filter(ids: [String(repeating: "0", count: 64)]).matches(e))
        #expect(Filter(authors: [Keys.pubkey(1)], kinds: [1, 7]).matches(e))
        #expect(!Filter(authors: [Keys.pubkey(2)], kinds: [7]).matches(e))
        #expect(Filter(tags: ["t": ["b"], "e": ["x"]]).matches(e))
        #expect(!Filter(tags: ["t": ["b"], "e": ["relay"]]).matches(e))
        #expect(!Filter(tags: ["p": ["x"]]).matches(e))
        #expect(Filter(since: 500, until: 500).matches(e))
        #expect(!Filter(since: 501).matches(e) && !Filter(until: 499).matches(e))
        #expect(Filter(ids: []).isImpossible && Filter(tags: ["t": []]).isImpossible)
        #expect(Filter(since: 2, until: 1).isImpossible && !Filter(since: 1, until: 1).isImpossible)
    }

    @Test("parsing accepts the NIP-01 keys and single-letter tags of either case")
    func parsing() throws {
        let pk = Keys.pubkey(1)
        let f = try parse(
            ##"{"ids":[],"authors":["\##(pk)"],"kinds":[0,30023],"#e":["x"],"#E":["y"],"since":1,"until":2,"limit":3}"##
        )
        #expect(f.ids == [] && f.authors == [pk] && f.kinds == [0, 30_023])
        #expect(f.tags == ["e": ["x"], "E": ["y"]])
        #expect(f.since == 1 && f.until == 2 && f.limit == 3)
        #expect(try parse("{}") == Filter())
    }

    @Test("bad filters are refused with a message naming the problem")
    func refusals() {
        let cases: [(String, String)] = [
            ("[]", "invalid: a filter must be a JSON object"),
            (#"{"ids":["ab"]}"#, "invalid: ids must be 64-character lowercase hex strings"),
            (#"{"authors":"x"}"#, "invalid: authors must be an array"),
            (#"{"kinds":[1.5]}"#, "invalid: kinds must be integers between 0 and 65535"),
            (#"{"kinds":[70000]}"#, "invalid: kinds must be integers between 0 and 65535"),
            (#"{"since":1.5}"#, "invalid: since must be an integer"),
            (#"{"until":"2"}"#, "invalid: until must be an integer"),
            (#"{"limit":-1}"#, "invalid: limit must be a non-negative integer"),
            (##"{"#e":"x"}"##, "invalid: #e must be an array"),
            (##"{"#e":[1]}"##, "invalid: #e values must be strings"),
            (#"{"search":"x"}"#, #"unsupported: filter contains unknown element "search""#),
            (##"{"#1":["x"]}"##, ##"unsupported: filter contains unknown element "#1""##),
        ]
        for (text, message) in cases {
            #expect(throws: EventValidationError(message), "\(text)") { try parse(text) }
        }
    }
}
