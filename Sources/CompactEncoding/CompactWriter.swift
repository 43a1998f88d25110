/// Appends values in Holepunch's compact-encoding format (little-endian, `uint` as a 1/3/5/9-byte varint).
public struct CompactWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    /// Starts an empty buffer, optionally reserving capacity.
    public init(capacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    /// Variable-length unsigned integer: < 0xfd in one byte, else a 0xfd/0xfe/0xff marker and 2/4/8 LE bytes.
    public mutating func uint(_ v: UInt64) {
        if v < 0xfd {
            bytes.append(UInt8(v))
        } else if v <= 0xffff {
            bytes.append(0xfd)
            uint16(UInt16(v))
        } else if v <= 0xffff_ffff {
            bytes.append(0xfe)
            uint32(UInt32(v))
        } else {
            bytes.append(0xff)
            uint64(v)
        }
    }

    /// `uint` for a non-negative `Int`.
    public mutating func uint(_ v: Int) {
        precondition(v >= 0, "compact uint cannot be negative")
        uint(UInt64(v))
    }

    /// Zig-zag signed varint.
    public mutating func int(_ v: Int64) {
        uint(v < 0 ? UInt64(bitPattern: -(v + 1)) &* 2 &+ 1 : UInt64(v) &* 2)
    }

    public mutating func uint8(_ v: UInt8) { bytes.append(v) }

    public mutating func uint16(_ v: UInt16) {
        bytes.append(UInt8(truncatingIfNeeded: v))
        bytes.append(UInt8(truncatingIfNeeded: v >> 8))
    }

    public mutating func uint24(_ v: UInt32) {
        for s in stride(from: 0, to: 24, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) }
    }

    public mutating func uint32(_ v: UInt32) {
        for s in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) }
    }

    public mutating func uint64(_ v: UInt64) {
        for s in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
    }

    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }

    /// Length-prefixed bytes; `nil` encodes as an empty buffer (length 0), as compact-encoding v2 does.
    public mutating func buffer(_ v: [UInt8]?) {
        guard let v else { return uint(UInt64(0)) }
        uint(v.count)
        bytes.append(contentsOf: v)
    }

    /// Length-prefixed bytes from any collection.
    public mutating func buffer<C: Collection>(_ v: C) where C.Element == UInt8 {
        uint(v.count)
        bytes.append(contentsOf: v)
    }

    /// Bytes with no length prefix.
    public mutating func raw<C: Sequence>(_ v: C) where C.Element == UInt8 { bytes.append(contentsOf: v) }

    /// Exactly 32 bytes, no prefix.
    public mutating func fixed32(_ v: [UInt8]) {
        precondition(v.count == 32, "fixed32 needs 32 bytes")
        bytes.append(contentsOf: v)
    }

    /// Exactly 64 bytes, no prefix.
    public mutating func fixed64(_ v: [UInt8]) {
        precondition(v.count == 64, "fixed64 needs 64 bytes")
        bytes.append(contentsOf: v)
    }

    /// Length-prefixed UTF-8.
    public mutating func string(_ v: String) {
        var s = v
        s.withUTF8 { buffer($0) }
    }

    /// Count-prefixed array of `uint`s.
    public mutating func uintArray(_ v: [UInt64]) {
        uint(v.count)
        for x in v { uint(x) }
    }

    /// Count-prefixed array of fixed 4-byte little-endian integers.
    public mutating func uint32Array(_ v: [UInt32]) {
        uint(v.count)
        for x in v { uint32(x) }
    }

    /// Count-prefixed array of strings.
    public mutating func stringArray(_ v: [String]) {
        uint(v.count)
        for x in v { string(x) }
    }

    /// Count-prefixed array of encodable values.
    public mutating func array<T: CompactEncodable>(_ v: [T]) {
        uint(v.count)
        for x in v { x.encode(to: &self) }
    }

    /// Appends an encodable value.
    public mutating func encode<T: CompactEncodable>(_ v: T) { v.encode(to: &self) }
}
