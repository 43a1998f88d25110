import Foundation

/// Typed helpers: UTF-8 strings and JSON values over the byte API.
extension TreeEntry {
    /// The key as UTF-8 text (nil if it is not valid UTF-8).
    public var keyString: String? { String(bytes: key, encoding: .utf8) }
    /// The value as UTF-8 text (nil if absent or not valid UTF-8).
    public var valueString: String? { value.flatMap { String(bytes: $0, encoding: .utf8) } }

    /// Decodes the value as JSON.
    public func decodeJSON<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        guard let value else { throw TreeError.codec("entry \(seq) has no value") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(value))
        } catch {
            throw TreeError.codec("JSON decode of entry \(seq) failed: \(error)")
        }
    }
}

func encodeJSON<T: Encodable>(_ value: T) throws -> [UInt8] {
    do {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try enc.encode(value))
    } catch {
        throw TreeError.codec("JSON encode failed: \(error)")
    }
}

extension HyperTree {
    public nonisolated(nonsending) func get(_ key: String, trace: QueryTrace? = nil) async throws -> TreeEntry? {
        try await get(Array(key.utf8), trace: trace)
    }

    @discardableResult
    public nonisolated(nonsending) func put(_ key: String, _ value: String) async throws -> Bool {
        try await put(Array(key.utf8), Array(value.utf8))
    }

    @discardableResult
    public nonisolated(nonsending) func del(_ key: String) async throws -> Bool { try await del(Array(key.utf8)) }

    /// Stores `value` encoded as JSON (sorted keys).
    @discardableResult
    public nonisolated(nonsending) func putJSON<T: Encodable>(_ key: String, _ value: T) async throws -> Bool {
        try await put(Array(key.utf8), try encodeJSON(value))
    }

    /// Reads and decodes a JSON value (nil if the key is absent).
    public nonisolated(nonsending) func getJSON<T: Decodable>(_ key: String, as type: T.Type = T.self) async throws
        -> T?
    {
        guard let e = try await get(Array(key.utf8)) else { return nil }
        return try e.decodeJSON(T.self)
    }
}

extension TreeBatch {
    @discardableResult
    public nonisolated(nonsending) func put(_ key: String, _ value: String) async throws -> Bool {
        try await put(Array(key.utf8), Array(value.utf8))
    }

    @discardableResult
    public nonisolated(nonsending) func putJSON<T: Encodable>(_ key: String, _ value: T) async throws -> Bool {
        try await put(Array(key.utf8), try encodeJSON(value))
    }

    @discardableResult
    public nonisolated(nonsending) func del(_ key: String) async throws -> Bool { try await del(Array(key.utf8)) }
}

extension RangeOptions {
    /// Range with UTF-8 string bounds.
    public static func strings(
        gt: String? = nil, gte: String? = nil, lt: String? = nil, lte: String? = nil, reverse: Bool = false,
        limit: Int? = nil
    ) -> RangeOptions {
        RangeOptions(
            gt: gt.map { Array($0.utf8) }, gte: gte.map { Array($0.utf8) }, lt: lt.map { Array($0.utf8) },
            lte: lte.map { Array($0.utf8) }, reverse: reverse, limit: limit)
    }
}
