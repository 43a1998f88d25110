import CompactEncoding
import HyperCrypto
import HyperLog
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// One `hypercore/alpha` channel between our log and a remote peer.
///
/// Thread-safety: `channel` is used only on `connection.eventLoop`; the remote's announced state is in a lock.
final class ReplicationPeer: @unchecked Sendable {
    unowned let replicator: Replicator
    let connection: SwarmConnection
    var channel: MuxChannel?

    struct Remote {
        var open = false
        var synced = false
        var length: UInt64 = 0
        var fork: UInt64 = 0
        var uploading = false
        /// The remote holds the log's manifest and is not in compat mode (sync `hasManifest`).
        var hasManifest = false
        /// Ranges the remote said it has (from `range` and `bitfield` messages), plus everything below
        /// `contiguous` when it is a writer.
        var ranges: [Range<UInt64>] = []
        var bitfield: [UInt64: [UInt32]] = [:]
        /// Ranges the remote asked us to announce (`want`), clamped; newly stored blocks inside them are announced.
        var wants: [Range<UInt64>] = []
        /// Want / bitfield bookkeeping of both sides (WantBitfield.swift).
        var wire = WantState()
    }

    let remote = NIOLockedValueBox(Remote())
    var log: HyperLog { replicator.log }
    var logger: Logger { replicator.logger }

    init(replicator: Replicator, connection: SwarmConnection) {
        self.replicator = replicator
        self.connection = connection
    }

    var isOpen: Bool { remote.withLockedValue { $0.open } }
    var remoteLength: UInt64 { remote.withLockedValue { $0.length } }
    /// Whether the remote said it holds the manifest (then requests ask for it while we have none).
    var remoteHasManifest: Bool { remote.withLockedValue { $0.hasManifest } }
    /// True while the remote's first sync has not arrived (the channel may still be opening).
    var awaitingSync: Bool { remote.withLockedValue { !$0.synced } }

    func remoteHas(_ index: UInt64) -> Bool {
        remote.withLockedValue { r in
            guard index < r.length else { return false }
            if r.ranges.contains(where: { $0.contains(index) }) { return true }
            if let words = r.bitfield[index / 32768] {
                let bit = Int(index % 32768)
                if bit / 32 < words.count, words[bit / 32] & (1 << UInt32(bit % 32)) != 0 { return true }
            }
            return false
        }
    }

    // MARK: channel events (on the event loop)

    func onOpen(handshake: [UInt8]) {
        guard let hs = try? Wire.decode(WireHandshake.self, handshake) else {
            fail("malformed replication handshake")
            return
        }
        let expected = Wire.capability(
            isInitiator: !connection.isInitiator, key: log.key, handshakeHash: connection.handshakeHash)
        guard constantTimeEquals(hs.capability, expected) else {
            fail("remote sent an invalid replication capability")
            return
        }
        remote.withLockedValue { $0.open = true }
        sendSync()  // also advertises what we hold (a writer: everything; a replica: its contiguous prefix)
    }

    func onClose() {
        remote.withLockedValue { $0.open = false }
        replicator.peerClosed(self)
    }

    /// A message whose payload is `frame[offset...]`.
    func onMessage(type: UInt64, frame: [UInt8], offset: Int) {
        if Wire.MessageType(rawValue: type) == .data {
            do {
                try onData(frame, offset: offset)
            } catch {
                fail("malformed data message: \(error)")
            }
            return
        }
        onMessage(type: type, payload: offset == 0 ? frame : Array(frame[offset...]))
    }

