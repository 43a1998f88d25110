import CompactEncoding
import Dispatch
import HyperCrypto
import HyperLog
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Errors surfaced by replication calls.
public enum ReplicationError: Error, Equatable, CustomStringConvertible {
    case noPeerHas(index: UInt64)
    case timedOut(index: UInt64?)
    case peerFailed(String)
    case stopped

    public var description: String {
        switch self {
        case .noPeerHas(let i): return "replication: no connected peer can serve block \(i)"
        case .timedOut(let i): return "replication: request timed out" + (i.map { " (block \($0))" } ?? "")
        case .peerFailed(let why): return "replication: peer failed: \(why)"
        case .stopped: return "replication: stopped"
        }
    }
}

/// Replicates one `HyperLog` over `hypercore/alpha` channels (one per connection, id = the discovery key).
///
/// A writer serves requests and announces appends (sync) so readers upgrade without polling. A reader upgrades to the
/// best length its peers announce (when `live`), and fetches blocks sparsely (`get`) or by range (`download`), with at
/// most `maxInflightPerPeer` requests outstanding per peer. Proofs are verified by `HyperLog.apply`; a peer whose data
/// fails verification is disconnected and the log is left untouched.
///
/// Thread-safety: mutable state lives in `state` (a lock); each peer's channel is used only on its event loop.
public final class Replicator: Sendable {
    public let log: HyperLog
    public let maxInflightPerPeer: Int
    public let requestTimeout: Duration
    /// Follow announced lengths automatically (live tail).
    public let live: Bool
    /// Verify and store received blocks on `verifier` (a serial queue) instead of the connection's event loop, so
    /// that decryption (on the loop) overlaps hashing and storing.
    public let verifyOffLoop: Bool
    let logger: Logger
    /// Where received answers are verified and stored when `verifyOffLoop` (one serial queue per log).
    let verifier = DispatchQueue(label: "hypertuna.replication.verify")

    struct Pending {
        let peer: ObjectIdentifier
        let block: UInt64?
        let upgradeFrom: UInt64?
        /// False when the caller applies the proof itself (`ProofSource` use).
        let apply: Bool
        let continuation: CheckedContinuation<Proof, Error>
        /// Fails the request after `requestTimeout` (on the peer's event loop); cancelled when it completes.
        let timer: Scheduled<Void>
    }

    struct State {
        var peers: [ObjectIdentifier: ReplicationPeer] = [:]
        var pending: [UInt64: Pending] = [:]
        var nextRequestID: UInt64 = 1
        var requestsSent: UInt64 = 0
        var inflight: [ObjectIdentifier: Int] = [:]
        var slotWaiters: [CheckedContinuation<Void, Never>] = []
        /// Requests waiting for bitfields after sending `want`; woken by any peer change (never by a freed slot).
        var wantWaiters: [CheckedContinuation<Void, Never>] = []
        /// Bumped whenever a slot frees or the peer set changes, so a waiter never misses a wake-up.
        var generation: UInt64 = 0
        var upgrading: Task<Void, Error>?
        var stopped = false
    }

    let state = NIOLockedValueBox(State())
    private let eventsTask: NIOLockedValueBox<Task<Void, Never>?> = NIOLockedValueBox(nil)

    public init(
        log: HyperLog, live: Bool = true, maxInflightPerPeer: Int = 64, requestTimeout: Duration = .seconds(10),
        verifyOffLoop: Bool = true, logger: Logger = Logger(label: "hypertuna.replication")
    ) {
        self.log = log
        self.live = live
        self.verifyOffLoop = verifyOffLoop
        self.maxInflightPerPeer = max(1, maxInflightPerPeer)
        self.requestTimeout = requestTimeout
        self.logger = logger
        let events = log.events()
        let task = Task { [weak self] in
            for await e in events {
                guard let self else { return }
                switch e {
                case .appended: self.announce()
                case .downloaded(let index): self.stored(index)
                default: break
                }
            }
        }
        eventsTask.withLockedValue { $0 = task }
    }

