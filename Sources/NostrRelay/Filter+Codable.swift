/// JSON coding of `JSONValue` (any JSON value) and of `Filter` in its NIP-01 form, so payloads that carry filters
/// (delegated jobs between gateway and worker) use the engine's own type and validation.
extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            self = .integer(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .integer(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

extension Filter: Codable {
    /// The NIP-01 filter object (lists sorted, so equal filters encode to equal JSON).
    public var jsonValue: JSONValue {
        var o: [String: JSONValue] = [:]
        if let ids { o["ids"] = .array(ids.sorted().map { .string($0) }) }
        if let authors { o["authors"] = .array(authors.sorted().map { .string($0) }) }
        if let kinds { o["kinds"] = .array(kinds.sorted().map { .integer(Int64($0)) }) }
        for (name, values) in tags { o["#" + name] = .array(values.sorted().map { .string($0) }) }
        if let since { o["since"] = .integer(since) }
        if let until { o["until"] = .integer(until) }
        if let limit { o["limit"] = .integer(Int64(limit)) }
        return .object(o)
    }

    /// Decodes and validates exactly as `Filter.parse` does (unknown keys refused).
    public init(from decoder: any Decoder) throws {
        let value = try JSONValue(from: decoder)
        do {
            self = try Filter.parse(value)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.message))
        }
    }

    public func encode(to encoder: any Encoder) throws { try jsonValue.encode(to: encoder) }
}
