import HyperCrypto
import HyperTree
import TestSupport
import Testing

@testable import NostrRelay

@Suite("IndexedEventStore over the in-memory KV and over a HyperTree")
struct StoreTests {
    let now: Int64 = 1_700_000_000

    @Test(
        "limit keeps the newest events, ties broken by lowest id; no event lost when many share a second",
        arguments: Backend.allCases)
    func limitNewestTiesLowestID(_ backend: Backend) async throws {
        let store = backend.make()
        var events: [NostrEvent] = []
        for i in 0..<30 { events.append(.make(key: UInt8(i % 3 + 1), at: 1_000 + Int64(i / 10), content: "n\(i)")) }
        #expect(try await store.insert(events).allSatisfy(\.isStored))
        // Independent oracle: newest first, then lowest id.
        let expected = events.sorted { ($0.createdAt, $1.id) > ($1.createdAt, $0.id) }
        for limit in [1, 5, 10, 11, 25, 30, 100] {
            let got = try await store.query([Filter(limit: limit)], limit: 500, now: now)
            #expect(got.map(\.id) == Array(expected.prefix(limit)).map(\.id), "limit \(limit)")
        }
        // Same through each index: kinds, author, author+kind, tag-less time range.
        let byAuthor = try await store.query([Filter(authors: [Keys.pubkey(1)], limit: 4)], limit: 500, now: now)
        #expect(byAuthor.map(\.id) == Array(expected.filter { $0.pubkey == Keys.pubkey(1) }.prefix(4)).map(\.id))
        let byKind = try await store.query([Filter(kinds: [1], limit: 12)], limit: 500, now: now)
        #expect(byKind.map(\.id) == Array(expected.prefix(12)).map(\.id))
        let byAuthorKind = try await store.query(
            [Filter(authors: [Keys.pubkey(2), Keys.pubkey(3)], kinds: [1, 7], limit: 7)], limit: 500, now: now)
        #expect(byAuthorKind.map(\.id) == Array(expected.filter { $0.pubkey != Keys.pubkey(1) }.prefix(7)).map(\.id))
    }

    @Test("since and until are both inclusive", arguments: Backend.allCases)
    func inclusiveBounds(_ backend: Backend) async throws {
        let store = backend.make()
        let events = (0..<5).map { NostrEvent.make(at: 100 + Int64($0), content: "t\($0)") }
        _ = try await store.insert(events)
        let got = try await store.query([Filter(since: 101, until: 103)], limit: 100, now: now)
        #expect(Set(got.map(\.createdAt)) == [101, 102, 103])
        let kinds = try await store.query([Filter(kinds: [1], since: 103, until: 103)], limit: 100, now: now)
        #expect(kinds.map(\.createdAt) == [103])
        #expect(try await store.query([Filter(since: 104, until: 101)], limit: 100, now: now).isEmpty)
    }

