import Foundation

/// The in-process ``TelemetryBus``: fan-out to per-subscriber bounded ring buffers.
///
/// `publish` takes one short lock to read the subscriber list, then one short lock per matching subscriber;
/// it never waits for a consumer. A full buffer applies the subscriber's drop policy and counts the drop.
public final class InProcessTelemetryBus: TelemetryBus, @unchecked Sendable {
    // Invariant: `subscribers`, `published`, `retiredDelivered`, `retiredDropped` and `isFinished` are only
    // touched while `lock` is held. Subscriber boxes have their own locks and are called after it is released.
    private let lock = NSLock()
    private var subscribers: [ObjectIdentifier: [any AnySubscriber]] = [:]
    private var published: UInt64 = 0
    private var retiredDelivered: UInt64 = 0
    private var retiredDropped: UInt64 = 0
    private var isFinished = false

    public init() {}

    public func publish<Event: TelemetryEvent>(_ event: Event) {
        lock.lock()
        published &+= 1
        guard let group = subscribers[ObjectIdentifier(Event.self)], !group.isEmpty else {
            lock.unlock()
            return
        }
        let targets = group  // copy-on-write: no allocation, just a retain
        lock.unlock()
        for target in targets {
            if let box = target as? SubscriberBox<Event> {
                _ = box.offer(event)
            } else {
                _ = target.offerAny(event)
            }
        }
    }

    public func subscribe<Event: TelemetryEvent>(
        _ type: Event.Type, bufferSize: Int, dropPolicy: TelemetryDropPolicy
    ) -> TelemetrySubscription<Event> {
        let box = SubscriberBox<Event>(capacity: bufferSize, policy: dropPolicy)
        let typeKey = ObjectIdentifier(Event.self)
        let boxKey = ObjectIdentifier(box)
        box.onTerminate = { [weak self, weak box] in
            guard let self, let box else { return }
            self.retire(typeKey: typeKey, boxKey: boxKey, counters: box.counters())
        }
        lock.lock()
        let finished = isFinished
        if !finished { subscribers[typeKey, default: []].append(box) }
        lock.unlock()
        if finished { box.terminate(discardBuffer: false) }
        return TelemetrySubscription(box: box)
    }

    public func finish() {
        lock.lock()
        isFinished = true
        let all = subscribers.values.flatMap { $0 }
        lock.unlock()
        for s in all { s.terminate(discardBuffer: false) }
    }

    public var stats: TelemetryBusStats {
        lock.lock()
        var s = TelemetryBusStats()
        s.published = published
        s.delivered = retiredDelivered
        s.dropped = retiredDropped
        let live = subscribers.values.flatMap { $0 }
        lock.unlock()
        s.subscribers = live.count
        for box in live {
            let c = box.counters()
            s.delivered &+= c.delivered
            s.dropped &+= c.dropped
        }
        return s
    }

    private func retire(typeKey: ObjectIdentifier, boxKey: ObjectIdentifier, counters: (UInt64, UInt64, Int)) {
        lock.lock()
        if let i = subscribers[typeKey]?.firstIndex(where: { ObjectIdentifier($0) == boxKey }) {
            subscribers[typeKey]?.remove(at: i)
            retiredDelivered &+= counters.0
            retiredDropped &+= counters.1
        }
        lock.unlock()
    }
}
