import CompactEncoding
import HyperLog
import Logging
import NIOCore

/// Want / unwant / bitfield on a `hypercore/alpha` channel.
///
/// Holder side: a remote's `want {start, length}` is answered over the whole wanted range (up to our length): one
/// `bitfield` message per Hypercore segment (2,097,152 blocks, 64 pages of 32,768) that holds any of our blocks there,
/// covering the segment's wanted pages from its first to its last page holding a block (page-aligned, 1024
/// little-endian `UInt32` words a page), as JavaScript holders send one message per segment. A want whose range holds
/// nothing of ours is answered with the zero words of its first page, so the reader stops waiting. When the range
/// lies inside what we hold contiguously, one `range {0, contiguous}` says it all (as Hypercore does); with the
/// Hypercore 11 `any` flag, one `range` naming the first block we hold there. Answers are queued (at most
/// `maxPendingAnswers` ranges, merged) and sent a segment at a time while the connection's outbound buffer is under
/// its high watermark, so a large or repeated want costs at most one segment message (256 KiB) of memory beyond the
/// buffer and no part of the answer is dropped. The want is remembered (bounded), and blocks we store later inside it
/// are announced in batches (`range` runs, or the whole page when a page has many runs). `unwant` forgets it.
///
/// Reader side: a block no peer is known to have makes the replicator send `want` for its whole segment (as a
/// JavaScript reader does) to peers that have not answered that segment yet (`ReplicationPeer.want(segment:)`); their
/// bitfields wake the waiting request. Each peer keeps at most `maxWantedSegments` segments wanted; the least recently
/// wanted one is withdrawn with `unwant` and its remote bitfield pages are forgotten.
struct WantState {
    // Holder side.
    /// Blocks stored inside a remote's want, not announced yet.
    var unannounced: [UInt64] = []
    var flushScheduled = false
    /// Wanted ranges not fully answered yet (sorted, disjoint), and whether a send loop is running.
    var pendingAnswers: [Range<UInt64>] = []
    var answering = false
    /// Counters (tests and diagnostics).
    var wantsAnswered = 0
    var wantsRejected = 0
    var bitfieldsSent = 0
    var announcementsSent = 0
    // Reader side.
    /// Segments we sent `want` for, least recently wanted first.
    var wantedSegments: [UInt64] = []
    /// Segments the remote sent a bitfield for since we wanted them.
    var answeredSegments: Set<UInt64> = []
    var wantsSent = 0
    var unwantsSent = 0
    /// Bitfield pages we did not keep because the remote's bitfield was over `maxRemotePages`.
    var pagesIgnored = 0
}

/// Why a `want` was not answered.
enum WantRejection: Error, Equatable, CustomStringConvertible {
    case empty
    case beyondLength(start: UInt64, length: UInt64)

    var description: String {
        switch self {
        case .empty: return "want of zero blocks"
        case .beyondLength(let start, let length): return "want starts at \(start), beyond our length \(length)"
        }
    }
}

extension ReplicationPeer {
    /// Blocks per Hypercore bitfield segment (256 KiB of bits): the unit JavaScript readers want and holders answer.
    static let segmentBits: UInt64 = 2_097_152
    /// Pages per segment.
    static let pagesPerSegment = Int(segmentBits / Bitfield.pageBits)
    /// Remembered wants per remote at most (the oldest is forgotten first).
    static let maxRemoteWants = 256
    /// Queued want answers per remote at most; past it the newest is merged into its neighbour (answering a little
    /// more than asked, never less).
    static let maxPendingAnswers = 64
    /// Segments a reader keeps wanted per peer at most (the least recently wanted is withdrawn with `unwant`).
    static let maxWantedSegments = 16
    /// Remote bitfield pages kept per peer at most (`maxWantedSegments` full segments).
    static let maxRemotePages = maxWantedSegments * pagesPerSegment
    /// Pages a received `bitfield` message may span (Hypercore sends up to a whole segment at once).
    static let maxPagesPerBitfield = pagesPerSegment
    /// Runs of new blocks in one page above which the whole page is announced instead of `range` messages.
    static let maxRunsPerPage = 32
    /// How long newly stored blocks are collected before they are announced.
    static let announceDelay: TimeAmount = .milliseconds(5)

    /// The part of `want` we answer and remember: from `start` to the wanted end, which may lie beyond `length`
    /// (blocks stored there later are announced; the bitfield answer itself stops at `length`).
    static func clampWant(_ want: RangeRef, length: UInt64) -> Result<Range<UInt64>, WantRejection> {
        guard want.length > 0 else { return .failure(.empty) }
        guard want.start < length else { return .failure(.beyondLength(start: want.start, length: length)) }
        let (wantedEnd, overflow) = want.start.addingReportingOverflow(want.length)
        return .success(want.start..<(overflow ? UInt64.max : wantedEnd))
    }

