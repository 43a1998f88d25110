/// Why a compact-encoded buffer could not be decoded.
public enum CompactDecodingError: Error, Equatable, CustomStringConvertible {
    /// The buffer ended before a value did.
    case outOfBounds(needed: Int, offset: Int, available: Int)
    /// A value was structurally invalid (bad UTF-8, bad flag, impossible length, ...).
    case invalid(String)

    public var description: String {
        switch self {
        case .outOfBounds(let n, let o, let a):
            return "compact-encoding: truncated input (needed \(n) bytes at offset \(o), \(a) available)"
        case .invalid(let why): return "compact-encoding: \(why)"
        }
    }
}

/// Reads compact-encoded values from a byte buffer, never past its end.
public struct CompactReader: Sendable {
    /// The whole buffer.
    public let bytes: [UInt8]
    /// The next byte to read.
    public private(set) var offset: Int
    private let end: Int

    /// Reads `bytes[start..<end]` (the whole buffer by default).
    public init(_ bytes: [UInt8], start: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = start
        self.end = min(end ?? bytes.count, bytes.count)
    }

    /// Bytes not yet read.
    public var remaining: Int { end - offset }

    /// True when every byte has been read.
    public var isAtEnd: Bool { offset >= end }

    @inline(__always) private mutating func need(_ n: Int) throws {
        guard n >= 0, n <= end - offset else {
            throw CompactDecodingError.outOfBounds(needed: n, offset: offset, available: max(0, end - offset))
        }
    }

    public mutating func uint8() throws -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func uint16() throws -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    public mutating func uint24() throws -> UInt32 {
        try need(3)
        defer { offset += 3 }
        return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
    }

    public mutating func uint32() throws -> UInt32 {
        try need(4)
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }

    public mutating func uint64() throws -> UInt64 {
        try need(8)
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }

    /// Variable-length unsigned integer.
    public mutating func uint() throws -> UInt64 {
        let a = try uint8()
        switch a {
        case 0xfd: return UInt64(try uint16())
        case 0xfe: return UInt64(try uint32())
        case 0xff: return try uint64()
        default: return UInt64(a)
        }
    }

    /// A `uint` that must fit in `Int` and be at most `limit` (for lengths and counts).
    public mutating func length(limit: Int = Int.max) throws -> Int {
        let v = try uint()
        guard v <= UInt64(limit) else { throw CompactDecodingError.invalid("length \(v) exceeds limit \(limit)") }
        return Int(v)
    }

    /// Zig-zag signed varint.
    public mutating func int() throws -> Int64 {
        let u = try uint()
        return (u & 1) == 0 ? Int64(bitPattern: u >> 1) : -Int64(bitPattern: u >> 1) - 1
    }

    public mutating func bool() throws -> Bool {
        switch try uint8() {
        case 0: return false
        case 1: return true
        case let b: throw CompactDecodingError.invalid("bool byte \(b)")
        }
    }

    /// Length-prefixed bytes.
    public mutating func buffer() throws -> [UInt8] {
        let n = try length(limit: remaining)
        return try raw(n)
    }

    /// `n` raw bytes.
    public mutating func raw(_ n: Int) throws -> [UInt8] {
        try need(n)
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// Everything left.
    public mutating func rest() -> [UInt8] {
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    public mutating func fixed32() throws -> [UInt8] { try raw(32) }
    public mutating func fixed64() throws -> [UInt8] { try raw(64) }

    /// Length-prefixed UTF-8 (invalid UTF-8 is an error, not a replacement).
    public mutating func string() throws -> String {
        let b = try buffer()
        guard let s = String(validating: b, as: UTF8.self) else {
            throw CompactDecodingError.invalid("string is not valid UTF-8")
        }
        return s
    }

    /// Count-prefixed array of `uint`s.
    public mutating func uintArray() throws -> [UInt64] {
        let n = try length(limit: remaining)
        var out = [UInt64]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try uint()) }
        return out
    }

    /// Count-prefixed array of fixed 4-byte integers.
    public mutating func uint32Array() throws -> [UInt32] {
        let n = try length(limit: remaining / 4)
        var out = [UInt32]()
        out.reserveCapacity(n)
        for _ in 0..<n { out.append(try uint32()) }
        return out
    }

    /// Count-prefixed array of strings.
    public mutating func stringArray() throws -> [String] {
        let n = try length(limit: remaining)
        var out = [String]()
        for _ in 0..<n { out.append(try string()) }
        return out
    }

    /// Count-prefixed array of decodable values (each takes at least one byte).
    public mutating func array<T: CompactDecodable>(of _: T.Type = T.self) throws -> [T] {
        let n = try length(limit: remaining)
        var out = [T]()
        for _ in 0..<n { out.append(try T(from: &self)) }
        return out
    }

    /// Decodes one value.
    public mutating func decode<T: CompactDecodable>(_: T.Type = T.self) throws -> T { try T(from: &self) }
}
