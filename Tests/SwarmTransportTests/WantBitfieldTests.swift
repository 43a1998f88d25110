import CompactEncoding
import HyperCrypto
import HyperLog
import TestSupport
import Testing

@testable import SwarmTransport

/// Writer W, sparse holder S (fetched `picked` from W), reader R connected only to S.
private struct Trio {
    let writer: HyperLog
    let holder: HyperLog
    let reader: HyperLog
    let sRep: Replicator
    let rRep: Replicator
    let nodes: [SwarmNode]
    let picked: Set<UInt64>

    static let blocks = 3_000

    static func make(seed: UInt64) async throws -> Trio {
        let writer = try makeWriter(blocks)
        let holder = try makeReplica(of: writer)
        let reader = try makeReplica(of: writer)
        let wHub = ReplicationHub()
        wHub.add(writer)
        let sHub = ReplicationHub()
        let sRep = sHub.add(holder)
        let rHub = ReplicationHub()
        let rRep = rHub.add(reader, requestTimeout: .seconds(5))
        let w = replicatingNode(wHub)
        let s = replicatingNode(sHub)
        let r = replicatingNode(rHub)
        let wAddr = try await w.listen()
        let sAddr = try await s.listen()
        _ = try await s.connect(to: wAddr)
        #expect(await eventually { sRep.peerCount == 1 && holder.length == UInt64(blocks) })
        var rng = SeededGenerator(seed: seed)
        var picked = Set<UInt64>()
        // Above block 0, so the holder has no contiguous prefix to announce with `range`.
        while picked.count < 10 { picked.insert(UInt64.random(in: 1..<UInt64(blocks), using: &rng)) }
        for i in picked { _ = try await sRep.get(i) }
        _ = try await r.connect(to: sAddr)
        #expect(await eventually { rRep.peerCount == 1 && reader.length == UInt64(blocks) })
        return Trio(
            writer: writer, holder: holder, reader: reader, sRep: sRep, rRep: rRep, nodes: [r, s, w], picked: picked)
    }

    /// R's channel to S.
    var readerPeer: ReplicationPeer { rRep.state.withLockedValue { Array($0.peers.values) }[0] }
    /// S's channels (to W and to R).
    var holderPeers: [ReplicationPeer] { sRep.state.withLockedValue { Array($0.peers.values) } }

    /// The words of page 0 holding exactly `held`, built bit by bit.
    static func expectedWords(_ held: Set<UInt64>) -> [UInt32] {
        var words = [UInt32](repeating: 0, count: Bitfield.wordsPerPage)
        for i in held { words[Int(i / 32)] |= 1 << UInt32(i % 32) }
        return words
    }

    func shutdown() async {
        for n in nodes { await n.shutdown() }
    }
}

