import Testing

@testable import NostrRelay

/// Start-up: the deletion and stored-id filters load in the background (`warmUp`); writes never wait for them and
/// stay exact before, during and after the load.
@Suite("Store warm-up: no write waits for the filters, deletions stay exact")
struct WarmUpTests {
    let now: Int64 = 1_700_000_000

    @Test("a reopened store refuses a deleted event before, during and after warmUp", arguments: Backend.allCases)
    func deletionsAcrossWarmUp(_ backend: Backend) async throws {
        let kv = backend.makeKV()
        let first = IndexedEventStore(kv: kv)
        let victims = (0..<40).map { NostrEvent.make(at: 1_000 + Int64($0), content: "victim \($0)") }
        let deletion = NostrEvent.make(at: 2_000, kind: 5, tags: victims.map { ["e", $0.id] })
        #expect(try await first.insert([deletion]).allSatisfy(\.isStored))

        // A second store over the same data, as after a restart: nothing loaded yet.
        let reopened = IndexedEventStore(kv: kv)
        #expect(
            try await reopened.insert([victims[0]]) == [
                .rejected(message: "blocked: this event was deleted by its author")
            ])

        // Deletions committed while the filters load are honoured too.
        let late = (0..<40).map { NostrEvent.make(key: 2, at: 3_000 + Int64($0), content: "late \($0)") }
        let lateDeletion = NostrEvent.make(key: 2, at: 4_000, kind: 5, tags: late.map { ["e", $0.id] })
        async let warm = reopened.warmUp()
        for (i, e) in late.enumerated() {
            if i == 20 { #expect(try await reopened.insert([lateDeletion]).allSatisfy(\.isStored)) }
            _ = try await reopened.insert([e])
        }
        let report = await warm
        #expect(report.deletionMarkers != nil || report.storedIDs != nil)
        for e in victims + late {
            #expect(try await reopened.insert([e]).first?.isStored == false, "\(e.content)")
        }
        // Exactly the late events stored before their deletion arrived were removed by it.
        #expect(try await reopened.query([Filter(authors: [late[0].pubkey], kinds: [1])], limit: 100, now: now).isEmpty)
    }

    @Test("warmUp reports what it loaded; a second call finds it done")
    func report() async throws {
        let store = IndexedEventStore(kv: InMemoryOrderedKV())
        let events = (0..<10).map { NostrEvent.make(at: 1_000 + Int64($0), content: "e\($0)") }
        let deletion = NostrEvent.make(at: 2_000, kind: 5, tags: [["e", String(repeating: "a", count: 64)]])
        _ = try await store.insert(events + [deletion])
        let fresh = IndexedEventStore(kv: store.kv)
        let w = await fresh.warmUp()
        #expect(w.deletionMarkers == 1)
        #expect(w.storedIDs == 11)
        let again = await fresh.warmUp()
        #expect(again.deletionMarkers == nil && again.storedIDs == nil)
    }
}