    // MARK: holder side

    func onWant(_ m: RangeRef) {
        let length = log.length
        let wanted: Range<UInt64>
        switch Self.clampWant(m, length: length) {
        case .failure(let why):
            let rejected = remote.withLockedValue { r -> Int in
                r.wire.wantsRejected += 1
                return r.wire.wantsRejected
            }
            // The first few at notice; a peer flooding bad wants does not flood the log.
            logger.log(
                level: rejected <= 10 ? .notice : .debug, "ignoring want",
                metadata: ["reason": "\(why)", "peer": "\(connection)", "log": "\(logTag)"])
            return
        case .success(let r): wanted = r
        }
        let known = remote.withLockedValue { r -> Bool in
            r.wire.wantsAnswered += 1
            if m.any { return false }  // asks for one block, not for a subscription
            if r.wants.contains(where: { $0.lowerBound <= wanted.lowerBound && wanted.upperBound <= $0.upperBound }) {
                return true
            }
            r.wants.append(wanted)
            if r.wants.count > Self.maxRemoteWants { r.wants.removeFirst(r.wants.count - Self.maxRemoteWants) }
            return false
        }
        // Inside a want we already answered: the remote has those pages and hears of changes as they happen.
        if known { return }
        let contiguous = log.isWritable ? length : min(log.contiguousLength, length)
        let answered = wanted.lowerBound..<min(wanted.upperBound, length)
        if answered.upperBound <= contiguous || contiguous == length || (m.any && answered.lowerBound < contiguous) {
            // Everything wanted (that exists) lies in our contiguous prefix: one range says it all.
            send(.range, RangeMessage(start: 0, length: contiguous))
            return
        }
        let bitfield = log.bitfield
        if m.any {
            // Hypercore 11: the first block we hold in the range, if any.
            if let first = Self.firstSet(bitfield, in: answered) { send(.range, RangeMessage(start: first, length: 1)) }
            return
        }
        guard Self.hasBits(bitfield, in: answered) else {
            // Nothing of ours there: say so with the (zero) words of its first page.
            let page = answered.lowerBound / Bitfield.pageBits
            remote.withLockedValue { $0.wire.bitfieldsSent += 1 }
            send(.bitfield, BitfieldMessage(start: page * Bitfield.pageBits, bitfield: bitfield.words(page: page)))
            return
        }
        let start = remote.withLockedValue { r -> Bool in
            r.wire.pendingAnswers = Self.enqueue(r.wire.pendingAnswers, answered)
            if r.wire.answering { return false }
            r.wire.answering = true
            return true
        }
        if start { onLoop { [self] _ in sendPendingAnswers() } }
    }

    /// Adds `range` to the sorted, disjoint queue of ranges still to answer, merging overlaps; past
    /// `maxPendingAnswers` ranges the two closest neighbours are joined (the answer covers a little more, never less).
    static func enqueue(_ queue: [Range<UInt64>], _ range: Range<UInt64>) -> [Range<UInt64>] {
        var q = merge(queue, range)
        while q.count > maxPendingAnswers {
            let k = (1..<q.count).min {
                q[$0].lowerBound - q[$0 - 1].upperBound < q[$1].lowerBound - q[$1 - 1].upperBound
            }!
            q[k - 1] = q[k - 1].lowerBound..<q[k].upperBound
            q.remove(at: k)
        }
        return q
    }

    /// Sends queued want answers, one segment message at a time while the outbound buffer has room; resumes when it
    /// drains. On the event loop.
    private func sendPendingAnswers() {
        while true {
            guard channel != nil, connection.isActive else {
                remote.withLockedValue { $0.wire.answering = false }
                return
            }
            guard connection.isWritable else {
                let owner = replicator  // `replicator` is unowned: keep it alive until the send resumes
                connection.whenWritable { [weak self] in withExtendedLifetime(owner) { self?.sendPendingAnswers() } }
                return
            }
            let next = remote.withLockedValue { r -> Range<UInt64>? in
                guard let first = r.wire.pendingAnswers.first else {
                    r.wire.answering = false
                    return nil
                }
                // This segment's part now; the rest stays queued.
                let segmentEnd = (first.lowerBound / Self.segmentBits + 1).multipliedReportingOverflow(
                    by: Self.segmentBits)
                let end = segmentEnd.overflow ? first.upperBound : min(first.upperBound, segmentEnd.partialValue)
                if end >= first.upperBound {
                    r.wire.pendingAnswers.removeFirst()
                } else {
                    r.wire.pendingAnswers[0] = end..<first.upperBound
                }
                return first.lowerBound..<end
            }
            guard let part = next else { return }
            // The log may have shrunk (truncated) since the want was queued.
            let end = min(part.upperBound, log.length)
            guard end > part.lowerBound, let m = Self.segmentAnswer(log.bitfield, part.lowerBound..<end) else {
                continue
            }
            remote.withLockedValue { $0.wire.bitfieldsSent += 1 }
            channel?.send(type: Wire.MessageType.bitfield.rawValue, m.compactEncoded)
        }
    }

