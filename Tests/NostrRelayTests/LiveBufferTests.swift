import Foundation
import Logging
import Testing

@testable import NostrRelay

/// A store whose queries pause at a gate, so a test can land live events while a REQ is being answered.
final class GatedStore: EventStore, @unchecked Sendable {
    let inner = InMemoryEventStore()
    /// Run the inner query before (true) or after (false) waiting at the gate.
    let queryFirst: Bool
    private let lock = NSLock()
    private var entered = false
    private var gate: CheckedContinuation<Void, Never>?
    private var opened = false

    init(queryFirst: Bool) { self.queryFirst = queryFirst }

    func insert(_ events: [NostrEvent]) async throws -> [InsertOutcome] { try await inner.insert(events) }
    func count(_ filters: [Filter], now: Int64) async throws -> Int { try await inner.count(filters, now: now) }
    func allEvents() -> AsyncThrowingStream<NostrEvent, any Error> { inner.allEvents() }
    func close() async throws { try await inner.close() }

    func query(_ filters: [Filter], limit: Int, now: Int64) async throws -> [NostrEvent] {
        let early = queryFirst ? try await inner.query(filters, limit: limit, now: now) : nil
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = lock.withLock { () -> Bool in
                entered = true
                if opened { return true }
                gate = c
                return false
            }
            if resumeNow { c.resume() }
        }
        if let early { return early }
        return try await inner.query(filters, limit: limit, now: now)
    }

    var hasEntered: Bool { lock.withLock { entered } }

    func open() {
        let c = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            opened = true
            defer { gate = nil }
            return gate
        }
        c?.resume()
    }
}

@Suite("Relay: live events that land while a REQ is being answered")
struct LiveBufferTests {
    @Test(
        "they follow EOSE exactly once, whether or not the stored results already contain them",
        arguments: [true, false])
    func bufferedUntilEOSE(queryFirst: Bool) async throws {
        let store = GatedStore(queryFirst: queryFirst)
        let relay = Relay(
            configuration: RelayConfiguration(auth: .disabled), store: store, policy: OpenWritePolicy(),
            logger: Logger(label: "t"), clock: { 1_700_000_000 })
        let writerOut = RecordingOutbound()
        let writer = relay.connect(remoteAddress: "a", outbound: writerOut)
        let out = RecordingOutbound()
        let reader = relay.connect(remoteAddress: "b", outbound: out)
        let old = NostrEvent.make(at: 1_699_999_000, content: "old")
        _ = try await store.inner.insert([old])

        let req = Task { await reader.receive(#"["REQ","s",{}]"#) }
        for _ in 0..<2_000 where !store.hasEntered { try await Task.sleep(nanoseconds: 1_000_000) }
        try #require(store.hasEntered)
        let live = NostrEvent.make(content: "live while querying")
        await writer.receive("[\"EVENT\",\(live.json)]")
        await relay.flush()
        #expect(out.messages("EVENT").isEmpty)  // held back until EOSE
        store.open()
        await req.value

        let types = out.messages.map { $0[0].stringValue! }
        let ids = eventIDs(out, "s")
        #expect(ids.sorted() == [old.id, live.id].sorted())  // each exactly once
        #expect(types.filter { $0 == "EOSE" }.count == 1)
        if !queryFirst { #expect(ids == [live.id, old.id]) }  // both stored results, newest first
        if queryFirst { #expect(ids == [old.id, live.id] && types == ["EVENT", "EOSE", "EVENT"]) }
        // Afterwards live events flow directly.
        let later = NostrEvent.make(content: "later")
        await writer.receive("[\"EVENT\",\(later.json)]")
        await relay.flush()
        #expect(eventIDs(out, "s").last == later.id)
    }
}
