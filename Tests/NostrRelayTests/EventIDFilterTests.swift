import Foundation
import HyperCrypto
import Testing

@testable import NostrRelay

@Suite("Deletion filter: inserts skip the deletion-marker lookup only when no marker can exist")
struct EventIDFilterTests {
    @Test("an inserted id always answers maybe; most other ids answer no; non-hex ids always answer maybe")
    func filterAnswers() throws {
        var filter = EventIDFilter()
        let inserted = (0..<2_000).map { SHA256.hash(Array("in \($0)".utf8)).hex }
        for id in inserted { filter.insert(id) }
        #expect(filter.count == 2_000)
        #expect(inserted.allSatisfy(filter.mayContain))
        let others = (0..<2_000).map { SHA256.hash(Array("out \($0)".utf8)).hex }
        let falsePositives = others.filter(filter.mayContain).count
        #expect(falsePositives < 20)  // expected ~0 with 6,000 of 4M bits set
        #expect(filter.mayContain("not hex"))
        #expect(filter.mayContain(String(repeating: "A", count: 64)))
    }

    @Test("a deletion stored before a restart still blocks the deleted event after it (filter rebuilt from the log)")
    func markersSurviveReopen() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nostr-del-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keyPair = try Ed25519KeyPair(seed: [UInt8](repeating: 9, count: 32))
        let target = NostrEvent.make(at: 100, content: "to delete")
        let kept = NostrEvent.make(at: 101, content: "kept")
        let later = NostrEvent.make(at: 102, content: "named before it arrives")
        do {
            let (store, _) = try IndexedEventStore.durable(path: path, keyPair: keyPair)
            #expect(try await store.insert([target, kept]) == [.stored, .stored])
            let deletion = NostrEvent.make(at: 200, kind: 5, tags: [["e", target.id], ["e", later.id]])
            #expect(try await store.insert([deletion]) == [.stored])
            try await store.close()
        }
        let (reopened, _) = try IndexedEventStore.durable(path: path, keyPair: keyPair)
        let blocked = InsertOutcome.rejected(message: "blocked: this event was deleted by its author")
        #expect(try await reopened.insert([target, later]) == [blocked, blocked])
        let fresh = NostrEvent.make(at: 103, content: "never deleted")
        #expect(try await reopened.insert([fresh]) == [.stored])
        // In one batch: a deletion followed by its target.
        let other = NostrEvent.make(at: 104, content: "same batch")
        let deletion2 = NostrEvent.make(at: 300, kind: 5, tags: [["e", other.id]])
        #expect(try await reopened.insert([deletion2, other]) == [.stored, blocked])
        try await reopened.close()
    }
}