    func onMessage(type: UInt64, payload: [UInt8]) {
        do {
            switch Wire.MessageType(rawValue: type) {
            // Every body is decoded leniently (`Wire.decode`): unknown trailing fields are ignored.
            case .sync: try onSync(Wire.decode(SyncMessage.self, payload))
            case .request: try onRequest(payload)
            case .cancel: _ = try Wire.decode(RequestRef.self, payload)  // answered synchronously: nothing to cancel
            case .data: try onData(payload, offset: 0)
            case .noData: try onNoData(Wire.decode(NoDataMessage.self, payload))
            case .want: onWant(try Wire.decode(RangeRef.self, payload))
            case .unwant: onUnwant(try Wire.decode(RangeRef.self, payload))
            case .bitfield: try onBitfield(Wire.decode(BitfieldMessage.self, payload))
            case .range: try onRange(Wire.decode(RangeMessage.self, payload))
            case .extension, .none: break  // unknown or extension messages are ignored
            }
        } catch let e as ProtocolViolation {
            fail(e.reason)
        } catch {
            fail("malformed \(Wire.MessageType(rawValue: type).map { "\($0)" } ?? "type \(type)") message: \(error)")
        }
    }

    /// A `range` message: the remote now has (or, with `drop`, no longer has) exactly these blocks. A drop clears
    /// only the dropped blocks from what the remote announced, in both its ranges and its bitfield pages.
    private func onRange(_ m: RangeMessage) throws {
        guard m.start <= UInt64.max - m.length else { throw ProtocolViolation("range overflows") }
        let rg = m.start..<(m.start + m.length)
        remote.withLockedValue { r in
            if m.drop {
                r.ranges = Self.subtract(r.ranges, rg)
                Self.clearBits(&r.bitfield, rg)
            } else {
                r.ranges = Self.merge(r.ranges, rg)
                if r.ranges.count > 4096 { r.ranges.removeFirst(r.ranges.count - 4096) }
            }
        }
        if !m.drop { replicator.peersChanged() }
    }

    /// Removes `cut` from sorted, disjoint `ranges`, keeping the parts on either side of it.
    static func subtract(_ ranges: [Range<UInt64>], _ cut: Range<UInt64>) -> [Range<UInt64>] {
        guard !cut.isEmpty else { return ranges }
        var out: [Range<UInt64>] = []
        out.reserveCapacity(ranges.count + 1)
        for r in ranges {
            guard r.overlaps(cut) else {
                out.append(r)
                continue
            }
            if r.lowerBound < cut.lowerBound { out.append(r.lowerBound..<cut.lowerBound) }
            if cut.upperBound < r.upperBound { out.append(cut.upperBound..<r.upperBound) }
        }
        return out
    }

    /// Clears the bits of `cut` in remote bitfield pages (pages left empty are dropped).
    static func clearBits(_ pages: inout [UInt64: [UInt32]], _ cut: Range<UInt64>) {
        guard !cut.isEmpty, !pages.isEmpty else { return }
        let first = cut.lowerBound / Bitfield.pageBits
        let last = (cut.upperBound - 1) / Bitfield.pageBits
        // Visit only pages we hold (a drop may span far more pages than the remote ever announced).
        for page in pages.keys where page >= first && page <= last {
            guard var words = pages[page] else { continue }
            let base = page * Bitfield.pageBits
            let lo = Int(max(cut.lowerBound, base) - base)
            let hi = Int(min(cut.upperBound, base + Bitfield.pageBits) - base)
            var bit = lo
            while bit < hi {
                let inWord = bit & 31
                let count = min(32 - inWord, hi - bit)
                let mask: UInt32 = (count == 32 ? ~0 : ((1 << UInt32(count)) - 1)) << UInt32(inWord)
                if bit >> 5 < words.count { words[bit >> 5] &= ~mask }
                bit += count
            }
            pages[page] = words.contains { $0 != 0 } ? words : nil
        }
    }

    /// Inserts `new` into sorted, disjoint `ranges`, merging overlapping or adjacent ones.
    static func merge(_ ranges: [Range<UInt64>], _ new: Range<UInt64>) -> [Range<UInt64>] {
        guard !new.isEmpty else { return ranges }
        var lo = new.lowerBound
        var hi = new.upperBound
        var out: [Range<UInt64>] = []
        var inserted = false
        for r in ranges {
            if r.upperBound < lo {
                out.append(r)
            } else if r.lowerBound > hi {
                if !inserted {
                    out.append(lo..<hi)
                    inserted = true
                }
                out.append(r)
            } else {
                lo = min(lo, r.lowerBound)
                hi = max(hi, r.upperBound)
            }
        }
        if !inserted { out.append(lo..<hi) }
        return out
    }

