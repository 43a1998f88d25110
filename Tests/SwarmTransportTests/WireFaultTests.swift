import CompactEncoding
import HyperCrypto
import HyperLog
import TestSupport
import Testing

@testable import SwarmTransport

/// The three wire faults of issue 16 (manifest flag, whole-segment wants, trailing fields) and range drops,
/// in process. The same behaviours are checked against real JavaScript peers in `Tests/interop`.
@Suite("hypercore/alpha: manifests, segment wants, trailing fields, drops", .timeLimit(.minutes(2)))
struct WireFaultTests {
    /// Writer and reader connected over loopback; the reader knows only the key when `keyOnly`.
    struct Pair {
        let writer: HyperLog
        let reader: HyperLog
        let wRep: Replicator
        let rRep: Replicator
        let nodes: [SwarmNode]
        var readerPeer: ReplicationPeer { rRep.state.withLockedValue { Array($0.peers.values) }[0] }
        var writerPeer: ReplicationPeer { wRep.state.withLockedValue { Array($0.peers.values) }[0] }

        static func make(writer: HyperLog, keyOnly: Bool, live: Bool = true) async throws -> Pair {
            let reader =
                keyOnly
                ? try HyperLog.replica(in: MemoryLogStorage(), key: writer.key) : try makeReplica(of: writer)
            let wHub = ReplicationHub()
            let wRep = wHub.add(writer)
            let rHub = ReplicationHub()
            let rRep = rHub.add(reader, live: live, requestTimeout: .seconds(5))
            let w = replicatingNode(wHub)
            let r = replicatingNode(rHub)
            _ = try await r.connect(to: try await w.listen())
            #expect(await eventually { rRep.peerCount == 1 && wRep.peerCount == 1 })
            return Pair(writer: writer, reader: reader, wRep: wRep, rRep: rRep, nodes: [r, w])
        }

        func shutdown() async {
            for n in nodes { await n.shutdown() }
        }
    }

    @Test("a manifest-mode writer says hasManifest; a reader that knows only the key gets the manifest and verifies")
    func manifestFromKeyOnly() async throws {
        let writer = try makeWriter(50)
        #expect(writer.identity.mode == .manifest)
        let t = try await Pair.make(writer: writer, keyOnly: true, live: false)
        #expect(t.reader.identity.mode == .compat)  // no manifest yet
        #expect(await eventually { t.readerPeer.remoteHasManifest })
        #expect(t.rRep.needsManifest(from: t.readerPeer))
        #expect(try await t.rRep.update() == 50)
        #expect(t.reader.identity.mode == .manifest && t.reader.identity.manifest == writer.identity.manifest)
        #expect(!t.rRep.needsManifest(from: t.readerPeer))
        #expect(try await t.rRep.get(17) == Array("block-17".utf8))
        // The reader now holds the manifest too, so it says so in its own sync.
        #expect(await eventually { t.writerPeer.remoteHasManifest })
        await t.shutdown()
    }

    @Test("a compat writer does not claim a manifest, and its reader never asks for one")
    func compatHasNoManifestFlag() async throws {
        let writer = try HyperLog.create(
            in: MemoryLogStorage(), keyPair: try Ed25519KeyPair(seed: [UInt8](repeating: 9, count: 32)), mode: .compat)
        _ = try writer.append([Array("a".utf8), Array("b".utf8)])
        let t = try await Pair.make(writer: writer, keyOnly: true)
        #expect(try await t.rRep.update() == 2)
        #expect(!t.readerPeer.remoteHasManifest)
        #expect(!t.rRep.needsManifest(from: t.readerPeer))
        #expect(try await t.rRep.get(1) == Array("b".utf8))
        await t.shutdown()
    }

    @Test("a request for the manifest alone is answered with the manifest, as Hypercore does")
    func manifestOnlyRequest() async throws {
        let writer = try makeWriter(3)
        let t = try await Pair.make(writer: writer, keyOnly: true)
        let proof = try await t.rRep.forward(ProofRequest(fork: 0, manifest: true))
        #expect(proof.manifest == writer.identity.manifest)
        #expect(proof.block == nil && proof.upgrade == nil)
        await t.shutdown()
    }