    /// The bitfield message answering `range` (inside one segment): the pages from the first to the last holding a
    /// block; nil when none does.
    static func segmentAnswer(_ bitfield: Bitfield, _ range: Range<UInt64>) -> BitfieldMessage? {
        let firstPage = range.lowerBound / Bitfield.pageBits
        let lastPage = (range.upperBound - 1) / Bitfield.pageBits
        let held = bitfield.pageNumbers.filter { $0 >= firstPage && $0 <= lastPage }
        guard let lo = held.first, let hi = held.last else { return nil }
        var words: [UInt32] = []
        words.reserveCapacity(Int(hi - lo + 1) * Bitfield.wordsPerPage)
        for page in lo...hi { words += bitfield.words(page: page) }
        return BitfieldMessage(start: lo * Bitfield.pageBits, bitfield: words)
    }

    /// Whether `bitfield` has a set bit in `range`.
    static func hasBits(_ bitfield: Bitfield, in range: Range<UInt64>) -> Bool {
        firstSet(bitfield, in: range) != nil
    }

    /// The first set bit of `bitfield` in `range`, visiting only the pages that hold bits.
    static func firstSet(_ bitfield: Bitfield, in range: Range<UInt64>) -> UInt64? {
        guard !range.isEmpty else { return nil }
        let firstPage = range.lowerBound / Bitfield.pageBits
        let lastPage = (range.upperBound - 1) / Bitfield.pageBits
        for page in bitfield.pageNumbers where page >= firstPage && page <= lastPage {
            let words = bitfield.words(page: page)
            let base = page * Bitfield.pageBits
            for (k, word) in words.enumerated() where word != 0 {
                var w = word
                while w != 0 {
                    let i = base + UInt64(k * 32 + w.trailingZeroBitCount)
                    if i >= range.upperBound { return nil }
                    if i >= range.lowerBound { return i }
                    w &= w - 1
                }
            }
        }
        return nil
    }

    func onUnwant(_ m: RangeRef) {
        let (end, overflow) = m.start.addingReportingOverflow(m.length)
        let withdrawn = m.start..<(overflow ? UInt64.max : end)
        remote.withLockedValue { r in
            r.wants.removeAll { withdrawn.lowerBound <= $0.lowerBound && $0.upperBound <= withdrawn.upperBound }
        }
    }

    /// We stored block `index` (from any source): announce it soon if the remote wants it.
    func noteStored(_ index: UInt64) {
        let schedule = remote.withLockedValue { r -> Bool in
            guard r.open, r.wants.contains(where: { $0.contains(index) }) else { return false }
            r.wire.unannounced.append(index)
            if r.wire.flushScheduled { return false }
            r.wire.flushScheduled = true
            return true
        }
        guard schedule else { return }
        let owner = replicator  // `replicator` is unowned: keep it alive until the flush ran
        connection.eventLoop.scheduleTask(in: Self.announceDelay) { [weak self] in
            withExtendedLifetime(owner) { self?.flushAnnouncements() }
        }
    }

    /// Sends the collected blocks as `range` runs, or a page's bitfield when it has many runs. On the event loop.
    private func flushAnnouncements() {
        let indices = remote.withLockedValue { r -> [UInt64] in
            r.wire.flushScheduled = false
            defer { r.wire.unannounced = [] }
            return r.wire.unannounced
        }
        guard !indices.isEmpty, let ch = channel else { return }
        let messages = Self.announcements(of: indices, holding: log.bitfield)
        remote.withLockedValue { $0.wire.announcementsSent += messages.count }
        ch.mux?.cork()
        for (type, bytes) in messages { ch.send(type: type.rawValue, bytes) }
        ch.mux?.uncork()
    }

    /// The messages announcing newly stored `indices`: a `range` per run, or a page's words from `bitfield` when the
    /// page has more than `maxRunsPerPage` runs.
    static func announcements(of indices: [UInt64], holding bitfield: Bitfield) -> [(Wire.MessageType, [UInt8])] {
        var messages: [(Wire.MessageType, [UInt8])] = []
        for (page, runs) in runsByPage(indices) {
            if runs.count > maxRunsPerPage {
                let m = BitfieldMessage(start: page * Bitfield.pageBits, bitfield: bitfield.words(page: page))
                messages.append((.bitfield, m.compactEncoded))
            } else {
                for run in runs {
                    let m = RangeMessage(start: run.lowerBound, length: UInt64(run.count))
                    messages.append((.range, m.compactEncoded))
                }
            }
        }
        return messages
    }

