import Logging

/// Group commit: events arriving from every connection are queued, and a single writer task stores them in
/// batches (one `EventStore.insert`, hence one commit and one fsync, per batch). Each event's completion runs
/// after its batch is committed and after live subscribers have been served.
final class GroupWriter: Sendable {
    typealias Completion = @Sendable (InsertOutcome) -> Void

    private struct Item {
        let event: NostrEvent
        let check: NewEventCheck
        let completion: Completion
    }

    private struct State {
        var pending: [Item] = []
        var running = false
        var closed = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Locked(State())
    private let store: any EventStore
    private let maxBatch: Int
    private let onStored: @Sendable ([NostrEvent]) -> Void
    private let logger: Logger

    init(store: any EventStore, maxBatch: Int, logger: Logger, onStored: @escaping @Sendable ([NostrEvent]) -> Void) {
        self.store = store
        self.maxBatch = max(1, maxBatch)
        self.logger = logger
        self.onStored = onStored
    }

    /// Events queued and not yet committed.
    var backlog: Int { state.withLock { $0.pending.count } }

    /// Queues `event` (with the result of its early duplicate check); `completion` runs once it is committed or
    /// refused.
    func submit(_ event: NostrEvent, check: NewEventCheck = .notChecked, completion: @escaping Completion) {
        let (accepted, start) = state.withLock { s -> (Bool, Bool) in
            if s.closed { return (false, false) }
            s.pending.append(Item(event: event, check: check, completion: completion))
            if s.running { return (true, false) }
            s.running = true
            return (true, true)
        }
        if !accepted {
            completion(.rejected(message: "error: the relay is shutting down"))
            return
        }
        if start { Task(executorPreference: WriterExecutor.shared) { await self.drain() } }
    }

    /// Returns when everything queued so far is committed.
    func flush() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { s -> Bool in
                if !s.running && s.pending.isEmpty { return true }
                s.idleWaiters.append(c)
                return false
            }
            if idle { c.resume() }
        }
    }

    /// Refuses new events and waits for the queued ones.
    func close() async {
        state.withLock { $0.closed = true }
        await flush()
    }

    private func drain() async {
        while true {
            let (batch, waiters) = state.withLock { s -> ([Item], [CheckedContinuation<Void, Never>]) in
                if s.pending.isEmpty {
                    s.running = false
                    let w = s.idleWaiters
                    s.idleWaiters = []
                    return ([], w)
                }
                let n = min(maxBatch, s.pending.count)
                let b = Array(s.pending.prefix(n))
                s.pending.removeFirst(n)
                return (b, [])
            }
            if batch.isEmpty {
                for w in waiters { w.resume() }
                return
            }
            let outcomes: [InsertOutcome]
            let started = ContinuousClock.now
            do {
                outcomes = try await store.insert(batch.map(\.event), checks: batch.map(\.check))
                if logger.logLevel <= .debug {
                    let ms = (ContinuousClock.now - started) / .milliseconds(1)
                    var metadata: Logger.Metadata = [
                        "events": "\(batch.count)", "ms": "\(Int(ms * 10) / 10)",
                        "queued": "\(state.withLock { $0.pending.count })",
                    ]
                    if let stages = (store as? IndexedEventStore)?.lastInsertStages {
                        for (k, v) in stages.metadata { metadata[k] = .string(v) }
                    }
                    logger.debug("group commit", metadata: metadata)
                }
            } catch {
                logger.error("event store write failed", metadata: ["error": "\(error)", "events": "\(batch.count)"])
                outcomes = Array(
                    repeating: .rejected(message: "error: could not store the event"), count: batch.count)
            }
            var stored: [NostrEvent] = []
            for (item, outcome) in zip(batch, outcomes) where outcome.isStored { stored.append(item.event) }
            if !stored.isEmpty { onStored(stored) }
            for (i, item) in batch.enumerated() {
                item.completion(i < outcomes.count ? outcomes[i] : .rejected(message: "error: store gave no outcome"))
            }
        }
    }
}
