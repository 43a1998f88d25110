import Foundation

/// An open subscription to one event type: an `AsyncSequence` of events, for a single consuming task.
///
/// Iteration ends (returns `nil`) after ``cancel()``, after the bus is finished and its buffer is drained, or
/// when the iterating task is cancelled. The subscription also ends when the last copy of it and of its
/// iterators is released, so an abandoned subscription does not keep buffering. Events that arrive while the buffer is full are dropped according to
/// the subscription's ``TelemetryDropPolicy`` and counted in ``droppedCount``.
public struct TelemetrySubscription<Event: TelemetryEvent>: AsyncSequence, Sendable {
    public typealias Element = Event
    let box: SubscriberBox<Event>
    let lifetime: SubscriptionLifetime

    init(box: SubscriberBox<Event>) {
        self.box = box
        lifetime = SubscriptionLifetime(box)
    }

    /// Events dropped so far because this subscriber was too slow.
    public var droppedCount: UInt64 { box.counters().dropped }
    /// Events currently buffered.
    public var bufferedCount: Int { box.counters().buffered }

    /// Ends the subscription; buffered events are discarded and the iterator returns `nil`.
    public func cancel() { box.terminate(discardBuffer: true) }

    public func makeAsyncIterator() -> Iterator { Iterator(box: box, lifetime: lifetime) }

    /// The iterator. Use it from one task at a time: a second concurrent waiter receives `nil`.
    public struct Iterator: AsyncIteratorProtocol {
        let box: SubscriberBox<Event>
        let lifetime: SubscriptionLifetime

        public mutating func next() async -> Event? {
            switch box.poll() {
            case .event(let e): return e
            case .finished: return nil
            case .empty: break
            }
            let box = self.box
            return await withTaskCancellationHandler {
                await withCheckedContinuation { (c: CheckedContinuation<Event?, Never>) in box.wait(c) }
            } onCancel: {
                box.terminate(discardBuffer: true)
            }
        }
    }
}

/// Ends the subscription when the last sequence or iterator holding it goes away.
final class SubscriptionLifetime: Sendable {
    let box: any AnySubscriber
    init(_ box: any AnySubscriber) { self.box = box }
    deinit { box.terminate(discardBuffer: true) }
}

/// Type-erased view the bus keeps of each subscriber.
protocol AnySubscriber: AnyObject, Sendable {
    func offerAny(_ event: any TelemetryEvent) -> (delivered: Bool, dropped: Bool)
    func terminate(discardBuffer: Bool)
    func counters() -> (delivered: UInt64, dropped: UInt64, buffered: Int)
}

/// A bounded ring buffer plus at most one waiting consumer.
///
/// Invariant: every field is read and written only while `lock` is held; continuations are resumed after
/// the lock is released.
final class SubscriberBox<Event: TelemetryEvent>: AnySubscriber, @unchecked Sendable {
    enum Poll {
        case event(Event)
        case empty, finished
    }

    private let lock = NSLock()
    private var ring: [Event?]
    private var head = 0
    private var count = 0
    private var waiter: CheckedContinuation<Event?, Never>?
    private var finished = false
    private var delivered: UInt64 = 0
    private var dropped: UInt64 = 0
    let policy: TelemetryDropPolicy
    /// Called once when the subscription ends, so the bus can forget it. Set before the box is shared, then
    /// only read under `lock`.
    var onTerminate: (@Sendable () -> Void)?

    init(capacity: Int, policy: TelemetryDropPolicy) {
        ring = Array(repeating: nil, count: max(1, capacity))
        self.policy = policy
    }

    func offerAny(_ event: any TelemetryEvent) -> (delivered: Bool, dropped: Bool) {
        guard let e = event as? Event else { return (false, false) }
        return offer(e)
    }

    /// Hands `event` to the waiting consumer or buffers it; never blocks beyond the short critical section.
    func offer(_ event: Event) -> (delivered: Bool, dropped: Bool) {
        lock.lock()
        if finished {
            lock.unlock()
            return (false, false)
        }
        if let w = waiter {
            waiter = nil
            delivered &+= 1
            lock.unlock()
            w.resume(returning: event)
            return (true, false)
        }
        if count == ring.count {
            dropped &+= 1
            if policy == .dropNewest {
                lock.unlock()
                return (false, true)
            }
            ring[head] = event  // overwrite the oldest, which sits at `head`
            head = (head + 1) % ring.count
            delivered &+= 1
            lock.unlock()
            return (true, true)
        }
        ring[(head + count) % ring.count] = event
        count += 1
        delivered &+= 1
        lock.unlock()
        return (true, false)
    }

    func poll() -> Poll {
        lock.lock()
        defer { lock.unlock() }
        if count > 0 { return .event(popLocked()) }
        return finished ? .finished : .empty
    }

    func wait(_ c: CheckedContinuation<Event?, Never>) {
        lock.lock()
        if count > 0 {
            let e = popLocked()
            lock.unlock()
            c.resume(returning: e)
            return
        }
        if finished || waiter != nil {
            lock.unlock()
            c.resume(returning: nil)
            return
        }
        waiter = c
        lock.unlock()
    }

    func terminate(discardBuffer: Bool) {
        lock.lock()
        let wasFinished = finished
        finished = true
        if discardBuffer {
            for i in 0..<ring.count { ring[i] = nil }
            count = 0
        }
        let w = waiter
        waiter = nil
        let hook = wasFinished ? nil : onTerminate
        lock.unlock()
        w?.resume(returning: nil)
        hook?()
    }

    func counters() -> (delivered: UInt64, dropped: UInt64, buffered: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (delivered, dropped, count)
    }

    private func popLocked() -> Event {
        let e = ring[head]!
        ring[head] = nil
        head = (head + 1) % ring.count
        count -= 1
        return e
    }
}
