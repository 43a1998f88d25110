import Testing

@testable import NostrRelay

/// Tag values longer than the 512 bytes indexed verbatim are indexed by their SHA-256: every query path finds the
/// event, and the answer does not depend on which index serves it.
@Suite("Long tag values: found through every index path")
struct LongTagValueTests {
    let now: Int64 = 1_700_000_000

    static let long600 = String(repeating: "x", count: 599) + "!"
    static let long4k = String(repeating: "long tag value ", count: 300)
    /// 512 bytes exactly: the longest value indexed verbatim.
    static let edge512 = String(repeating: "e", count: 512)

    @Test("a #t value of 513, 600 or 4,500 bytes is found by tag alone, with authors, kinds, COUNT and live",
        arguments: Backend.allCases)
    func regularEvents(_ backend: Backend) async throws {
        let store = backend.make()
        let values = [Self.edge512, String(repeating: "y", count: 513), Self.long600, Self.long4k]
        var events: [NostrEvent] = []
        for (i, v) in values.enumerated() {
            events.append(.make(key: UInt8(i + 1), at: 1_000 + Int64(i), tags: [["t", v]], content: "v\(i)"))
        }
        // A decoy whose value shares the long value's first 512 bytes: a prefix must not match.
        let decoy = NostrEvent.make(key: 9, at: 2_000, tags: [["t", String(Self.long600.prefix(598)) + "?!"]])
        #expect(try await store.insert(events + [decoy]).allSatisfy(\.isStored))
        for (i, v) in values.enumerated() {
            let e = events[i]
            let paths: [(String, Filter)] = [
                ("tag index", Filter(tags: ["t": [v]])),
                ("author index", Filter(authors: [e.pubkey], tags: ["t": [v]])),
                ("kind + tag", Filter(kinds: [1], tags: ["t": [v]])),
                ("ids", Filter(ids: [e.id], tags: ["t": [v]])),
                ("time range + tag", Filter(tags: ["t": [v]], since: e.createdAt, until: e.createdAt)),
            ]
            for (path, filter) in paths {
                let got = try await store.query([filter], limit: 10, now: now)
                #expect(got.map(\.id) == [e.id], "\(v.utf8.count)-byte value through the \(path)")
                #expect(try await store.count([filter], now: now) == 1, "COUNT, \(v.utf8.count) bytes, \(path)")
            }
        }
        #expect(try await store.query([Filter(tags: ["t": [Self.long600, Self.long4k]])], limit: 10, now: now).count == 2)
    }

    @Test("an addressable event with a 600-byte d tag is found by kinds + #d and COUNT, and replaced by a newer one",
        arguments: Backend.allCases)
    func addressable(_ backend: Backend) async throws {
        let store = backend.make()
        let d = Self.long600
        let v1 = NostrEvent.make(at: 1_000, kind: 30_078, tags: [["d", d]], content: "1")
        let v2 = NostrEvent.make(at: 1_001, kind: 30_078, tags: [["d", d]], content: "2")
        #expect(try await store.insert([v1]).allSatisfy(\.isStored))
        let byD = Filter(kinds: [30_078], tags: ["d": [d]])
        #expect(try await store.query([byD], limit: 10, now: now).map(\.id) == [v1.id])
        #expect(try await store.count([byD], now: now) == 1)
        #expect(try await store.insert([v2]).allSatisfy(\.isStored))
        #expect(try await store.query([byD], limit: 10, now: now).map(\.id) == [v2.id])
        #expect(try await store.query([Filter(tags: ["d": [d]])], limit: 10, now: now).map(\.id) == [v2.id])
        let byAuthor = Filter(authors: [v2.pubkey], kinds: [30_078], tags: ["d": [d]])
        #expect(try await store.query([byAuthor], limit: 10, now: now).map(\.id) == [v2.id])
        #expect(try await store.count([byD], now: now) == 1)
    }

    @Test("live delivery and the stored answer agree for a long value")
    func liveAndStoredAgree() async throws {
        let h = Harness { $0.auth = .disabled }
        let (conn, out) = h.connect()
        let filter = ##"{"#t":["\##(Self.long600)"]}"##
        await h.send(conn, #"["REQ","live",\#(filter)]"#)
        let e = NostrEvent.make(tags: [["t", Self.long600]])
        await h.publish(conn, e)
        #expect(eventIDs(out, "live") == [e.id])
        await h.send(conn, #"["REQ","stored",\#(filter)]"#)
        #expect(eventIDs(out, "stored") == [e.id])
    }
}