@Suite("want / unwant / bitfield between a reader and a sparse holder", .timeLimit(.minutes(2)))
struct WantBitfieldTests {
    @Test("a reader gets blocks a sparse holder has via want -> bitfield -> request, and holds exactly those")
    func getViaBitfield() async throws {
        let t = try await Trio.make(seed: 7)
        #expect(t.holder.bitfield.count(0, t.holder.length) == 10)
        #expect(t.holder.contiguousLength == 0)
        // Before any want, R knows nothing of S's sparse holdings.
        for i in t.picked { #expect(!t.readerPeer.remoteHas(i)) }
        for i in t.picked.sorted() { #expect(try await t.rRep.get(i) == Array("block-\(i)".utf8)) }
        #expect(t.readerPeer.wantState.wantsSent == 1)  // one segment covers the whole log
        #expect(t.readerPeer.wantState.answeredSegments == [0])
        #expect(t.rRep.requestsSent >= 10)
        #expect(t.reader.bitfield.count(0, t.reader.length) == 10)
        #expect(try t.reader.verify() == 10)
        let answered = t.holderPeers.map(\.wantState.wantsAnswered).reduce(0, +)
        #expect(answered == 1)
        await t.shutdown()
    }

    @Test("a block the holder lacks fails with noPeerHas after its bitfield answers, without a hang")
    func missingBlockFails() async throws {
        let t = try await Trio.make(seed: 8)
        let missing = (1..<UInt64(Trio.blocks)).first { !t.picked.contains($0) }!
        let started = ContinuousClock.now
        await #expect(throws: ReplicationError.noPeerHas(index: missing)) { try await t.rRep.get(missing) }
        // Answered by the bitfield, not by waiting out the 5 s request timeout.
        #expect(ContinuousClock.now - started < .seconds(4))
        #expect(t.readerPeer.wantState.answeredSegments == [0])
        #expect(!t.reader.has(missing))
        // The channel is still usable.
        let held = t.picked.min()!
        #expect(try await t.rRep.get(held) == Array("block-\(held)".utf8))
        await t.shutdown()
    }

    @Test("the bitfield the holder sends is exactly its holdings, bit for bit and byte for byte")
    func bitfieldBytes() async throws {
        let t = try await Trio.make(seed: 9)
        let expected = Trio.expectedWords(t.picked)
        #expect(t.holder.bitfield.words(page: 0) == expected)
        t.readerPeer.want(segment: 0)
        #expect(await eventually { t.readerPeer.segmentAnswered(0) })
        let received = try #require(t.readerPeer.remote.withLockedValue { $0.bitfield[0] })
        #expect(received == expected)
        #expect(
            BitfieldMessage(start: 0, bitfield: received).compactEncoded
                == BitfieldMessage(start: 0, bitfield: expected).compactEncoded)
        for i in 0..<UInt64(Trio.blocks) { #expect(t.readerPeer.remoteHas(i) == t.picked.contains(i)) }
        await t.shutdown()
    }

    @Test("malformed wants (huge, unaligned, beyond the length, empty) are clamped or rejected, never a crash")
    func malformedWants() async throws {
        let t = try await Trio.make(seed: 10)
        let r = t.readerPeer
        r.sendWant(RangeRef(start: 1_234, length: 3))  // unaligned: its page (0) is answered
        r.sendWant(RangeRef(start: 0, length: .max))  // huge: answered up to the log length (page 0)
        r.sendWant(RangeRef(start: 2_000, length: 5))  // inside the huge one: accepted, nothing new to send
        r.sendWant(RangeRef(start: 1_000_000, length: 10))  // beyond our length: rejected
        r.sendWant(RangeRef(start: .max, length: .max))  // beyond, and overflowing: rejected
        r.sendWant(RangeRef(start: 5, length: 0))  // empty: rejected
        let holderSide = { t.holderPeers.map(\.wantState) }
        #expect(
            await eventually {
                holderSide().map(\.wantsRejected).reduce(0, +) == 3
                    && holderSide().map(\.wantsAnswered).reduce(0, +) == 3
            })
        #expect(holderSide().map(\.bitfieldsSent).reduce(0, +) == 2)
        #expect(await eventually { r.segmentAnswered(0) })
        #expect(r.remote.withLockedValue { $0.bitfield.keys.sorted() } == [0])
        // Nobody was disconnected, and the reader still gets a held block.
        #expect(t.rRep.peerCount == 1 && t.sRep.peerCount == 2)
        let held = t.picked.max()!
        #expect(try await t.rRep.get(held) == Array("block-\(held)".utf8))
        await t.shutdown()
    }

    @Test("blocks the holder stores later inside a want are announced to the reader without polling, batched")
    func liveAnnouncements() async throws {
        let t = try await Trio.make(seed: 11)
        let first = t.picked.min()!
        _ = try await t.rRep.get(first)  // R wants page 0 and keeps wanting it
        let (sentBefore, wantsBefore) = (t.rRep.requestsSent, t.readerPeer.wantState.wantsSent)
        let fresh = (UInt64(2_000)..<2_020).filter { !t.picked.contains($0) }
        for i in fresh { #expect(!t.readerPeer.remoteHas(i)) }
        try await t.sRep.download(2_000..<2_020)
        #expect(await eventually { fresh.allSatisfy { t.readerPeer.remoteHas($0) } })
        // R sent nothing meanwhile: the holder pushed the news.
        #expect(t.rRep.requestsSent == sentBefore)
        #expect(t.readerPeer.wantState.wantsSent == wantsBefore)
        let announcements = t.holderPeers.map(\.wantState.announcementsSent).reduce(0, +)
        #expect(
            announcements >= 1 && announcements < fresh.count, "\(announcements) messages for \(fresh.count) blocks")
        // And R fetches one of them from S with no further want.
        #expect(try await t.rRep.get(fresh[3]) == Array("block-\(fresh[3])".utf8))
        #expect(t.readerPeer.wantState.wantsSent == wantsBefore)
        await t.shutdown()
    }

    @Test("unwant withdraws a want: later blocks are no longer announced")
    func unwantStopsAnnouncements() async throws {
        let t = try await Trio.make(seed: 12)
        t.readerPeer.want(segment: 0)
        #expect(await eventually { t.readerPeer.segmentAnswered(0) })
        t.readerPeer.send(.unwant, RangeRef(start: 0, length: ReplicationPeer.segmentBits))
        #expect(await eventually { t.holderPeers.allSatisfy { $0.remote.withLockedValue { $0.wants.isEmpty } } })
        try await t.sRep.download(2_500..<2_510)
        try await Task.sleep(for: .milliseconds(100))  // longer than the announce delay, bounded
        #expect(t.holderPeers.map(\.wantState.announcementsSent).reduce(0, +) == 0)
        await t.shutdown()
    }

    @Test("download of a run the sparse holder has: many concurrent fetches share one want")
    func downloadThroughSparseHolder() async throws {
        let t = try await Trio.make(seed: 15)
        try await t.sRep.download(100..<150)
        try await t.rRep.download(100..<150)
        #expect(t.readerPeer.wantState.wantsSent == 1)
        #expect(t.reader.bitfield.count(0, t.reader.length) == 50)
        #expect(try t.reader.verify() == 50)
        await t.shutdown()
    }

    @Test("two sparse holders: the reader wants the segment from both and requests each block from the one that has it")
    func twoSparseHolders() async throws {
        let writer = try makeWriter(1_000)
        let wHub = ReplicationHub()
        wHub.add(writer)
        let w = replicatingNode(wHub)
        let wAddr = try await w.listen()
        var nodes = [w]
        var holders: [(Replicator, SwarmNode)] = []
        for held in [[100, 101, 102], [500, 900]] as [[UInt64]] {
            let hub = ReplicationHub()
            let rep = hub.add(try makeReplica(of: writer))
            let node = replicatingNode(hub)
            _ = try await node.connect(to: wAddr)
            #expect(await eventually { rep.peerCount == 1 && rep.log.length == 1_000 })
            for i in held { _ = try await rep.get(i) }
            holders.append((rep, node))
            nodes.append(node)
        }
        let reader = try makeReplica(of: writer)
        let rHub = ReplicationHub()
        let rRep = rHub.add(reader, requestTimeout: .seconds(5))
        let r = replicatingNode(rHub)
        nodes.append(r)
        for (_, node) in holders { _ = try await r.connect(to: try await node.listen()) }
        #expect(await eventually { rRep.peerCount == 2 && reader.length == 1_000 })
        for i: UInt64 in [900, 101, 500, 100] { #expect(try await rRep.get(i) == Array("block-\(i)".utf8)) }
        let peers = rRep.state.withLockedValue { Array($0.peers.values) }
        #expect(peers.map(\.wantState.wantsSent) == [1, 1])  // segment 0, once per peer
        await #expect(throws: ReplicationError.noPeerHas(index: 300)) { try await rRep.get(300) }
        #expect(reader.bitfield.count(0, 1_000) == 4)
        for n in nodes.reversed() { await n.shutdown() }
    }

    @Test("a peer whose range already covers the block is asked directly: no want, one request")
    func noWantForContiguousHolder() async throws {
        let writer = try makeWriter(500)
        let reader = try makeReplica(of: writer)
        let wHub = ReplicationHub()
        wHub.add(writer)
        let rHub = ReplicationHub()
        let rep = rHub.add(reader)
        let w = replicatingNode(wHub)
        let r = replicatingNode(rHub)
        _ = try await r.connect(to: try await w.listen())
        #expect(await eventually { rep.peerCount == 1 && reader.length == 500 })
        let sentBefore = rep.requestsSent
        #expect(try await rep.get(321) == Array("block-321".utf8))
        #expect(rep.requestsSent == sentBefore + 1)
        let peer = rep.state.withLockedValue { Array($0.peers.values) }[0]
        #expect(peer.wantState.wantsSent == 0)
        await r.shutdown()
        await w.shutdown()
    }

    @Test("a reader wanting more than its segment budget withdraws the least recently wanted one with unwant")
    func evictionSendsUnwant() async throws {
        let t = try await Trio.make(seed: 13)
        let r = t.readerPeer
        r.want(segment: 0)
        #expect(await eventually { r.segmentAnswered(0) })
        let holderWants = { t.holderPeers.flatMap { $0.remote.withLockedValue { $0.wants } } }
        #expect(holderWants() == [0..<ReplicationPeer.segmentBits])
        #expect(r.remote.withLockedValue { $0.bitfield.keys.sorted() } == [0])
        // Segments beyond the holder's length: each is rejected there, but counts against our budget.
        let budget = ReplicationPeer.maxWantedSegments
        for segment in 1...UInt64(budget) { r.want(segment: segment) }
        #expect(r.wantState.wantsSent == budget + 1)
        #expect(r.wantState.unwantsSent == 1)
        #expect(r.wantState.wantedSegments.count == budget)
        #expect(!r.wantState.wantedSegments.contains(0) && !r.segmentAnswered(0))
        // The withdrawn segment's pages are forgotten with it.
        #expect(r.remote.withLockedValue { $0.bitfield.isEmpty })
        #expect(await eventually { holderWants().isEmpty })
        #expect(
            await eventually { t.holderPeers.map(\.wantState.wantsRejected).reduce(0, +) == budget })
        #expect(t.rRep.peerCount == 1)
        await t.shutdown()
    }

    @Test("a bitfield spanning two pages is split; an unaligned one disconnects its sender")
    func receivedBitfields() async throws {
        let t = try await Trio.make(seed: 14)
        let r = t.readerPeer
        var words = [UInt32](repeating: 0, count: 2 * Bitfield.wordsPerPage)
        words[1] = 0b100  // block 34
        words[Bitfield.wordsPerPage] = 1  // block 32,768
        r.send(.bitfield, BitfieldMessage(start: 0, bitfield: words))
        let fromReader = { t.holderPeers.first { $0.remote.withLockedValue { $0.bitfield[1] != nil } } }
        #expect(await eventually { fromReader() != nil })
        let seen = try #require(fromReader())
        #expect(seen.remote.withLockedValue { $0.bitfield.keys.sorted() } == [0, 1])
        #expect(seen.segmentAnswered(0) && !seen.segmentAnswered(1))
        #expect(seen.remote.withLockedValue { $0.bitfield[1]?.count } == Bitfield.wordsPerPage)
        r.send(.bitfield, BitfieldMessage(start: 5, bitfield: [1]))
        #expect(await eventually { t.rRep.peerCount == 0 && t.sRep.peerCount == 1 })
        await t.shutdown()
    }

    @Test("want clamping: zero, beyond length, overflow; no cap on the wanted range")
    func clamping() {
        let page = Bitfield.pageBits
        #expect(ReplicationPeer.clampWant(RangeRef(start: 0, length: 0), length: 10) == .failure(.empty))
        #expect(
            ReplicationPeer.clampWant(RangeRef(start: 10, length: 1), length: 10)
                == .failure(.beyondLength(start: 10, length: 10)))
        #expect(ReplicationPeer.clampWant(RangeRef(start: 3, length: 4), length: 10) == .success(3..<7))
        #expect(ReplicationPeer.clampWant(RangeRef(start: 0, length: .max), length: 10) == .success(0..<UInt64.max))
        let segment = ReplicationPeer.segmentBits
        #expect(
            ReplicationPeer.clampWant(RangeRef(start: page + 5, length: segment), length: 100 * page)
                == .success((page + 5)..<(page + 5 + segment)))
        let nearEnd = UInt64.max - 3
        guard case .success(let r) = ReplicationPeer.clampWant(RangeRef(start: nearEnd, length: 10), length: .max)
        else {
            Issue.record("a want near UInt64.max must be clamped, not rejected")
            return
        }
        #expect(r.lowerBound == nearEnd && r.upperBound <= .max)
    }

    @Test("announcements: a range per run, or the page's bitfield when a page has many runs")
    func announcementMessages() throws {
        let page = Bitfield.pageBits
        var held = Bitfield()
        let scattered = (0..<40).map { page + 100 + 2 * UInt64($0) }  // 40 runs in page 1
        for i in scattered + [7, 8, 9] { held.set(i, true) }
        let messages = ReplicationPeer.announcements(of: [9, 7, 8] + scattered, holding: held)
        #expect(messages.map(\.0) == [.range, .bitfield])
        #expect(try RangeMessage(compactEncoded: messages[0].1) == RangeMessage(start: 7, length: 3))
        let bitfield = try BitfieldMessage(compactEncoded: messages[1].1)
        #expect(bitfield.start == page && bitfield.bitfield == held.words(page: 1))
        let single = ReplicationPeer.announcements(of: [42], holding: held)
        #expect(single.count == 1)
        #expect(try RangeMessage(compactEncoded: single[0].1) == RangeMessage(start: 42, length: 1))
    }

    @Test("new blocks group into runs split at page boundaries")
    func runs() {
        let page = Bitfield.pageBits
        let grouped = ReplicationPeer.runsByPage([5, 3, 4, 9, page - 1, page, page + 1, 4])
        #expect(grouped.map(\.page) == [0, 1])
        #expect(grouped[0].runs == [3..<6, 9..<10, (page - 1)..<page])
        #expect(grouped[1].runs == [page..<(page + 2)])
    }
}
