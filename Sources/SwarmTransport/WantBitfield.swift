import CompactEncoding
import HyperLog
import Logging
import NIOCore

/// Want / unwant / bitfield on a `hypercore/alpha` channel.
///
/// Holder side: a remote's `want {start, length}` is answered with the `bitfield` pages (32,768 blocks each,
/// page-aligned, 1024 little-endian `UInt32` words) covering the wanted range, or with one `range {0, contiguous}`
/// when the range lies inside what we hold contiguously (as Hypercore 11 does). The want is remembered (bounded), and
/// blocks we store later inside it are announced in batches (`range` runs, or the whole page when a page has many
/// runs). `unwant` forgets it.
///
/// Reader side: a block no peer is known to have makes the replicator send `want` for its page to peers that have
/// not answered that page yet (`ReplicationPeer.want(page:)`); their bitfields wake the waiting request. Each peer
/// keeps at most `maxWantedPages` pages wanted; the least recently wanted one is withdrawn with `unwant`.
struct WantState {
    // Holder side.
    /// Blocks stored inside a remote's want, not announced yet.
    var unannounced: [UInt64] = []
    var flushScheduled = false
    /// Counters (tests and diagnostics).
    var wantsAnswered = 0
    var wantsRejected = 0
    var bitfieldsSent = 0
    var announcementsSent = 0
    // Reader side.
    /// Pages we sent `want` for, least recently wanted first.
    var wantedPages: [UInt64] = []
    /// Pages whose bitfield the remote sent since we wanted them.
    var answeredPages: Set<UInt64> = []
    var wantsSent = 0
    var unwantsSent = 0
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
    /// Bitfield pages answered per `want` at most (a larger want is clamped to its first pages).
    static let maxPagesPerWant: UInt64 = 16
    /// Remembered wants per remote at most (the oldest is forgotten first).
    static let maxRemoteWants = 256
    /// Pages a reader keeps wanted per peer at most (the least recently wanted is withdrawn with `unwant`).
    static let maxWantedPages = 64
    /// Pages a received `bitfield` message may span (Hypercore may send a 2^21-bit segment at once).
    static let maxPagesPerBitfield = 64
    /// Runs of new blocks in one page above which the whole page is announced instead of `range` messages.
    static let maxRunsPerPage = 32
    /// How long newly stored blocks are collected before they are announced.
    static let announceDelay: TimeAmount = .milliseconds(5)

    /// The part of `want` we answer and remember: from `start` to the wanted end (which may lie beyond `length`:
    /// blocks stored there later are announced), cut at `maxPagesPerWant` pages from the page holding `start`.
    static func clampWant(_ want: RangeRef, length: UInt64) -> Result<Range<UInt64>, WantRejection> {
        guard want.length > 0 else { return .failure(.empty) }
        guard want.start < length else { return .failure(.beyondLength(start: want.start, length: length)) }
        let firstPage = want.start / Bitfield.pageBits
        let (wantedEnd, overflow) = want.start.addingReportingOverflow(want.length)
        let end = overflow ? UInt64.max : wantedEnd
        let (capped, capOverflow) = (firstPage + maxPagesPerWant).multipliedReportingOverflow(by: Bitfield.pageBits)
        let cap = capOverflow ? UInt64.max : capped
        return .success(want.start..<min(end, cap))
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
        let answeredEnd = min(wanted.upperBound, length)
        if answeredEnd <= contiguous || contiguous == length {
            // Everything wanted (that exists) lies in our contiguous prefix: one range says it all.
            send(.range, RangeMessage(start: 0, length: contiguous))
            return
        }
        let bitfield = log.bitfield
        let pages = (wanted.lowerBound / Bitfield.pageBits)...((answeredEnd - 1) / Bitfield.pageBits)
        let messages = pages.map { BitfieldMessage(start: $0 * Bitfield.pageBits, bitfield: bitfield.words(page: $0)) }
        remote.withLockedValue { $0.wire.bitfieldsSent += messages.count }
        let encoded = messages.map(\.compactEncoded)
        onLoop { ch in
            ch.mux?.cork()
            for bytes in encoded { ch.send(type: Wire.MessageType.bitfield.rawValue, bytes) }
            ch.mux?.uncork()
        }
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
        remote.withLockedValue { r in
            var k = 0
            var page = first
            while k < m.bitfield.count {
                var pageWords = Array(m.bitfield[k..<min(k + words, m.bitfield.count)])
                if pageWords.count < words { pageWords += [UInt32](repeating: 0, count: words - pageWords.count) }
                r.bitfield[page] = pageWords
                r.wire.answeredPages.insert(page)
                k += words
                page += 1
            }
        }
        replicator.peersChanged()
    }

    /// Whether the remote sent the bitfield of `page` since we last wanted it.
    func pageAnswered(_ page: UInt64) -> Bool {
        remote.withLockedValue { $0.wire.answeredPages.contains(page) }
    }

    /// Asks the remote for its bitfield of `page` (once; later calls only refresh its recency). Withdraws the least
    /// recently wanted page when more than `maxWantedPages` are wanted.
    func want(page: UInt64) {
        let (isNew, evicted) = remote.withLockedValue { r -> (Bool, UInt64?) in
            if let at = r.wire.wantedPages.firstIndex(of: page) {
                r.wire.wantedPages.remove(at: at)
                r.wire.wantedPages.append(page)
                return (false, nil)
            }
            r.wire.wantedPages.append(page)
            r.wire.wantsSent += 1
            var evicted: UInt64?
            if r.wire.wantedPages.count > Self.maxWantedPages {
                let old = r.wire.wantedPages.removeFirst()
                r.wire.answeredPages.remove(old)
                r.wire.unwantsSent += 1
                evicted = old
            }
            return (true, evicted)
        }
        guard isNew else { return }
        let pageRange = { (p: UInt64) in RangeRef(start: p * Bitfield.pageBits, length: Bitfield.pageBits) }
        let want = pageRange(page).compactEncoded
        let unwant = evicted.map { pageRange($0).compactEncoded }
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
