/// Hyperbee 2 wire messages (protobuf): Header, Node and YoloIndex, encoded byte-exactly as the JavaScript
/// `protocol-buffers-encodings` output (fields in number order, packed repeated uint64, optional fields omitted).

/// Metadata carried by the header block.
public struct HeaderMetadata: Sendable, Equatable {
    /// Key of a content log (Hyperdrive blobs), if any.
    public var contentFeed: [UInt8]?
    /// Free-form application bytes.
    public var userData: [UInt8]?

    public init(contentFeed: [UInt8]? = nil, userData: [UInt8]? = nil) {
        self.contentFeed = contentFeed
        self.userData = userData
    }
}

/// Block 0 of every Hyperbee: `{protocol: "hyperbee", metadata}`.
public struct TreeHeader: Sendable, Equatable {
    public var protocolName: String
    public var metadata: HeaderMetadata?

    public init(protocolName: String = "hyperbee", metadata: HeaderMetadata? = nil) {
        self.protocolName = protocolName
        self.metadata = metadata
    }

    /// Protobuf bytes of the header.
    public func encoded() -> [UInt8] {
        var w = ProtoWriter()
        w.bytesField(1, Array(protocolName.utf8))
        if let m = metadata {
            var inner = ProtoWriter()
            if let c = m.contentFeed { inner.bytesField(1, c) }
            if let u = m.userData { inner.bytesField(2, u) }
            w.bytesField(2, inner.bytes)
        }
        return w.bytes
    }

    /// Decodes a header block; throws `TreeError.notAHyperbee` on anything else.
    public static func decode(_ bytes: [UInt8]) throws -> TreeHeader {
        var r = ProtoReader(bytes, seq: 0)
        var proto: String?
        var meta: HeaderMetadata?
        do {
            while let (field, wire) = try r.nextTag() {
                switch (field, wire) {
                case (1, 2): proto = String(decoding: try r.lengthDelimited(), as: UTF8.self)
                case (2, 2):
                    var inner = ProtoReader(try r.lengthDelimited(), seq: 0)
                    var m = HeaderMetadata()
                    while let (f, w) = try inner.nextTag() {
                        switch (f, w) {
                        case (1, 2): m.contentFeed = try inner.lengthDelimited()
                        case (2, 2): m.userData = try inner.lengthDelimited()
                        default: try inner.skip(wire: w)
                        }
                    }
                    meta = m
                default: try r.skip(wire: wire)
                }
            }
        } catch let e as TreeError {
            throw TreeError.notAHyperbee(reason: e.description)
        }
        guard let proto else { throw TreeError.notAHyperbee(reason: "header has no protocol field") }
        guard proto == "hyperbee" else { throw TreeError.notAHyperbee(reason: "protocol is \"\(proto)\"") }
        return TreeHeader(protocolName: proto, metadata: meta)
    }
}

/// One level (one B-tree node) of a block's YoloIndex: key seqs and (seq, offset) child pointers.
public struct IndexLevel: Sendable, Equatable {
    /// Seq of the block holding each key.
    public var keys: [UInt64]
    /// Flattened child pointers: seq0, offset0, seq1, offset1, ...
    public var children: [UInt64]

    public init(keys: [UInt64], children: [UInt64]) {
        self.keys = keys
        self.children = children
    }

    @inline(__always) var childCount: Int { children.count >> 1 }
    @inline(__always) var isLeaf: Bool { children.isEmpty }
}

/// A Hyperbee Node block: the changed index levels, the key and the optional value.
public struct NodeMessage: Sendable, Equatable {
    public var levels: [IndexLevel]
    public var key: [UInt8]
    public var value: [UInt8]?
    public var link: Bool?

    public init(levels: [IndexLevel], key: [UInt8], value: [UInt8]?, link: Bool? = nil) {
        self.levels = levels
        self.key = key
        self.value = value
        self.link = link
    }

    /// Protobuf bytes of the node (index is a nested YoloIndex message).
    public func encoded() -> [UInt8] { Self.encode(levels: levels, key: key, value: value, link: link) }