    private func onSync(_ m: SyncMessage) {
        let grew = remote.withLockedValue { r -> Bool in
            let grew = m.length > r.length
            r.synced = true
            r.length = m.length
            r.fork = m.fork
            r.uploading = m.uploading
            r.hasManifest = m.hasManifest
            return grew
        }
        replicator.peersChanged()
        if grew { replicator.remoteLengthChanged(m.length) }
    }

    private func onRequest(_ payload: [UInt8]) throws {
        let (id, request) = try ProofRequest.decodeRequestMessage(payload, ignoringTrailingBytes: true)
        let identity = log.identity
        do {
            let proof = try log.proof(for: request)
            channel?.send(type: Wire.MessageType.data.rawValue, proof.encodeDataMessage(request: id))
        } catch {
            // Nothing to prove (e.g. a request for the manifest alone, sent while our length is 0): like Hypercore,
            // answer with the manifest when it was asked for and we hold one.
            if request.manifest && identity.mode == .manifest {
                let proof = Proof(fork: log.fork, manifest: identity.manifest)
                channel?.send(type: Wire.MessageType.data.rawValue, proof.encodeDataMessage(request: id))
                return
            }
            send(.noData, NoDataMessage(request: id))
        }
    }

    /// An answer (data message) waiting to be verified and stored.
    struct Answer: Sendable {
        let id: UInt64
        let proof: Proof
        /// The request's upgrade start, for telling a stale upgrade from a lie.
        let upgradeFrom: UInt64?
    }

    /// Answers decoded in this event-loop tick; `endOfTick()` hands them on together. Touched only on the loop.
    private var tickAnswers: [Answer] = []
    private var endOfTickScheduled = false

    /// Answers handed to the verifier, in arrival order, and whether a drain is running on `Replicator.verifier`.
    private struct Inbox {
        var answers: [Answer] = []
        var draining = false
    }
    private let inbox = NIOLockedValueBox(Inbox())

    private func onData(_ frame: [UInt8], offset: Int) throws {
        let (id, proof) = try Proof.decodeDataMessage(frame, from: offset, ignoringTrailingBytes: true)
        guard let pending = replicator.pendingRequest(id, from: self) else { return }  // late or cancelled: ignore
        if !pending.apply {
            _ = replicator.complete(request: id, from: self, with: .success(proof))
            return
        }
        tickAnswers.append(Answer(id: id, proof: proof, upgradeFrom: pending.upgradeFrom))
        if !endOfTickScheduled {
            // Runs after the reads of this loop tick: every answer decoded meanwhile joins the batch.
            endOfTickScheduled = true
            connection.eventLoop.execute { [self] in endOfTick() }
        }
    }

    /// Verifies and stores this tick's answers: on the replicator's verifier thread (so decryption on the event
    /// loop and hashing / storing overlap), or right here when `Replicator.verifyOffLoop` is false.
    private func endOfTick() {
        endOfTickScheduled = false
        guard !tickAnswers.isEmpty else { return }
        let answers = tickAnswers
        tickAnswers = []
        guard replicator.verifyOffLoop else {
            verify(answers)
            return
        }
        let start = inbox.withLockedValue { box -> Bool in
            box.answers.append(contentsOf: answers)
            if box.draining { return false }
            box.draining = true
            return true
        }
        if start {
            // The closure keeps the replicator alive (`replicator` is unowned) until the drain ends.
            let owner = replicator
            owner.verifier.async { [self] in withExtendedLifetime(owner) { drain() } }
        }
    }

