/// A bounded cache of decoded events by id (FIFO eviction), so hot queries skip the store read and JSON decode.
///
/// Consistency: the writer calls `committed(added:removed:)` after each store commit, which bumps `version`.
/// A reader that missed fills the cache only if no commit happened since it read the store (`version` unchanged),
/// so a concurrently deleted event is never resurrected.
final class EventCache: Sendable {
    private struct State {
        var events: [String: NostrEvent] = [:]
        var order: [String] = []
        var head = 0
        var version: UInt64 = 0
    }

    let capacity: Int
    private let state = Locked(State())

    init(capacity: Int) { self.capacity = max(0, capacity) }

    var version: UInt64 { state.withLock { $0.version } }

    func get(_ id: String) -> NostrEvent? {
        guard capacity > 0 else { return nil }
        return state.withLock { $0.events[id] }
    }

    /// Caches an event read from the store at `version`.
    func fill(_ event: NostrEvent, readAt version: UInt64) {
        guard capacity > 0 else { return }
        state.withLock { s in
            guard s.version == version else { return }
            Self.add(event, &s, capacity)
        }
    }

    func committed(added: [NostrEvent], removed: [String]) {
        state.withLock { s in
            s.version &+= 1
            guard capacity > 0 else { return }
            for id in removed { s.events[id] = nil }
            for e in added { Self.add(e, &s, capacity) }
        }
    }

    private static func add(_ e: NostrEvent, _ s: inout State, _ capacity: Int) {
        guard s.events.updateValue(e, forKey: e.id) == nil else { return }
        if s.order.count < capacity {
            s.order.append(e.id)
            return
        }
        // Evict the oldest slot (it may already be gone if it was removed).
        let victim = s.order[s.head]
        if victim != e.id { s.events[victim] = nil }
        s.order[s.head] = e.id
        s.head = (s.head + 1) % capacity
    }
}
