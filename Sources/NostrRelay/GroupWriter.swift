import Dispatch
import Logging

/// Group commit: events arriving from every connection are queued, and a single writer task stores them in
/// batches (one `EventStore.insert`, hence one commit and one fsync, per batch). Each event's completion runs
/// after its batch is committed and after live subscribers have been served.
///
/// Two stages, so that the writer only does what must be serial: a checker task reads, concurrently with the
/// writer's commit, whether each queued event is already stored (`EventStore.checkNew`; duplicates are answered
/// at once), and the writer stores checked events, re-checking them only against the commits made since (see
/// `RecentCommits`). Events keep their arrival order: the writer takes checked events first and unchecked ones
/// only while the checker holds none. After a commit, live delivery and the OK completions run on a serial
/// acknowledgement queue, so the writer starts the next group at once (batches are acknowledged in order).
final class GroupWriter: Sendable {
    typealias Completion = @Sendable (InsertOutcome) -> Void

    private struct Item {
        let event: NostrEvent
        var check: NewEventCheck
        let completion: Completion
    }

    private struct State {
        /// Not yet checked, oldest first.
        var pending: [Item] = []
        /// Checked, oldest first (all older than `pending` and than the checker's chunk).
        var ready: [Item] = []
        /// Events the checker is reading now.
        var checking = 0
        var checkerRunning = false
        var writerRunning = false
        /// Committed batches whose delivery and completions have not run yet.
        var acksPending = 0
        var closed = false
        var idleWaiters: [CheckedContinuation<Void, Never>] = []

        var isIdle: Bool {
            !writerRunning && !checkerRunning && acksPending == 0 && pending.isEmpty && ready.isEmpty
        }

        /// The waiters to resume if nothing is left to do.
        mutating func takeWaitersIfIdle() -> [CheckedContinuation<Void, Never>] {
            guard isIdle else { return [] }
            defer { idleWaiters = [] }
            return idleWaiters
        }
    }

    private let state = Locked(State())
    private let store: any EventStore
    private let maxBatch: Int
    /// Events the checker takes at a time (small, so checked events reach the writer steadily).
    private let checkChunk: Int
    private let onStored: @Sendable ([NostrEvent]) -> Void
    private let logger: Logger
    /// Runs each committed batch's live delivery and completions, in commit order.
    private let acks = DispatchQueue(label: "nostr-relay-acks", qos: .userInitiated)

    init(store: any EventStore, maxBatch: Int, logger: Logger, onStored: @escaping @Sendable ([NostrEvent]) -> Void) {
        self.store = store
        self.maxBatch = max(1, maxBatch)
        self.checkChunk = max(1, min(64, maxBatch))
        self.logger = logger
        self.onStored = onStored
    }

    /// Events queued and not yet committed.
    var backlog: Int { state.withLock { $0.pending.count + $0.ready.count + $0.checking } }

    /// Queues `event`; `completion` runs once it is committed or refused.
    func submit(_ event: NostrEvent, completion: @escaping Completion) {
        let (accepted, start) = state.withLock { s -> (Bool, Bool) in
            if s.closed { return (false, false) }
            s.pending.append(Item(event: event, check: .notChecked, completion: completion))
            if s.checkerRunning { return (true, false) }
            s.checkerRunning = true
            return (true, true)
        }
        if !accepted {
            completion(.rejected(message: "error: the relay is shutting down"))
            return
        }
        if start { Task { await self.check() } }
    }

    /// Returns when everything queued so far is committed.
    func flush() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { s -> Bool in
                if s.isIdle { return true }
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

    /// The checker: early duplicate reads, chunk by chunk, handing checked events to the writer.
    private func check() async {
        while true {
            let (chunk, waiters) = state.withLock { s -> ([Item], [CheckedContinuation<Void, Never>]) in
                if s.pending.isEmpty {
                    s.checkerRunning = false
                    return ([], s.takeWaitersIfIdle())
                }
                let n = min(checkChunk, s.pending.count)
                let chunk = Array(s.pending.prefix(n))
                s.pending.removeFirst(n)
                s.checking = n
                return (chunk, [])
            }
            if chunk.isEmpty {
                for w in waiters { w.resume() }
                return
            }
            var checked: [Item] = []
            var duplicates: [Item] = []
            checked.reserveCapacity(chunk.count)
            for var item in chunk {
                do { item.check = try await store.checkNew(item.event) } catch { item.check = .notChecked }
                if item.check == .alreadyStored { duplicates.append(item) } else { checked.append(item) }
            }
            let startWriter = state.withLock { s -> Bool in
                s.ready.append(contentsOf: checked)
                s.checking = 0
                if s.writerRunning || s.ready.isEmpty { return false }
                s.writerRunning = true
                return true
            }
            if startWriter { Task(executorPreference: WriterExecutor.shared) { await self.write() } }
            for item in duplicates { item.completion(.rejected(message: "duplicate: already have this event")) }
        }
    }

    /// The writer: one store insert (one commit) per batch.
    private func write() async {
        while true {
            let (batch, waiters) = state.withLock { s -> ([Item], [CheckedContinuation<Void, Never>]) in
                var b = Array(s.ready.prefix(maxBatch))
                s.ready.removeFirst(b.count)
                if s.checking == 0 && b.count < maxBatch {
                    // Nothing is being checked: the oldest unchecked events may go now (fully checked by the store).
                    let n = min(maxBatch - b.count, s.pending.count)
                    b += s.pending.prefix(n)
                    s.pending.removeFirst(n)
                }
                if b.isEmpty {
                    s.writerRunning = false
                    return ([], s.takeWaitersIfIdle())
                }
                return (b, [])
            }
            if batch.isEmpty {
                for w in waiters { w.resume() }
                return
            }
            let outcomes: [InsertOutcome]
            let started = ContinuousClock.now
            var metadata: Logger.Metadata?
            do {
                outcomes = try await store.insert(batch.map(\.event), checks: batch.map(\.check))
                if logger.logLevel <= .debug {
                    let ms = (ContinuousClock.now - started) / .milliseconds(1)
                    var m: Logger.Metadata = [
                        "events": "\(batch.count)", "ms": "\(Int(ms * 10) / 10)", "queued": "\(backlog)",
                        "prechecked": "\(batch.count(where: { $0.check != .notChecked }))",
                    ]
                    if let stages = (store as? IndexedEventStore)?.lastInsertStages {
                        for (k, v) in stages.metadata { m[k] = .string(v) }
                    }
                    metadata = m
                }
            } catch {
                logger.error("event store write failed", metadata: ["error": "\(error)", "events": "\(batch.count)"])
                outcomes = Array(
                    repeating: .rejected(message: "error: could not store the event"), count: batch.count)
            }
            if let metadata { logger.debug("group commit", metadata: metadata) }
            state.withLock { $0.acksPending += 1 }
            let completions = batch.map(\.completion)
            let events = batch.map(\.event)
            acks.async { self.acknowledge(events, completions, outcomes) }
        }
    }

    /// Serves live subscribers, then runs the completions of one committed batch (on `acks`).
    private func acknowledge(_ events: [NostrEvent], _ completions: [Completion], _ outcomes: [InsertOutcome]) {
        var stored: [NostrEvent] = []
        for (e, outcome) in zip(events, outcomes) where outcome.isStored { stored.append(e) }
        if !stored.isEmpty { onStored(stored) }
        for (i, completion) in completions.enumerated() {
            completion(i < outcomes.count ? outcomes[i] : .rejected(message: "error: store gave no outcome"))
        }
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.acksPending -= 1
            return s.takeWaitersIfIdle()
        }
        for w in waiters { w.resume() }
    }
}