    /// Sorted runs of consecutive indices, split at page boundaries, grouped by page (pages ascending).
    static func runsByPage(_ indices: [UInt64]) -> [(page: UInt64, runs: [Range<UInt64>])] {
        var out: [(page: UInt64, runs: [Range<UInt64>])] = []
        for i in Set(indices).sorted() {
            let page = i / Bitfield.pageBits
            if let last = out.last, last.page == page, let run = last.runs.last, run.upperBound == i {
                out[out.count - 1].runs[last.runs.count - 1] = run.lowerBound..<(i + 1)
            } else if let last = out.last, last.page == page {
                out[out.count - 1].runs.append(i..<(i + 1))
            } else {
                out.append((page, [i..<(i + 1)]))
            }
        }
        return out
    }

    // MARK: reader side

    func onBitfield(_ m: BitfieldMessage) throws {
        guard m.start % Bitfield.pageBits == 0 else {
            throw ProtocolViolation("bitfield at \(m.start) is not aligned to a page")
        }
        let words = Bitfield.wordsPerPage
        guard m.bitfield.count <= words * Self.maxPagesPerBitfield else {
            throw ProtocolViolation("bitfield of \(m.bitfield.count) words spans too many pages")
        }
        let first = m.start / Bitfield.pageBits
        let pages = UInt64((m.bitfield.count + words - 1) / words)
        guard first <= UInt64.max / Bitfield.pageBits - pages else { throw ProtocolViolation("bitfield overflows") }
        remote.withLockedValue { r in
            // A bitfield is the truth for the blocks it spans: it replaces what ranges said there.
            let span = m.start..<((first + max(pages, 1)) * Bitfield.pageBits)
            r.ranges = Self.subtract(r.ranges, span)
            var k = 0
            var page = first
            while k < m.bitfield.count {
                var pageWords = Array(m.bitfield[k..<min(k + words, m.bitfield.count)])
                if pageWords.count < words { pageWords += [UInt32](repeating: 0, count: words - pageWords.count) }
                if !pageWords.contains(where: { $0 != 0 }) {
                    r.bitfield[page] = nil  // empty pages are not kept
                } else if r.bitfield[page] != nil || r.bitfield.count < Self.maxRemotePages {
                    r.bitfield[page] = pageWords
                } else {
                    r.wire.pagesIgnored += 1
                }
                k += words
                page += 1
            }
            let lastSegment = (span.upperBound - 1) / Self.segmentBits
            for s in (m.start / Self.segmentBits)...lastSegment { r.wire.answeredSegments.insert(s) }
        }
        replicator.peersChanged()
    }

    /// Whether the remote sent a bitfield for `segment` since we last wanted it.
    func segmentAnswered(_ segment: UInt64) -> Bool {
        remote.withLockedValue { $0.wire.answeredSegments.contains(segment) }
    }

    /// Asks the remote for its bitfield of `segment` (once; later calls only refresh its recency). Withdraws the least
    /// recently wanted segment when more than `maxWantedSegments` are wanted, and forgets its pages.
    func want(segment: UInt64) {
        let (isNew, evicted) = remote.withLockedValue { r -> (Bool, UInt64?) in
            if let at = r.wire.wantedSegments.firstIndex(of: segment) {
                r.wire.wantedSegments.remove(at: at)
                r.wire.wantedSegments.append(segment)
                return (false, nil)
            }
            r.wire.wantedSegments.append(segment)
            r.wire.wantsSent += 1
            var evicted: UInt64?
            if r.wire.wantedSegments.count > Self.maxWantedSegments {
                let old = r.wire.wantedSegments.removeFirst()
                r.wire.answeredSegments.remove(old)
                let pages = (old * UInt64(Self.pagesPerSegment))..<((old + 1) * UInt64(Self.pagesPerSegment))
                for p in r.bitfield.keys where pages.contains(p) { r.bitfield[p] = nil }
                r.wire.unwantsSent += 1
                evicted = old
            }
            return (true, evicted)
        }
        guard isNew else { return }
        let segmentRange = { (s: UInt64) in RangeRef(start: s * Self.segmentBits, length: Self.segmentBits) }
        let want = segmentRange(segment).compactEncoded
        let unwant = evicted.map { segmentRange($0).compactEncoded }
        onLoop { ch in
            ch.mux?.cork()
            if let unwant { ch.send(type: Wire.MessageType.unwant.rawValue, unwant) }
            ch.send(type: Wire.MessageType.want.rawValue, want)
            ch.mux?.uncork()
        }
    }

    /// Sends a raw `want` (tests: malformed wants).
    func sendWant(_ m: RangeRef) { send(.want, m) }

    /// A snapshot of the want / bitfield bookkeeping (tests and diagnostics).
    var wantState: WantState { remote.withLockedValue { $0.wire } }

    private var logTag: String { String(log.discoveryKey.hex.prefix(16)) }
}