    @Test("tag filters use the tag index; several filters are OR'd and deduplicated", arguments: Backend.allCases)
    func tagsAndOr(_ backend: Backend) async throws {
        let store = backend.make()
        let target = String(repeating: "a", count: 64)
        let a = NostrEvent.make(at: 10, tags: [["e", target], ["t", "swift"]], content: "a")
        let b = NostrEvent.make(key: 2, at: 11, tags: [["t", "swift"], ["t", "nostr"]], content: "b")
        let c = NostrEvent.make(key: 3, at: 12, tags: [["T", "swift"]], content: "c")
        _ = try await store.insert([a, b, c])
        #expect(try await store.query([Filter(tags: ["t": ["swift"]])], limit: 10, now: now).map(\.id) == [b.id, a.id])
        #expect(try await store.query([Filter(tags: ["T": ["swift"]])], limit: 10, now: now).map(\.id) == [c.id])
        #expect(
            try await store.query([Filter(tags: ["t": ["swift"], "e": [target]])], limit: 10, now: now).map(\.id)
                == [a.id])
        let or = try await store.query(
            [Filter(tags: ["t": ["nostr"]]), Filter(authors: [Keys.pubkey(3)]), Filter(ids: [b.id])], limit: 10,
            now: now)
        #expect(or.map(\.id) == [c.id, b.id])
        #expect(try await store.count([Filter(tags: ["t": ["swift", "nostr"]])], now: now) == 2)
        #expect(try await store.query([Filter(ids: [])], limit: 10, now: now).isEmpty)
    }

    @Test("duplicates are refused with duplicate:", arguments: Backend.allCases)
    func duplicates(_ backend: Backend) async throws {
        let store = backend.make()
        let e = NostrEvent.make()
        let outcomes = try await store.insert([e, e])
        #expect(outcomes == [.stored, .rejected(message: "duplicate: already have this event")])
        #expect(try await store.insert([e]) == [.rejected(message: "duplicate: already have this event")])
    }

    @Test(
        "replaceable kinds keep only the newest per author; equal timestamps keep the lowest id",
        arguments: Backend.allCases)
    func replaceable(_ backend: Backend) async throws {
        let store = backend.make()
        let old = NostrEvent.make(at: 100, kind: 0, content: "old")
        let new = NostrEvent.make(at: 200, kind: 0, content: "new")
        let other = NostrEvent.make(key: 2, at: 150, kind: 0, content: "other author")
        #expect(try await store.insert([old, other, new]).allSatisfy(\.isStored))
        #expect(
            try await store.insert([NostrEvent.make(at: 150, kind: 0, content: "stale")])
                == [.rejected(message: "duplicate: a newer version of this event is already stored")])
        let got = try await store.query([Filter(kinds: [0])], limit: 10, now: now)
        #expect(got.map(\.id) == [new.id, other.id])
        // Nothing of the old version stays findable by any index.
        #expect(try await store.query([Filter(ids: [old.id])], limit: 10, now: now).isEmpty)
        #expect(try await store.count([Filter(authors: [Keys.pubkey(1)])], now: now) == 1)

        let x = NostrEvent.make(at: 300, kind: 10_002, content: "x")
        let y = NostrEvent.make(at: 300, kind: 10_002, content: "y")
        let (low, high) = x.id < y.id ? (x, y) : (y, x)
        _ = try await store.insert([high])
        #expect(try await store.insert([low]) == [.stored])
        #expect(try await store.insert([high]) != [.stored])
        #expect(try await store.query([Filter(kinds: [10_002])], limit: 10, now: now).map(\.id) == [low.id])
    }

    @Test("addressable kinds are replaced per d tag; missing d equals empty d", arguments: Backend.allCases)
    func addressable(_ backend: Backend) async throws {
        let store = backend.make()
        let a1 = NostrEvent.make(at: 100, kind: 30_023, tags: [["d", "post-a"]], content: "a v1")
        let b1 = NostrEvent.make(at: 100, kind: 30_023, tags: [["d", "post-b"]], content: "b v1")
        let a2 = NostrEvent.make(at: 200, kind: 30_023, tags: [["d", "post-a"]], content: "a v2")
        let empty1 = NostrEvent.make(at: 100, kind: 30_000, content: "no d")
        let empty2 = NostrEvent.make(at: 101, kind: 30_000, tags: [["d", ""]], content: "empty d")
        #expect(try await store.insert([a1, b1, a2, empty1, empty2]).allSatisfy(\.isStored))
        let got = try await store.query([Filter(kinds: [30_023])], limit: 10, now: now)
        #expect(Set(got.map(\.id)) == [a2.id, b1.id])
        #expect(try await store.query([Filter(kinds: [30_000])], limit: 10, now: now).map(\.id) == [empty2.id])
        #expect(try await store.query([Filter(tags: ["d": ["post-a"]])], limit: 10, now: now).map(\.id) == [a2.id])
    }

    @Test(
        "NIP-09: e tags delete the author's own events, not others'; deleted events cannot come back",
        arguments: Backend.allCases)
    func deletionByID(_ backend: Backend) async throws {
        let store = backend.make()
        let mine = NostrEvent.make(at: 100, content: "mine")
        let theirs = NostrEvent.make(key: 2, at: 100, content: "theirs")
        _ = try await store.insert([mine, theirs])
        let deletion = NostrEvent.make(at: 200, kind: 5, tags: [["e", mine.id], ["e", theirs.id]], content: "oops")
        #expect(try await store.insert([deletion]) == [.stored])
        #expect(
            try await store.query([Filter(ids: [mine.id, theirs.id])], limit: 10, now: now).map(\.id) == [theirs.id])
        #expect(try await store.insert([mine]) == [.rejected(message: "blocked: this event was deleted by its author")])
        // The deletion itself is stored and served.
        #expect(try await store.query([Filter(kinds: [5])], limit: 10, now: now).map(\.id) == [deletion.id])
        // A deletion that arrives before its target also blocks it (same author only).
        let future = NostrEvent.make(key: 3, at: 300, content: "later")
        let early = NostrEvent.make(key: 3, at: 301, kind: 5, tags: [["e", future.id]])
        _ = try await store.insert([early])
        #expect(try await store.insert([future]) != [.stored])
        // Deleting a deletion has no effect.
        let undo = NostrEvent.make(at: 400, kind: 5, tags: [["e", deletion.id]])
        _ = try await store.insert([undo])
        #expect(try await store.query([Filter(ids: [deletion.id])], limit: 10, now: now).count == 1)
    }

    @Test("NIP-09: a tags delete addressable versions up to the deletion's created_at", arguments: Backend.allCases)
    func deletionByAddress(_ backend: Backend) async throws {
        let store = backend.make()
        let pk = Keys.pubkey(1)
        let v1 = NostrEvent.make(at: 100, kind: 30_023, tags: [["d", "x"]], content: "v1")
        let other = NostrEvent.make(at: 100, kind: 30_023, tags: [["d", "y"]], content: "y")
        _ = try await store.insert([v1, other])
        let deletion = NostrEvent.make(at: 150, kind: 5, tags: [["a", "30023:\(pk):x"]])
        // Someone else's deletion of the same address does nothing.
        let forged = NostrEvent.make(key: 2, at: 150, kind: 5, tags: [["a", "30023:\(pk):y"]])
        _ = try await store.insert([deletion, forged])
        #expect(try await store.query([Filter(kinds: [30_023])], limit: 10, now: now).map(\.id) == [other.id])
        let stale = NostrEvent.make(at: 120, kind: 30_023, tags: [["d", "x"]], content: "older than deletion")
        #expect(
            try await store.insert([stale]) == [.rejected(message: "blocked: this address was deleted by its author")])
        let newer = NostrEvent.make(at: 160, kind: 30_023, tags: [["d", "x"]], content: "after deletion")
        #expect(try await store.insert([newer]) == [.stored])
    }

    @Test("NIP-40: expired events are hidden from queries and counts, and purged", arguments: Backend.allCases)
    func expiration(_ backend: Backend) async throws {
        let store = backend.make()
        let soon = NostrEvent.make(at: 100, tags: [["expiration", "\(now + 10)"]], content: "soon")
        let keep = NostrEvent.make(at: 101, content: "keep")
        _ = try await store.insert([soon, keep])
        #expect(try await store.count([Filter()], now: now) == 2)
        #expect(try await store.query([Filter()], limit: 10, now: now + 10).map(\.id) == [keep.id])
        #expect(try await store.count([Filter(ids: [soon.id])], now: now + 11) == 0)
        #expect(try await store.purgeExpired(now: now + 10) == 1)
        #expect(try await store.query([Filter()], limit: 10, now: now).map(\.id) == [keep.id])
    }

    @Test("the event cache never serves deleted or replaced events, and a tiny cache still answers correctly")
    func cacheConsistency() async throws {
        for capacity in [0, 1, 3, 1_000] {
            let store = IndexedEventStore(kv: InMemoryOrderedKV(), cacheCapacity: capacity)
            let notes = (0..<6).map { NostrEvent.make(at: 100 + Int64($0), content: "c\($0)") }
            let profile = NostrEvent.make(at: 100, kind: 0, content: "v1")
            _ = try await store.insert(notes + [profile])
            #expect(try await store.query([Filter()], limit: 100, now: now).count == 7)  // warms the cache
            _ = try await store.insert([
                NostrEvent.make(at: 200, kind: 5, tags: [["e", notes[0].id], ["e", notes[3].id]]),
                NostrEvent.make(at: 201, kind: 0, content: "v2"),
            ])
            let ids = Set(notes.map(\.id) + [profile.id])
            let left = try await store.query([Filter(ids: ids)], limit: 100, now: now).map(\.id)
            #expect(Set(left) == Set([notes[1], notes[2], notes[4], notes[5]].map(\.id)), "capacity \(capacity)")
            #expect(try await store.query([Filter(kinds: [0])], limit: 10, now: now).map(\.content) == ["v2"])
        }
    }

    @Test("allEvents streams every event oldest first (export)", arguments: Backend.allCases)
    func export(_ backend: Backend) async throws {
        let store = backend.make()
        let events = (0..<600).map { NostrEvent.make(key: UInt8($0 % 5 + 1), at: 1_000 + Int64($0), content: "\($0)") }
        _ = try await store.insert(events)
        var seen: [String] = []
        for try await e in store.allEvents() { seen.append(e.id) }
        #expect(seen == events.map(\.id))
    }

    @Test("a closed store refuses further work", arguments: Backend.allCases)
    func closed(_ backend: Backend) async throws {
        let store = backend.make()
        try await store.close()
        await #expect(throws: EventStoreError.closed) { try await store.insert([NostrEvent.make()]) }
    }
}