    /// The replication channel id of this log.
    public var discoveryKey: [UInt8] { log.discoveryKey }

    /// Number of peers with an open channel.
    public var peerCount: Int { state.withLockedValue { $0.peers.values.filter { $0.isOpen }.count } }

    /// Opens the replication channel on `conn`. Call on the connection's event loop (e.g. in the node's
    /// connection handler) or from anywhere: it hops to the loop.
    public func attach(_ conn: SwarmConnection) {
        if conn.eventLoop.inEventLoop {
            attachOnLoop(conn)
        } else {
            conn.eventLoop.execute { self.attachOnLoop(conn) }
        }
    }

    func attachOnLoop(_ conn: SwarmConnection) {
        guard let mux = conn.mux, conn.isActive, !state.withLockedValue({ $0.stopped }) else { return }
        let key = ChannelKey(protocol: Wire.protocolName, id: log.discoveryKey)
        if mux.isOpened(key) { return }
        let peer = ReplicationPeer(replicator: self, connection: conn)
        let cap = Wire.capability(isInitiator: conn.isInitiator, key: log.key, handshakeHash: conn.handshakeHash)
        state.withLockedValue { $0.peers[ObjectIdentifier(peer)] = peer }
        let ch = mux.open(
            protocol: Wire.protocolName, id: log.discoveryKey,
            handshake: WireHandshake(seeks: true, capability: cap).compactEncoded,
            onOpen: { [weak peer] ch, hs in
                // May run inside `open` (the remote opened first), before `open` returns.
                peer?.channel = ch
                peer?.onOpen(handshake: hs)
            },
            onMessage: { [weak peer] _, type, payload in peer?.onMessage(type: type, frame: payload, offset: 0) },
            onClose: { [weak peer] _, _ in peer?.onClose() })
        guard let ch else {
            state.withLockedValue { $0.peers[ObjectIdentifier(peer)] = nil }
            return
        }
        // Data messages are decoded straight from the received frame.
        ch.onMessageAt = { [weak peer] _, type, frame, offset in
            peer?.onMessage(type: type, frame: frame, offset: offset)
        }
        peer.channel = ch
    }

    /// Stops replicating: closes channels and fails outstanding requests.
    public func stop() {
        let (peers, pending, waiters) = state.withLockedValue { s in
            s.stopped = true
            let r = (Array(s.peers.values), Array(s.pending.values), s.slotWaiters + s.wantWaiters)
            s.peers = [:]
            s.pending = [:]
            s.slotWaiters = []
            s.wantWaiters = []
            return r
        }
        eventsTask.withLockedValue { $0?.cancel() }
        for p in pending {
            p.timer.cancel()
            p.continuation.resume(throwing: ReplicationError.stopped)
        }
        for w in waiters { w.resume() }
        for p in peers { p.close() }
    }

    // MARK: peer bookkeeping (called by ReplicationPeer)

    func peerClosed(_ peer: ReplicationPeer) {
        let id = ObjectIdentifier(peer)
        let (failed, waiters): ([Pending], [CheckedContinuation<Void, Never>]) = state.withLockedValue { s in
            s.peers[id] = nil
            s.inflight[id] = nil
            s.generation &+= 1
            let f = s.pending.filter { $0.value.peer == id }
            for k in f.keys { s.pending[k] = nil }
            let w = s.slotWaiters + s.wantWaiters
            s.slotWaiters = []
            s.wantWaiters = []
            return (Array(f.values), w)
        }
        for p in failed {
            p.timer.cancel()
            p.continuation.resume(throwing: ReplicationError.peerFailed("connection closed"))
        }
        for w in waiters { w.resume() }  // they re-evaluate the remaining peers
    }