    @Test("every message decoder ignores unknown trailing fields; Hypercore 11 noData reason and want any decode")
    func trailingFieldsDecode() throws {
        let extra: [UInt8] = [0x07, 0x2A, 0x00]
        let sync = SyncMessage(fork: 1, length: 9, remoteLength: 3, hasManifest: true)
        #expect(try Wire.decode(SyncMessage.self, sync.compactEncoded + extra) == sync)
        let hs = WireHandshake(capability: [UInt8](repeating: 5, count: 32))
        #expect(try Wire.decode(WireHandshake.self, hs.compactEncoded + extra) == hs)
        #expect(try Wire.decode(RequestRef.self, [0x04] + extra) == RequestRef(request: 4))
        let bf = BitfieldMessage(start: 32768, bitfield: [1, 2, 3])
        #expect(try Wire.decode(BitfieldMessage.self, bf.compactEncoded + extra) == bf)
        let range = RangeMessage(drop: true, start: 5, length: 9)
        #expect(try Wire.decode(RangeMessage.self, range.compactEncoded + extra) == range)
        // Hypercore 11 noData: request 2, flags 1, reason 1 (not available).
        #expect(try Wire.decode(NoDataMessage.self, [0x02, 0x01, 0x01]) == NoDataMessage(request: 2, reason: 1))
        #expect(try Wire.decode(NoDataMessage.self, [0x02]) == NoDataMessage(request: 2))
        #expect(NoDataMessage(request: 2, reason: 1).compactEncoded == [0x02, 0x01, 0x01])
        #expect(NoDataMessage(request: 2).compactEncoded == [0x02])
        // Hypercore 11 want / unwant: start, length, flags (any = 1) only when not zero.
        #expect(try Wire.decode(RangeRef.self, [0x00, 0x05, 0x01]) == RangeRef(start: 0, length: 5, any: true))
        #expect(try Wire.decode(RangeRef.self, [0x00, 0x05, 0x01] + extra) == RangeRef(start: 0, length: 5, any: true))
        #expect(RangeRef(start: 0, length: 5, any: true).compactEncoded == [0x00, 0x05, 0x01])
        #expect(RangeRef(start: 0, length: 5).compactEncoded == [0x00, 0x05])
        // request and data (HyperLog's codec) on the wire path.
        let q = ProofRequest(fork: 0, block: .init(index: 3, nodes: 2), manifest: true)
        let (id, back) = try ProofRequest.decodeRequestMessage(
            q.encodeRequestMessage(id: 7) + extra, ignoringTrailingBytes: true)
        #expect(id == 7 && back == q)
        #expect(throws: HyperLogError.self) {
            try ProofRequest.decodeRequestMessage(q.encodeRequestMessage(id: 7) + extra)
        }
        let p = Proof(fork: 0, block: .init(index: 1, value: [1, 2], nodes: []))
        let (pid, pback) = try Proof.decodeDataMessage(
            p.encodeDataMessage(request: 3) + extra, from: 0, ignoringTrailingBytes: true)
        #expect(pid == 3 && pback == p)
        // A truncated body still throws.
        #expect(throws: (any Error).self) { try Wire.decode(SyncMessage.self, [0x03, 0x00]) }
    }

    @Test("Hypercore 11 messages with trailing fields keep the connection; want any is answered with one range")
    func trailingFieldsLive() async throws {
        let writer = try makeWriter(40)
        let t = try await Pair.make(writer: writer, keyOnly: false)
        let peer = t.readerPeer
        _ = try await t.rRep.update()
        // noData reason (for a request the writer never sent), cancel, want/unwant any, sync with a trailing field.
        peer.onLoop { ch in
            ch.send(type: Wire.MessageType.noData.rawValue, [0x02, 0x01, 0x01])
            ch.send(type: Wire.MessageType.cancel.rawValue, [0x09, 0x00])
            ch.send(type: Wire.MessageType.unwant.rawValue, [0x00, 0x05, 0x01, 0x00])
        }
        peer.send(.want, RangeRef(start: 10, length: 20, any: true))
        #expect(await eventually { t.writerPeer.wantState.wantsAnswered == 1 })
        #expect(t.wRep.peerCount == 1 && t.rRep.peerCount == 1)
        #expect(try await t.rRep.get(33) == Array("block-33".utf8))
        await t.shutdown()
    }

    @Test("a range drop clears only the dropped blocks from the remote's announced holdings")
    func dropClearsOnlyDropped() async throws {
        let writer = try makeWriter(200)
        let t = try await Pair.make(writer: writer, keyOnly: false)
        #expect(await eventually { t.readerPeer.remoteHas(199) })
        // Bits in a bitfield page too (blocks 150..<160 as a page), then drop 10..<15 and 152..<154.
        t.readerPeer.remote.withLockedValue { r in
            r.ranges = [0..<100]
            var words = [UInt32](repeating: 0, count: Bitfield.wordsPerPage)
            for i in 150..<160 { words[i / 32] |= 1 << UInt32(i % 32) }
            r.bitfield[0] = words
        }
        t.writerPeer.send(.range, RangeMessage(drop: true, start: 10, length: 5))
        t.writerPeer.send(.range, RangeMessage(drop: true, start: 152, length: 2))
        #expect(await eventually { !t.readerPeer.remoteHas(152) })
        for i: UInt64 in [0, 9, 15, 99, 150, 151, 154, 159] { #expect(t.readerPeer.remoteHas(i), "block \(i)") }
        for i: UInt64 in [10, 14, 152, 153, 100] { #expect(!t.readerPeer.remoteHas(i), "block \(i)") }
        #expect(ReplicationPeer.subtract([0..<10, 20..<30], 5..<25) == [0..<5, 25..<30])
        #expect(ReplicationPeer.subtract([0..<10], 0..<10) == [])
        #expect(ReplicationPeer.subtract([0..<10], 20..<30) == [0..<10])
        await t.shutdown()
    }

    @Test("queued want answers are merged and bounded without dropping any wanted block")
    func answerQueueBound() {
        var q: [Range<UInt64>] = []
        let cap = ReplicationPeer.maxPendingAnswers
        // Disjoint wants, the gap before the last one the smallest.
        for i in 0..<UInt64(cap) { q = ReplicationPeer.enqueue(q, (i * 1_000)..<(i * 1_000 + 10)) }
        #expect(q.count == cap)
        q = ReplicationPeer.enqueue(q, 63_015..<63_020)  // 5 blocks after the last: the closest pair is joined
        #expect(q.count == cap)
        #expect(q.last == 63_000..<63_020)
        for i in 0..<UInt64(cap) { #expect(q.contains { $0.contains(i * 1_000) && $0.contains(i * 1_000 + 9) }) }
        // Overlapping and adjacent wants merge.
        #expect(ReplicationPeer.enqueue([0..<10, 20..<30], 5..<25) == [0..<30])
        #expect(ReplicationPeer.enqueue([0..<10], 10..<12) == [0..<12])
    }

    @Test("a whole-segment want is answered over the whole segment, one message per segment, skipping empty ones")
    func segmentAnswers() {
        let seg = ReplicationPeer.segmentBits
        var held = Bitfield()
        for i: UInt64 in [3, 1_000_000, 2_000_000, seg + 5, 3 * seg + 7] { held.set(i, true) }
        let first = ReplicationPeer.segmentAnswer(held, 0..<seg)!
        #expect(first.start == 0)
        let lastPage = 2_000_000 / Bitfield.pageBits
        #expect(first.bitfield.count == Int(lastPage + 1) * Bitfield.wordsPerPage)
        var seen = Set<UInt64>()
        for (k, w) in first.bitfield.enumerated() where w != 0 {
            for b in 0..<32 where w & (1 << UInt32(b)) != 0 { seen.insert(first.start + UInt64(k * 32 + b)) }
        }
        #expect(seen == [3, 1_000_000, 2_000_000])  // 1,000,000 lies far past the old 16-page cap
        let second = ReplicationPeer.segmentAnswer(held, seg..<(2 * seg))!
        #expect(second.start == seg && second.bitfield.count == Bitfield.wordsPerPage)
        #expect(ReplicationPeer.segmentAnswer(held, (2 * seg)..<(3 * seg)) == nil)
        #expect(ReplicationPeer.firstSet(held, in: 4..<seg) == 1_000_000)
        #expect(ReplicationPeer.firstSet(held, in: (2 * seg)..<(3 * seg)) == nil)
        #expect(ReplicationPeer.firstSet(held, in: (3 * seg + 7)..<(3 * seg + 8)) == 3 * seg + 7)
        // The largest message is one segment: 64 pages.
        var full = Bitfield()
        full.setRange(0, seg, true)
        #expect(
            ReplicationPeer.segmentAnswer(full, 0..<seg)!.bitfield.count == ReplicationPeer.maxPagesPerBitfield * 1024)
    }
}
