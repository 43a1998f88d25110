import Foundation
import HyperTree
import TestSupport
import Testing

@testable import NostrRelay

@Suite("Ingest path: early duplicate checks, index keys as bytes, author+kind queries without pubkind:")
struct IngestPathTests {
    let now: Int64 = 1_700_000_000

    @Test("RecentCommits answers 'stored since commit n' like a full history, and nil past its depth")
    func recentCommitsModel() {
        var rng = SeededGenerator(seed: 9)
        var recent = RecentCommits(depth: 5)
        var history: [Set<String>] = []  // history[k] = ids of commit k + 1
        #expect(recent.storedSince(0, "a") == false)
        for round in 0..<40 {
            let ids = Set(
                (0..<Int.random(in: 0...3, using: &rng)).map { _ in "id\(Int.random(in: 0..<12, using: &rng))" })
            recent.record(ids)
            history.append(ids)
            #expect(recent.sequence == UInt64(history.count))
            for since in 0...history.count {
                for n in 0..<12 {
                    let id = "id\(n)"
                    let got = recent.storedSince(UInt64(since), id)
                    if history.count - since > 5 {
                        #expect(got == nil, "round \(round) since \(since)")
                    } else {
                        #expect(got == history[since...].contains { $0.contains(id) }, "round \(round) since \(since)")
                    }
                }
            }
        }
        #expect(recent.storedSince(recent.sequence + 1, "id1") == nil)
    }