    /// Wakes every request waiting for a peer (a peer announced itself or opened).
    func peersChanged() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLockedValue { s in
            s.generation &+= 1
            let w = s.slotWaiters + s.wantWaiters
            s.slotWaiters = []
            s.wantWaiters = []
            return w
        }
        for w in waiters { w.resume() }
    }

    /// A remote announced a length: follow it when live.
    func remoteLengthChanged(_ length: UInt64) {
        guard live, length > log.length, !log.isWritable else { return }
        Task { try? await self.update() }
    }

    /// Tell every peer our new length (after a local append or a verified upgrade).
    func announce() {
        let peers = state.withLockedValue { Array($0.peers.values) }
        for p in peers { p.sendSync() }
    }

    /// A block was stored locally: peers that want it hear of it (batched, WantBitfield.swift).
    func stored(_ index: UInt64) {
        let peers = state.withLockedValue { Array($0.peers.values) }
        for p in peers { p.noteStored(index) }
    }

    func complete(request id: UInt64, from peer: ReplicationPeer, with result: Result<Proof, Error>) -> Pending? {
        let p: Pending? = state.withLockedValue { s in
            guard let p = s.pending[id], p.peer == ObjectIdentifier(peer) else { return nil }
            s.pending[id] = nil
            return p
        }
        guard let p else { return nil }
        p.timer.cancel()
        p.continuation.resume(with: result)
        releaseSlot(peer)
        return p
    }

    func pendingRequest(_ id: UInt64, from peer: ReplicationPeer) -> Pending? {
        state.withLockedValue { s in
            guard let p = s.pending[id], p.peer == ObjectIdentifier(peer) else { return nil }
            return p
        }
    }

    private func releaseSlot(_ peer: ReplicationPeer) {
        let w: CheckedContinuation<Void, Never>? = state.withLockedValue { s in
            let id = ObjectIdentifier(peer)
            if let n = s.inflight[id], n > 0 { s.inflight[id] = n - 1 }
            s.generation &+= 1
            return s.slotWaiters.isEmpty ? nil : s.slotWaiters.removeFirst()
        }
        w?.resume()
    }

    // MARK: requests

    /// Picks a peer that can serve `block` (or the longest remote for an upgrade) with a free request slot,
    /// waiting for a slot when all candidates are busy.
    private func acquirePeer(block: UInt64?, minLength: UInt64, excluding: Set<ObjectIdentifier>) async throws
        -> ReplicationPeer
    {
        let announceDeadline = ContinuousClock.now + requestTimeout
        while true {
            enum Choice {
                case peer(ReplicationPeer)
                case wait(UInt64)
                case announce
                case want([ReplicationPeer], segment: UInt64, seen: UInt64)
                case none
            }
            let choice: Choice = state.withLockedValue { s in
                if s.stopped { return .none }
                let candidates = s.peers.values.filter { p in
                    p.isOpen && !excluding.contains(ObjectIdentifier(p)) && p.remoteLength >= minLength
                        && (block.map { p.remoteHas($0) } ?? true)
                }
                if candidates.isEmpty {
                    // A sparse peer may hold it: ask peers long enough for their bitfield of its segment (bounded).
                    if let block, ContinuousClock.now < announceDeadline {
                        let segment = block / ReplicationPeer.segmentBits
                        let askable = s.peers.values.filter { p in
                            p.isOpen && !excluding.contains(ObjectIdentifier(p)) && p.remoteLength > block
                                && !p.segmentAnswered(segment)
                        }
                        if !askable.isEmpty { return .want(askable, segment: segment, seen: s.generation) }
                    }
                    // A peer that has not announced itself yet may still have it.
                    return s.peers.values.contains { $0.awaitingSync } ? .announce : .none
                }
                let free = candidates.filter { (s.inflight[ObjectIdentifier($0)] ?? 0) < maxInflightPerPeer }
                guard
                    let best = free.min(by: {
                        (s.inflight[ObjectIdentifier($0)] ?? 0) < (s.inflight[ObjectIdentifier($1)] ?? 0)
                    })
                else { return .wait(s.generation) }
                s.inflight[ObjectIdentifier(best), default: 0] += 1
                return .peer(best)
            }
            switch choice {
            case .peer(let p): return p
            case .none:
                if state.withLockedValue({ $0.stopped }) { throw ReplicationError.stopped }
                throw ReplicationError.noPeerHas(index: block ?? minLength)
            case .announce:
                guard ContinuousClock.now < announceDeadline else {
                    throw ReplicationError.noPeerHas(index: block ?? minLength)
                }
                try await Task.sleep(for: .milliseconds(5))
            case .want(let peers, let segment, let seen):
                for p in peers { p.want(segment: segment) }  // sent once per segment
                // Woken by a bitfield, range, sync or closed peer (`peersChanged` / `peerClosed`), or at the deadline.
                let deadline = Task { [weak self] in
                    try? await Task.sleep(until: announceDeadline, clock: .continuous)
                    self?.peersChanged()
                }
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let missed = state.withLockedValue { s -> Bool in
                        if s.generation != seen || s.stopped { return true }
                        s.wantWaiters.append(c)
                        return false
                    }
                    if missed { c.resume() }
                }
                deadline.cancel()
            case .wait(let seen):
                await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                    let missed = state.withLockedValue { s -> Bool in
                        if s.generation != seen || s.stopped { return true }
                        s.slotWaiters.append(c)
                        return false
                    }
                    if missed { c.resume() }
                }
            }
        }
    }

    /// Sends `request` to `peer` and waits for its data (or noData / close / timeout).
    private func send(_ request: ProofRequest, to peer: ReplicationPeer, apply: Bool = true) async throws -> Proof {
        let id = state.withLockedValue { s -> UInt64 in
            defer { s.nextRequestID += 1 }
            s.requestsSent += 1
            return s.nextRequestID
        }
        let timeout = requestTimeout.components
        let nanos = timeout.seconds * 1_000_000_000 + timeout.attoseconds / 1_000_000_000
        let block = request.block?.index
        return try await withCheckedThrowingContinuation { c in
            // An event-loop timer, not a task per request: bulk downloads send thousands of requests.
            let timer = peer.connection.eventLoop.scheduleTask(in: .nanoseconds(nanos)) { [weak self, weak peer] in
                guard let self, let peer else { return }
                _ = self.complete(request: id, from: peer, with: .failure(ReplicationError.timedOut(index: block)))
            }
            state.withLockedValue {
                $0.pending[id] = Pending(
                    peer: ObjectIdentifier(peer), block: block, upgradeFrom: request.upgrade?.start, apply: apply,
                    continuation: c, timer: timer)
            }
            peer.sendRequest(request, id: id)
        }
    }

    /// Request messages sent so far (each is one round trip to a peer).
    public var requestsSent: UInt64 { state.withLockedValue { $0.requestsSent } }

    /// Waits (bounded by `requestTimeout`) until every attached peer has announced its length.
    func awaitAnnouncements() async throws {
        let deadline = ContinuousClock.now + requestTimeout
        while state.withLockedValue({ s in s.peers.values.contains { $0.awaitingSync } }),
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Sends `request` to a suitable peer and returns its proof unapplied (for `ProofSource` callers, which verify
    /// and store it themselves). Tries the next peer on noData / timeout / close.
    func forward(_ request: ProofRequest) async throws -> Proof {
        let minLength = request.upgrade.map { $0.start + $0.length } ?? (request.block.map { $0.index + 1 } ?? 1)
        var tried = Set<ObjectIdentifier>()
        var lastError: Error = ReplicationError.noPeerHas(index: request.block?.index ?? minLength)
        while true {
            let peer: ReplicationPeer
            do {
                peer = try await acquirePeer(block: request.block?.index, minLength: minLength, excluding: tried)
            } catch {
                throw tried.isEmpty ? error : lastError
            }
            do {
                return try await send(request, to: peer, apply: false)
            } catch {
                lastError = error
                tried.insert(ObjectIdentifier(peer))
            }
        }
    }

    /// Upgrades the log to the longest length announced by peers; returns the new length.
    @discardableResult
    public func update() async throws -> UInt64 {
        if log.isWritable { return log.length }
        let task: Task<Void, Error> = state.withLockedValue { s in
            if let t = s.upgrading { return t }
            let t = Task { [self] in
                defer { state.withLockedValue { $0.upgrading = nil } }
                var tried = Set<ObjectIdentifier>()
                // Let peers whose channel is still opening announce their length first (bounded).
                try await awaitAnnouncements()
                while true {
                    let length = log.length
                    let best = state.withLockedValue { $0.peers.values.map(\.remoteLength).max() ?? 0 }
                    guard best > length else { return }
                    let peer = try await acquirePeer(block: nil, minLength: best, excluding: tried)
                    let request = ProofRequest(
                        fork: log.fork, upgrade: .init(start: length, length: best - length),
                        manifest: needsManifest(from: peer))
                    do {
                        let proof = try await send(request, to: peer)
                        _ = proof
                    } catch {
                        tried.insert(ObjectIdentifier(peer))
                        logger.debug("upgrade failed", metadata: ["error": "\(error)"])
                    }
                }
            }
            s.upgrading = t
            return t
        }
        try await task.value
        return log.length
    }

    /// Whether a request to `peer` asks for the manifest: as Hypercore does, when we hold none (a replica opened from
    /// the key alone) and the peer said it has one (sync `hasManifest`).
    func needsManifest(from peer: ReplicationPeer) -> Bool {
        log.identity.mode == .compat && peer.remoteHasManifest
    }

    /// The block at `index`: from local storage, or fetched from a peer with just the proof nodes we lack.
    public func get(_ index: UInt64) async throws -> [UInt8] {
        if log.has(index) { return try log.get(index) }
        try await fetch(index)
        return try log.get(index)
    }

    /// Makes block `index` local (fetched, verified and stored) without reading it back.
    func fetch(_ index: UInt64) async throws {
        if log.has(index) { return }
        if index >= log.length { try await update() }
        let length = log.length
        guard index < length else { throw HyperLogError.outOfRange(index: index, length: length) }
        var tried = Set<ObjectIdentifier>()
        var lastError: Error = ReplicationError.noPeerHas(index: index)
        while true {
            if log.has(index) { return }
            let peer: ReplicationPeer
            do {
                peer = try await acquirePeer(block: index, minLength: index + 1, excluding: tried)
            } catch {
                throw tried.isEmpty ? error : lastError
            }
            let request = ProofRequest(
                fork: log.fork, block: .init(index: index, nodes: try log.missingNodes(index)),
                manifest: needsManifest(from: peer))
            do {
                _ = try await send(request, to: peer)
                if log.has(index) { return }
            } catch {
                lastError = error
                tried.insert(ObjectIdentifier(peer))
            }
        }
    }

    /// Fetches every missing block in `range` (many requests in flight, bounded per peer).
    public func download(_ range: Range<UInt64>) async throws {
        if range.upperBound > log.length { try await update() }
        let missing = range.filter { !log.has($0) }
        let peers = max(1, peerCount)
        let width = maxInflightPerPeer * peers
        try await withThrowingTaskGroup(of: Void.self) { group in
            var it = missing.makeIterator()
            for _ in 0..<width {
                guard let i = it.next() else { break }
                group.addTask { try await self.fetch(i) }
            }
            while try await group.next() != nil {
                if let i = it.next() { group.addTask { try await self.fetch(i) } }
            }
        }
    }
}

/// The replicator as a `HyperLog.ProofSource`: `HyperLog.fetch` / `update` (and HyperTree's `HyperLogSource`) can pull
/// verified blocks through it. Proofs are returned unapplied; the caller verifies them.
extension Replicator: ProofSource {
    public func remoteLength() async throws -> UInt64 {
        try await awaitAnnouncements()
        return state.withLockedValue { $0.peers.values.map(\.remoteLength).max() ?? 0 }
    }

    public func proof(for request: ProofRequest) async throws -> Proof {
        try await forward(request)
    }
}
