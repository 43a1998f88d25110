import Foundation
import HyperCrypto
import HyperLog
import HyperTree
import Logging
import Testing

@testable import NostrRelay

@Suite("Durable store: relay index scheme in a HyperTree on a HyperLog in LMDB")
struct DurableStoreTests {
    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("nostr-relay-\(UUID().uuidString)")
            .path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a group of events is one log append (one signature); everything survives close and reopen")
    func groupAppendAndReopen() async throws {
        let path = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keyPair = try Ed25519KeyPair(seed: [UInt8](repeating: 7, count: 32))
        let events = (0..<40).map {
            NostrEvent.make(key: UInt8($0 % 4 + 1), at: 1_000 + Int64($0), tags: [["t", "x"]], content: "\($0)")
        }
        do {
            let (store, log) = try IndexedEventStore.durable(path: path, keyPair: keyPair)
            let kv = try #require(store.kv as? HyperTreeKV)
            try await kv.tree.ready()
            let updates = kv.tree.log.lengthUpdates()
            let before = log.length
            #expect(try await store.insert(events).allSatisfy(\.isStored))
            let after = log.length
            #expect(after > before + 40)  // one block per key...
            var it = updates.makeAsyncIterator()
            #expect(await it.next() == after)  // ...appended at once: a single length update, one signature
            try await store.close()
        }
        let (reopened, log) = try IndexedEventStore.durable(path: path, keyPair: keyPair)
        #expect(log.length > 40)
        let got = try await reopened.query([Filter(tags: ["t": ["x"]], limit: 5)], limit: 100, now: 0)
        #expect(got.map(\.id) == events.suffix(5).reversed().map(\.id))
        #expect(try await reopened.count([Filter(authors: [Keys.pubkey(2)])], now: 0) == 10)
        try await reopened.close()
    }

    @Test("through the relay: every event that got OK true is there after a restart")
    func relayRestart() async throws {
        let path = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keyPair = try Ed25519KeyPair(seed: [UInt8](repeating: 8, count: 32))
        var config = RelayConfiguration(auth: .disabled)
        config.eventsPerIP = .unlimited
        config.eventsPerPubkey = .unlimited
        let events = (0..<30).map { NostrEvent.make(key: UInt8($0 % 3 + 1), at: 1_700_000_000, content: "\($0)") }
        do {
            let (store, _) = try IndexedEventStore.durable(path: path, keyPair: keyPair)
            let relay = Relay(
                configuration: config, store: store, policy: OpenWritePolicy(), logger: Logger(label: "t"),
                clock: { 1_700_000_000 })
            let out = RecordingOutbound()
            let conn = relay.connect(remoteAddress: "127.0.0.1", outbound: out)
            for e in events { await conn.receive("[\"EVENT\",\(e.json)]") }
            try await relay.shutdown()
            #expect(oks(out).count == 30 && oks(out).allSatisfy(\.accepted))
        }
        let (store, _) = try IndexedEventStore.durable(path: path, keyPair: keyPair)
        var seen = Set<String>()
        for try await e in store.allEvents() { seen.insert(e.id) }
        #expect(seen == Set(events.map(\.id)))
        try await store.close()
    }
}