/// The ordered KVs the store logic is tested on.
enum Backend: String, CaseIterable, CustomTestStringConvertible {
    case memory, hypertree
    var testDescription: String { rawValue }

    func make() -> IndexedEventStore { IndexedEventStore(kv: makeKV()) }

    func makeKV() -> any OrderedKeyValueStore {
        switch self {
        case .memory: return InMemoryOrderedKV()
        case .hypertree: return HyperTreeKV(tree: HyperTree(log: MemoryTreeLog()))
        }
    }
}

@Suite("InMemoryOrderedKV")
struct OrderedKVTests {
    @Test("range scans match a brute-force model for random keys, bounds, directions and limits")
    func randomizedRanges() async throws {
        var rng = SeededGenerator(seed: 42)
        let kv = InMemoryOrderedKV()
        var model: [[UInt8]: [UInt8]] = [:]
        func randomKey() -> [UInt8] {
            (0..<Int.random(in: 1...4, using: &rng)).map { _ in UInt8.random(in: 0...6, using: &rng) }
        }
        for round in 0..<40 {
            var ops: [KVOperation] = []
            for _ in 0..<100 {
                let k = randomKey()
                if Int.random(in: 0..<4, using: &rng) == 0 {
                    ops.append(.delete(key: k))
                    model[k] = nil
                } else {
                    let v = [UInt8(round)]
                    ops.append(.put(key: k, value: v))
                    model[k] = v
                }
            }
            try await kv.apply(ops)
            let sorted = model.keys.sorted(by: KeyOrder.less)
            for _ in 0..<20 {
                var r = KVRange(reverse: Bool.random(using: &rng), limit: Int.random(in: 1...50, using: &rng))
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: r.gt = randomKey()
                case 1: r.gte = randomKey()
                default: break
                }
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: r.lt = randomKey()
                case 1: r.lte = randomKey()
                default: break
                }
                let inRange = sorted.filter { r.isAboveLower($0) && r.isBelowUpper($0) }
                let expected = Array((r.reverse ? inRange.reversed() : inRange).prefix(r.limit))
                let got = try await kv.range(r)
                #expect(got.map { $0.key } == expected, "range \(r)")
                #expect(got.allSatisfy { model[$0.key] == $0.value })
            }
            #expect(kv.count == model.count)
        }
        for (k, v) in model.prefix(50) { #expect(try await kv.get(k) == v) }
    }
}