    /// Protobuf bytes of a node with these parts, written in one pass into one exactly sized array (the sizes of
    /// the nested messages are computed first, so nothing is encoded twice or copied).
    static func encode(levels: [IndexLevel], key: [UInt8], value: [UInt8]?, link: Bool? = nil) -> [UInt8] {
        var indexSize = 0
        for l in levels {
            let n = levelSize(l)
            indexSize += 1 + varintSize(UInt64(n)) + n
        }
        var total = 1 + varintSize(UInt64(indexSize)) + indexSize + 1 + varintSize(UInt64(key.count)) + key.count
        if let value { total += 1 + varintSize(UInt64(value.count)) + value.count }
        if link != nil { total += 2 }
        return [UInt8](unsafeUninitializedCapacity: total) { buf, count in
            var w = RawWriter(buf.baseAddress!)
            w.byte(0x0A)  // field 1, length-delimited: the YoloIndex
            w.varint(UInt64(indexSize))
            for l in levels {
                w.byte(0x0A)  // YoloIndex field 1: a level
                w.varint(UInt64(levelSize(l)))
                if !l.keys.isEmpty {
                    w.byte(0x0A)  // Level field 1: packed key seqs
                    w.varint(UInt64(packedSize(l.keys)))
                    for k in l.keys { w.varint(k) }
                }
                if !l.children.isEmpty {
                    w.byte(0x12)  // Level field 2: packed (seq, offset) pairs
                    w.varint(UInt64(packedSize(l.children)))
                    for c in l.children { w.varint(c) }
                }
            }
            w.byte(0x12)  // field 2: key
            w.bytes(key)
            if let value {
                w.byte(0x1A)  // field 3: value
                w.bytes(value)
            }
            if let link {
                w.byte(0x20)  // field 4, varint
                w.byte(link ? 1 : 0)
            }
            count = w.position(from: buf.baseAddress!)
            precondition(count == total, "node encoder wrote \(count) bytes, sized \(total)")
        }
    }

    @inline(__always) static func varintSize(_ v: UInt64) -> Int { v < 0x80 ? 1 : (70 - v.leadingZeroBitCount) / 7 }

    @inline(__always) static func packedSize(_ values: [UInt64]) -> Int {
        var n = 0
        for v in values { n += varintSize(v) }
        return n
    }

    @inline(__always) static func levelSize(_ l: IndexLevel) -> Int {
        var n = 0
        if !l.keys.isEmpty {
            let p = packedSize(l.keys)
            n += 1 + varintSize(UInt64(p)) + p
        }
        if !l.children.isEmpty {
            let p = packedSize(l.children)
            n += 1 + varintSize(UInt64(p)) + p
        }
        return n
    }

    /// Decodes a node block; every malformation is a `TreeError.corruptBlock`.
    public static func decode(_ bytes: [UInt8], seq: UInt64) throws -> NodeMessage {
        var r = ProtoReader(bytes, seq: seq)
        var levels: [IndexLevel] = []
        var key: [UInt8]?
        var value: [UInt8]?
        var link: Bool?
        var sawIndex = false
        while let (field, wire) = try r.nextTag() {
            switch (field, wire) {
            case (1, 2):
                sawIndex = true
                levels = try decodeIndex(try r.lengthDelimited(), seq: seq)
            case (2, 2): key = try r.lengthDelimited()
            case (3, 2): value = try r.lengthDelimited()
            case (4, 0): link = try r.varint() != 0
            default: try r.skip(wire: wire)
            }
        }
        guard sawIndex else { throw TreeError.corruptBlock(seq: seq, reason: "node has no index field") }
        guard let key else { throw TreeError.corruptBlock(seq: seq, reason: "node has no key field") }
        return NodeMessage(levels: levels, key: key, value: value, link: link)
    }

