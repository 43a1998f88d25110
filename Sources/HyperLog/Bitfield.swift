/// A sparse bitfield of the blocks a log stores, in pages of 32768 bits (Hypercore's page size), each page
/// 1024 little-endian `UInt32` words as sent in `hypercore/alpha` bitfield messages.
public struct Bitfield: Sendable, Equatable {
    public static let pageBits: UInt64 = 32768
    public static let wordsPerPage = 1024
    private(set) var pages: [UInt64: [UInt32]] = [:]
    private(set) var dirty: Set<UInt64> = []

    public init() {}

    /// Whether bit `index` is set.
    public func get(_ index: UInt64) -> Bool {
        guard let p = pages[index / Self.pageBits] else { return false }
        let bit = Int(index % Self.pageBits)
        return p[bit >> 5] & (1 << UInt32(bit & 31)) != 0
    }

    /// Sets or clears bit `index`.
    public mutating func set(_ index: UInt64, _ value: Bool) {
        let pageNo = index / Self.pageBits
        let bit = Int(index % Self.pageBits)
        if pages[pageNo] == nil {
            if !value { return }
            pages[pageNo] = [UInt32](repeating: 0, count: Self.wordsPerPage)
        }
        let mask: UInt32 = 1 << UInt32(bit & 31)
        if value { pages[pageNo]![bit >> 5] |= mask } else { pages[pageNo]![bit >> 5] &= ~mask }
        dirty.insert(pageNo)
    }

    /// Sets or clears bits [start, end), a page and a word at a time.
    public mutating func setRange(_ start: UInt64, _ end: UInt64, _ value: Bool) {
        var i = start
        while i < end {
            let pageNo = i / Self.pageBits
            let pageEnd = min(end, (pageNo + 1) * Self.pageBits)
            if pages[pageNo] == nil {
                // Whole empty pages need no work when clearing.
                if !value {
                    i = pageEnd
                    continue
                }
                pages[pageNo] = [UInt32](repeating: 0, count: Self.wordsPerPage)
            }
            dirty.insert(pageNo)
            var bit = Int(i % Self.pageBits)
            let last = Int(pageEnd - pageNo * Self.pageBits)  // exclusive, within the page
            pages[pageNo]!.withUnsafeMutableBufferPointer { words in
                while bit < last {
                    let inWord = bit & 31
                    let count = min(32 - inWord, last - bit)
                    let mask: UInt32 = (count == 32 ? ~0 : ((1 << UInt32(count)) - 1)) << UInt32(inWord)
                    if value { words[bit >> 5] |= mask } else { words[bit >> 5] &= ~mask }
                    bit += count
                }
            }
            i = pageEnd
        }
    }

    /// The reference for `setRange`: one bit at a time (tests).
    mutating func setRangeBitByBit(_ start: UInt64, _ end: UInt64, _ value: Bool) {
        var i = start
        while i < end {
            set(i, value)
            i += 1
        }
    }

    /// First unset bit at or after `start`.
    public func firstUnset(from start: UInt64) -> UInt64 {
        var i = start
        while true {
            guard let p = pages[i / Self.pageBits] else { return i }
            let bit = Int(i % Self.pageBits)
            let w = p[bit >> 5] >> UInt32(bit & 31)
            if w & 1 == 0 { return i }
            // Skip a run of ones within the word.
            let ones = (~w).trailingZeroBitCount
            i += UInt64(ones)
        }
    }

    /// The 1024 words of page `page` (zeros when absent), as carried by a `bitfield` message.
    public func words(page: UInt64) -> [UInt32] {
        pages[page] ?? [UInt32](repeating: 0, count: Self.wordsPerPage)
    }

    /// Page numbers holding at least one set bit.
    public var pageNumbers: [UInt64] { pages.keys.sorted() }

    /// Number of set bits in [start, end).
    public func count(_ start: UInt64, _ end: UInt64) -> UInt64 {
        var n: UInt64 = 0
        var i = start
        while i < end {
            if i % Self.pageBits == 0, pages[i / Self.pageBits] == nil {
                i += Self.pageBits
                continue
            }
            if get(i) { n += 1 }
            i += 1
        }
        return n
    }

    /// Loads a stored page; false if it has the wrong size.
    mutating func load(page: UInt64, bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count == Self.wordsPerPage * 4 else { return false }
        var words = [UInt32](repeating: 0, count: Self.wordsPerPage)
        for i in 0..<Self.wordsPerPage {
            words[i] =
                UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16
                | UInt32(bytes[4 * i + 3]) << 24
        }
        pages[page] = words
        return true
    }

    /// Moves dirty pages into `batch` (empty pages are deleted) and forgets them.
    mutating func flush(into batch: inout LogWriteBatch) {
        for pageNo in dirty.sorted() {
            let key = LogKeys.u64(pageNo)
            guard let words = pages[pageNo], words.contains(where: { $0 != 0 }) else {
                pages[pageNo] = nil
                batch.delete(.bitfield, key)
                continue
            }
            var bytes = [UInt8]()
            bytes.reserveCapacity(Self.wordsPerPage * 4)
            for w in words { withUnsafeBytes(of: w.littleEndian) { bytes.append(contentsOf: $0) } }
            batch.put(.bitfield, key, bytes)
        }
        dirty.removeAll()
    }
}