    @Test(
        "an early 'absent' check is completed by the writer: ids stored by a commit in between are duplicates",
        arguments: Backend.allCases)
    func earlyCheckThenCommitInBetween(_ backend: Backend) async throws {
        let store = backend.make()
        let e = NostrEvent.make(content: "raced")
        let first = try await store.checkNew(e)
        let second = try await store.checkNew(e)
        #expect(first == .absent(asOfCommit: 0) && second == first)
        #expect(try await store.insert([e], checks: [first]) == [.stored])
        // The second check predates the commit that stored the id: the writer must not trust it.
        #expect(
            try await store.insert([e], checks: [second]) == [.rejected(message: "duplicate: already have this event")])
        #expect(try await store.checkNew(e) == .alreadyStored)
        // Same id twice in one group, both checked absent: the group's own pending writes catch the second.
        let f = NostrEvent.make(content: "twice")
        let check = try await store.checkNew(f)
        #expect(
            try await store.insert([f, f], checks: [check, check]) == [
                .stored, .rejected(message: "duplicate: already have this event"),
            ])
        #expect(try await store.query([Filter()], limit: 10, now: now).count == 2)
    }

    @Test("a check older than the remembered commits falls back to a store read", arguments: Backend.allCases)
    func staleCheckFallsBackToRead(_ backend: Backend) async throws {
        let store = backend.make()
        let e = NostrEvent.make(content: "old check")
        let stale = try await store.checkNew(e)
        #expect(try await store.insert([e]) == [.stored])
        for i in 0..<(RecentCommits().depth + 3) {
            #expect(try await store.insert([NostrEvent.make(at: now + Int64(i), content: "filler \(i)")]) == [.stored])
        }
        #expect(
            try await store.insert([e], checks: [stale]) == [.rejected(message: "duplicate: already have this event")])
        // An id nobody stored is stored whatever the age of its check.
        let g = NostrEvent.make(content: "never stored")
        let gCheck = try await store.checkNew(g)
        for i in 0..<3 { _ = try await store.insert([NostrEvent.make(at: 5 + Int64(i), content: "more \(i)")]) }
        #expect(try await store.insert([g], checks: [gCheck]) == [.stored])
    }

    @Test("once the stored-id filter is loaded, new ids are checked without a store read; stored ids still are")
    func storedIDFilter() async throws {
        let kv = CountingKV(InMemoryOrderedKV())
        let store = IndexedEventStore(kv: kv)
        let old = (0..<5000).map {
            NostrEvent.make(key: UInt8($0 % 7 + 1), at: now - 10_000 + Int64($0), content: "\($0)")
        }
        _ = try await store.insert(old)
        #expect(!store.storedIDFilterLoaded)
        // The first check reads the store (filter not loaded yet) and starts the background scan.
        #expect(try await store.checkNew(old[0]) == .alreadyStored)
        for _ in 0..<500 where !store.storedIDFilterLoaded { try await Task.sleep(for: .milliseconds(10)) }
        #expect(store.storedIDFilterLoaded)
        let before = kv.gets
        let fresh = (0..<200).map { NostrEvent.make(at: now + Int64($0), content: "fresh \($0)") }
        var answeredWithoutRead = 0
        for e in fresh {
            let readsBefore = kv.gets
            guard case .absent = try await store.checkNew(e) else {
                Issue.record("a new id was reported stored")
                continue
            }
            if kv.gets == readsBefore { answeredWithoutRead += 1 }
        }
        #expect(answeredWithoutRead >= 195)  // 2 MiB filter, 5,000 ids: false positives are ~1e-7
        // Every stored id, old or committed after the scan, still answers alreadyStored.
        for e in old.prefix(300) { #expect(try await store.checkNew(e) == .alreadyStored) }
        #expect(try await store.insert([fresh[0]]) == [.stored])
        #expect(try await store.checkNew(fresh[0]) == .alreadyStored)
        #expect(kv.gets > before)
    }

    @Test("an apply that fails makes earlier checks fall back to reads")
    func unknownCommit() {
        var recent = RecentCommits(depth: 4)
        recent.record(["a"])
        recent.recordUnknown()
        recent.record(["b"])
        #expect(recent.storedSince(2, "a") == false)
        #expect(recent.storedSince(1, "zzz") == nil)
        #expect(recent.storedSince(0, "a") == nil)
        #expect(EventIDFilter(bitCount: 1000).bitCount == 4096)
        #expect(EventIDFilter(bitCount: 1 << 30).bitCount == 1 << 24)
    }

    @Test("a stale check cannot resurrect an event deleted meanwhile", arguments: Backend.allCases)
    func staleCheckAndDeletion(_ backend: Backend) async throws {
        let store = backend.make()
        let e = NostrEvent.make(content: "to delete")
        let check = try await store.checkNew(e)
        _ = try await store.insert([e])
        let deletion = NostrEvent.make(at: now + 1, kind: 5, tags: [["e", e.id]])
        #expect(try await store.insert([deletion]) == [.stored])
        // The commit that stored it came after the check, so the writer answers duplicate (refused either way).
        #expect(
            try await store.insert([e], checks: [check]) == [.rejected(message: "duplicate: already have this event")])
        // A check made after the deletion sees it absent; the writer then finds the deletion marker.
        let late = try await store.checkNew(e)
        #expect(
            try await store.insert([e], checks: [late]) == [
                .rejected(message: "blocked: this event was deleted by its author")
            ])
        #expect(try await store.query([Filter(kinds: [1])], limit: 10, now: now).isEmpty)
    }

    @Test("the relay refuses a stored event as duplicate before queueing it, and twice-sent events store once")
    func relayEarlyDuplicate() async throws {
        let h = Harness()
        let (a, outA) = h.connect()
        let (b, outB) = h.connect("127.0.0.2")
        let e = NostrEvent.make(content: "from two clients")
        // Both connections verify and check concurrently; one store, one duplicate, whichever wins.
        async let x: Void = a.receive("[\"EVENT\",\(e.json)]")
        async let y: Void = b.receive("[\"EVENT\",\(e.json)]")
        _ = await (x, y)
        await h.relay.flush()
        let answers = oks(outA) + oks(outB)
        #expect(answers.count == 2)
        // Both are accepted (NIP-01: a duplicate is OK true); exactly one says it was a duplicate.
        #expect(answers.allSatisfy { $0.accepted })
        #expect(answers.filter { $0.message == "" }.count == 1)
        #expect(answers.filter { $0.message == "duplicate: already have this event" }.count == 1)
        // Later: refused from the early check (the writer is not involved).
        await h.publish(a, e)
        #expect(oks(outA).last?.message == "duplicate: already have this event")
        #expect(try await h.store.query([Filter()], limit: 10, now: now).map(\.id) == [e.id])
    }

    @Test("index keys are built as bytes in the scheme's exact text form; no pubkind: key")
    func indexKeyBytes() {
        let e = NostrEvent.make(
            at: 42, kind: 7,
            tags: [["t", "swift"], ["t", "swift"], ["p", "x"], ["expiration", "1800000000"], ["long", "v"]])
        let keys = IndexKeys.indexEntries(e).map { String(decoding: $0, as: UTF8.self) }
        let t = "created_at:0000000042:id:\(e.id)"
        #expect(
            keys == [
                t, "kind:00007:" + t, "pubkey:\(e.pubkey):" + t, "tagKey:t:tagValue:swift:" + t,
                "tagKey:p:tagValue:x:" + t, "expiration:1800000000:id:\(e.id)",
            ])
        // Many tags: deduplicated past the linear-scan bound too, first occurrence order kept.
        let many = (0..<20).map { ["t", "v\($0)"] } + (0..<20).map { ["t", "v\($0 % 7)"] } + [["e", "v1"]]
        let pairs = IndexKeys.indexedTags(.make(tags: many))
        #expect(pairs.map { "\($0.0)=\($0.1)" } == (0..<20).map { "t=v\($0)" } + ["e=v1"])
        for (value, width, text) in [(0, 5, "00000"), (7, 1, "7"), (9_999_999_999, 10, "9999999999"), (123, 2, "123")] {
            var out: [UInt8] = []
            IndexKeys.appendPadded(Int64(value), width: width, to: &out)
            #expect(String(decoding: out, as: UTF8.self) == text)
            #expect(text == IndexKeys.pad(Int64(value), width: width))
        }
    }

    @Test(
        "author+kind queries: replaceable and addressable kinds through their pointers, regular kinds via pubkey:",
        arguments: Backend.allCases)
    func authorKindQueries(_ backend: Backend) async throws {
        let store = backend.make()
        var events: [NostrEvent] = []
        var hidden = Set<String>()  // replaced or expired
        for key in UInt8(1)...3 {
            for i in 0..<20 {
                events.append(.make(key: key, at: 1_000 + Int64(i), kind: i % 4 == 0 ? 7 : 1, content: "\(i)"))
            }
            let old = NostrEvent.make(key: key, at: 900, kind: 0, content: "old profile")
            let v1 = NostrEvent.make(key: key, at: 970, kind: 30_023, tags: [["d", "b"]], content: "article b v1")
            let gone = NostrEvent.make(key: key, at: 990, kind: 10_002, tags: [["expiration", "\(now - 1)"]])
            hidden.formUnion([old.id, v1.id, gone.id])
            events += [old, .make(key: key, at: 950, kind: 0, content: "profile"), gone, v1]
            events.append(.make(key: key, at: 960, kind: 30_023, tags: [["d", "a"]], content: "article a"))
            events.append(.make(key: key, at: 980, kind: 30_023, tags: [["d", "b"]], content: "article b v2"))
        }
        #expect(try await store.insert(events).allSatisfy(\.isStored))
        let alive = events.filter { !hidden.contains($0.id) }
        func expected(_ f: Filter) -> [String] {
            IndexedEventStore.newestFirst(alive.filter { f.matches($0) }).prefix(f.limit ?? 500).map(\.id)
        }
        let filters = [
            Filter(authors: [Keys.pubkey(1), Keys.pubkey(2)], kinds: [0]),
            Filter(authors: [Keys.pubkey(2)], kinds: [30_023]),
            Filter(authors: [Keys.pubkey(3)], kinds: [30_023], since: 975),
            Filter(authors: [Keys.pubkey(1)], kinds: [0, 30_023, 10_002], limit: 2),
            Filter(authors: [Keys.pubkey(3)], kinds: [0, 7], limit: 4),
            Filter(authors: [Keys.pubkey(1), Keys.pubkey(3)], kinds: [1], limit: 6),
            Filter(authors: [Keys.pubkey(2)], kinds: [10_002]),
            Filter(authors: [Keys.pubkey(2)], kinds: [30_023], tags: ["d": ["a"]]),
        ]
        for f in filters {
            let got = try await store.query([f], limit: 500, now: now).map(\.id)
            #expect(got == expected(f), "\(f)")
            #expect(try await store.count([f], now: now) == alive.filter { f.matches($0) }.count, "\(f)")
        }
        // A deleted address disappears from the pointer path too.
        let deletion = NostrEvent.make(key: 2, at: 2_000, kind: 5, tags: [["a", "30023:\(Keys.pubkey(2)):b"]])
        #expect(try await store.insert([deletion]) == [.stored])
        let left = try await store.query([Filter(authors: [Keys.pubkey(2)], kinds: [30_023])], limit: 10, now: now)
        #expect(left.map(\.content) == ["article a"])
    }
}

/// An ordered KV that counts point reads.
final class CountingKV: OrderedKeyValueStore, @unchecked Sendable {
    let base: InMemoryOrderedKV
    // Invariant: `count` is only touched inside `lock`.
    private let lock = NSLock()
    private var count = 0
    init(_ base: InMemoryOrderedKV) { self.base = base }
    var gets: Int { lock.withLock { count } }
    func get(_ key: [UInt8]) async throws -> [UInt8]? {
        lock.withLock { count += 1 }
        return try await base.get(key)
    }
    func apply(_ operations: [KVOperation]) async throws { try await base.apply(operations) }
    func range(_ range: KVRange) async throws -> [KVEntry] { try await base.range(range) }
    func close() async throws { try await base.close() }
}