    /// On the verifier: verifies batches until the inbox is empty. Answers that arrive meanwhile form the next batch.
    private func drain() {
        while true {
            let answers = inbox.withLockedValue { box -> [Answer] in
                if box.answers.isEmpty { box.draining = false }
                defer { box.answers = [] }
                return box.answers
            }
            if answers.isEmpty { return }
            verify(answers)
        }
    }

    /// Applies answers in order: runs of plain block proofs as one batch (`HyperLog.applyBlocks`: SIMD leaf hashes,
    /// one storage write), others one by one. Completes their requests; a proof that fails verification
    /// disconnects the peer (the other answers, verified independently, are kept).
    private func verify(_ answers: [Answer]) {
        let lengthBefore = log.length
        let results = log.applyBlocks(answers.map(\.proof))
        var failure: Error?
        for (answer, result) in zip(answers, results) {
            switch result {
            case .success:
                _ = replicator.complete(request: answer.id, from: self, with: .success(answer.proof))
            case .failure(let error):
                // A stale upgrade (our length moved since we asked) is not the peer's fault.
                if let from = answer.upgradeFrom, from != lengthBefore || log.length != lengthBefore {
                    _ = replicator.complete(request: answer.id, from: self, with: .failure(error))
                    continue
                }
                failure = failure ?? error
                _ = replicator.complete(
                    request: answer.id, from: self, with: .failure(ReplicationError.peerFailed("\(error)")))
            }
        }
        if let failure {
            let reason = "sent data that failed verification: \(failure)"
            let loop = connection.eventLoop
            if loop.inEventLoop { fail(reason) } else { loop.execute { [self] in fail(reason) } }
        }
    }

    private func onNoData(_ m: NoDataMessage) throws {
        _ = replicator.complete(
            request: m.request, from: self,
            with: .failure(ReplicationError.peerFailed("peer has no data for request \(m.request)")))
    }

    // MARK: sending (hops to the event loop)

    func send<M: CompactEncodable & Sendable>(_ type: Wire.MessageType, _ m: M) {
        let bytes = m.compactEncoded
        onLoop { $0.send(type: type.rawValue, bytes) }
    }

    func onLoop(_ body: @escaping @Sendable (MuxChannel) -> Void) {
        let loop = connection.eventLoop
        if loop.inEventLoop {
            if let ch = channel { body(ch) }
        } else {
            loop.execute { [self] in if let ch = channel { body(ch) } }
        }
    }

    func sendSync() {
        // `hasManifest` as Hypercore sets it: we hold a manifest and are not in compat mode. A reader that knows only
        // the key then asks for the manifest with its first request, without which it cannot verify a signature.
        let m = SyncMessage(
            fork: log.fork, length: log.length, remoteLength: remoteLength, canUpgrade: true, uploading: true,
            downloading: !log.isWritable, hasManifest: log.identity.mode == .manifest)
        let have = log.isWritable ? log.length : log.contiguousLength
        let sync = m.compactEncoded
        let range = RangeMessage(start: 0, length: have).compactEncoded
        // One batch frame, so the remote learns our length and what we hold at the same time.
        onLoop { ch in
            ch.mux?.cork()
            ch.send(type: Wire.MessageType.sync.rawValue, sync)
            if have > 0 { ch.send(type: Wire.MessageType.range.rawValue, range) }
            ch.mux?.uncork()
        }
    }

    func sendRequest(_ request: ProofRequest, id: UInt64) {
        let bytes = request.encodeRequestMessage(id: id)
        onLoop { $0.send(type: Wire.MessageType.request.rawValue, bytes) }
    }

    func close() {
        onLoop { $0.close() }
    }

    /// A protocol violation: log it and drop the whole connection (a lying peer is not trusted on any channel).
    func fail(_ reason: String) {
        logger.notice(
            "disconnecting replication peer",
            metadata: ["reason": "\(reason)", "peer": "\(connection)", "log": "\(log.discoveryKey.hex.prefix(16))"])
        connection.failure = .protomux(.malformed(reason))
        connection.close()
    }
}

struct ProtocolViolation: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