    static func decodeIndex(_ bytes: [UInt8], seq: UInt64) throws -> [IndexLevel] {
        var r = ProtoReader(bytes, seq: seq)
        var levels: [IndexLevel] = []
        while let (field, wire) = try r.nextTag() {
            guard field == 1, wire == 2 else {
                try r.skip(wire: wire)
                continue
            }
            var lr = ProtoReader(try r.lengthDelimited(), seq: seq)
            var level = IndexLevel(keys: [], children: [])
            while let (f, w) = try lr.nextTag() {
                switch (f, w) {
                case (1, 2): try lr.packedVarints(into: &level.keys)
                case (1, 0): level.keys.append(try lr.varint())
                case (2, 2): try lr.packedVarints(into: &level.children)
                case (2, 0): level.children.append(try lr.varint())
                default: try lr.skip(wire: w)
                }
            }
            guard level.children.count % 2 == 0 else {
                throw TreeError.corruptBlock(seq: seq, reason: "odd number of child pointer values")
            }
            guard level.children.isEmpty || level.childCount == level.keys.count + 1 else {
                throw TreeError.corruptBlock(
                    seq: seq, reason: "node has \(level.keys.count) keys but \(level.childCount) children")
            }
            levels.append(level)
        }
        return levels
    }
}

/// Writes protobuf pieces through a raw pointer into memory already sized for them (see `NodeMessage.encode`).
struct RawWriter {
    var p: UnsafeMutablePointer<UInt8>

    init(_ p: UnsafeMutablePointer<UInt8>) { self.p = p }

    @inline(__always) mutating func byte(_ b: UInt8) {
        p.pointee = b
        p += 1
    }

    @inline(__always) mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            p.pointee = UInt8(truncatingIfNeeded: v) | 0x80
            p += 1
            v >>= 7
        }
        p.pointee = UInt8(v)
        p += 1
    }

    /// Length prefix and bytes.
    @inline(__always) mutating func bytes(_ b: [UInt8]) {
        varint(UInt64(b.count))
        b.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { p.update(from: base, count: src.count) }
        }
        p += b.count
    }

    func position(from start: UnsafeMutablePointer<UInt8>) -> Int { p - start }
}

/// Minimal protobuf writer.
struct ProtoWriter {
    var bytes: [UInt8]

    init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func reset() { bytes.removeAll(keepingCapacity: true) }

    @inline(__always) mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    @inline(__always) mutating func tag(_ field: UInt64, wire: UInt64) { varint(field << 3 | wire) }

    mutating func bytesField(_ field: UInt64, _ b: [UInt8]) {
        tag(field, wire: 2)
        varint(UInt64(b.count))
        bytes.append(contentsOf: b)
    }
}

/// Minimal bounds-checked protobuf reader; all failures are `TreeError.corruptBlock`.
struct ProtoReader {
    let buf: [UInt8]
    var pos = 0
    let seq: UInt64

    init(_ buf: [UInt8], seq: UInt64) {
        self.buf = buf
        self.seq = seq
    }

    func fail(_ reason: String) -> TreeError { .corruptBlock(seq: seq, reason: reason) }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard pos < buf.count else { throw fail("truncated varint") }
            let b = buf[pos]
            pos += 1
            if shift == 63 && b > 1 { throw fail("varint overflows 64 bits") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
            if shift > 63 { throw fail("varint longer than 10 bytes") }
        }
    }

    mutating func nextTag() throws -> (UInt64, UInt64)? {
        guard pos < buf.count else { return nil }
        let t = try varint()
        let field = t >> 3
        guard field != 0 else { throw fail("field number 0") }
        return (field, t & 7)
    }

    mutating func lengthRange() throws -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(buf.count - pos) else { throw fail("length \(n) runs past the end") }
        let start = pos
        pos += Int(n)
        return start..<pos
    }

    mutating func lengthDelimited() throws -> [UInt8] { Array(buf[try lengthRange()]) }

    mutating func packedVarints(into out: inout [UInt64]) throws {
        let range = try lengthRange()
        var sub = ProtoReader(Array(buf[range]), seq: seq)
        while sub.pos < sub.buf.count { out.append(try sub.varint()) }
    }

    mutating func skip(wire: UInt64) throws {
        switch wire {
        case 0: _ = try varint()
        case 1:
            guard buf.count - pos >= 8 else { throw fail("truncated fixed64") }
            pos += 8
        case 2: _ = try lengthRange()
        case 5:
            guard buf.count - pos >= 4 else { throw fail("truncated fixed32") }
            pos += 4
        default: throw fail("unsupported wire type \(wire)")
        }
    }
}
