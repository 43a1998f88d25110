/// A value with a compact-encoding representation.
public protocol CompactEncodable {
    /// Appends this value's encoding.
    func encode(to writer: inout CompactWriter)
}

/// A value decodable from compact-encoding.
public protocol CompactDecodable {
    /// Reads one value, throwing `CompactDecodingError` on malformed input.
    init(from reader: inout CompactReader) throws
}

/// Both directions.
public typealias CompactCodable = CompactEncodable & CompactDecodable

extension CompactEncodable {
    /// This value's encoding as a fresh buffer.
    public var compactEncoded: [UInt8] {
        var w = CompactWriter()
        encode(to: &w)
        return w.bytes
    }
}

extension CompactDecodable {
    /// Decodes a whole buffer; trailing bytes are an error.
    public init(compactEncoded bytes: [UInt8]) throws {
        var r = CompactReader(bytes)
        self = try Self(from: &r)
        guard r.isAtEnd else { throw CompactDecodingError.invalid("\(r.remaining) trailing bytes") }
    }
}
