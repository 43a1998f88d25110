import Foundation

/// Decodes and encodes `PeerPayload`s as JSON. Decoding always validates, so logic never sees a malformed payload.
///
/// Unknown fields are ignored (forward compatibility); a missing required field, a wrong type, a negative number
/// where an unsigned one is expected, or an out-of-range value is a `PayloadValidationError` with the field path.
public enum PayloadCodec {
    /// Upper bound on an encoded payload; larger inputs are refused before parsing.
    public static let maxEncodedSize = 256 * 1024

    /// Parses and validates a payload.
    public static func decode<P: PeerPayload>(_ type: P.Type, from data: Data) throws -> P {
        guard data.count <= maxEncodedSize else {
            throw PayloadValidationError(
                path: "", reason: "payload of \(data.count) bytes exceeds the \(maxEncodedSize)-byte limit")
        }
        let value: P
        do {
            value = try JSONDecoder().decode(P.self, from: data)
        } catch let error as DecodingError {
            if case .dataCorrupted(let ctx) = error, ctx.codingPath.isEmpty,
                let located = locateUnrepresentableNumber(P.self, in: data)
            {
                throw located
            }
            throw translate(error)
        } catch {
            throw PayloadValidationError(path: "", reason: "not valid JSON: \(error)")
        }
        try value.validate(at: "")
        return value
    }

    /// Parses and validates a payload from bytes.
    public static func decode<P: PeerPayload>(_ type: P.Type, from bytes: [UInt8]) throws -> P {
        try decode(type, from: Data(bytes))
    }

    /// Validates then encodes a payload (sorted keys, so equal payloads encode to equal bytes).
    public static func encode<P: PeerPayload>(_ value: P) throws -> Data {
        try value.validate(at: "")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    /// Foundation's decoder reports a number that does not fit its field (a negative count, a fraction for an
    /// integer, an overflow) as "not valid JSON" without a path. When the document is valid JSON, find the culprit by
    /// zeroing one number at a time (the first 256 numbers at most) until the document decodes differently.
    static func locateUnrepresentableNumber<P: PeerPayload>(_ type: P.Type, in data: Data) -> PayloadValidationError? {
        guard let root = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else { return nil }
        var numbers: [([JSONPathElement], NSNumber)] = []
        collectNumbers(root, path: [], into: &numbers, limit: 256)
        for (path, number) in numbers {
            let patched = replacing(root, at: path[...], with: 0)
            guard let bytes = try? JSONSerialization.data(withJSONObject: patched, options: [.fragmentsAllowed]) else {
                continue
            }
            do {
                _ = try JSONDecoder().decode(P.self, from: bytes)
            } catch let DecodingError.dataCorrupted(ctx) where ctx.codingPath.isEmpty {
                continue  // still broken elsewhere or not this number
            } catch {
                // A different failure now: this number was the problem.
            }
            return PayloadValidationError(
                path: render(path),
                reason: "number \(number) cannot be represented by this field (negative, fractional or too large)")
        }
        return nil
    }

    enum JSONPathElement {
        case key(String)
        case index(Int)
    }

    private static func render(_ path: [JSONPathElement]) -> String {
        var out = ""
        for el in path {
            switch el {
            case .key(let k): out += out.isEmpty ? k : ".\(k)"
            case .index(let i): out += "[\(i)]"
            }
        }
        return out
    }

    private static func collectNumbers(
        _ node: Any, path: [JSONPathElement], into out: inout [([JSONPathElement], NSNumber)], limit: Int
    ) {
        guard out.count < limit else { return }
        if let dict = node as? [String: Any] {
            for key in dict.keys.sorted() {
                collectNumbers(dict[key]!, path: path + [.key(key)], into: &out, limit: limit)
            }
        } else if let array = node as? [Any] {
            for (i, el) in array.enumerated() { collectNumbers(el, path: path + [.index(i)], into: &out, limit: limit) }
        } else if let n = node as? NSNumber, !(node is Bool) {
            out.append((path, n))
        }
    }

    private static func replacing(_ node: Any, at path: ArraySlice<JSONPathElement>, with value: Any) -> Any {
        guard let first = path.first else { return value }
        switch first {
        case .key(let k):
            guard var dict = node as? [String: Any], let child = dict[k] else { return node }
            dict[k] = replacing(child, at: path.dropFirst(), with: value)
            return dict
        case .index(let i):
            guard var array = node as? [Any], i < array.count else { return node }
            array[i] = replacing(array[i], at: path.dropFirst(), with: value)
            return array
        }
    }

    /// Maps a `DecodingError` to a path and a readable reason.
    static func translate(_ error: DecodingError) -> PayloadValidationError {
        func render(_ path: [any CodingKey]) -> String {
            var out = ""
            for key in path {
                if let i = key.intValue {
                    out += "[\(i)]"
                } else {
                    out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return out
        }
        switch error {
        case .keyNotFound(let key, let ctx):
            return PayloadValidationError(path: render(ctx.codingPath + [key]), reason: "required field is missing")
        case .typeMismatch(let type, let ctx):
            return PayloadValidationError(
                path: render(ctx.codingPath), reason: "wrong type: expected \(describe(type))")
        case .valueNotFound(let type, let ctx):
            return PayloadValidationError(
                path: render(ctx.codingPath), reason: "must not be null (expected \(describe(type)))")
        case .dataCorrupted(let ctx):
            let path = render(ctx.codingPath)
            if ctx.codingPath.isEmpty {
                return PayloadValidationError(path: path, reason: "not valid JSON: \(ctx.debugDescription)")
            }
            return PayloadValidationError(path: path, reason: ctx.debugDescription)
        @unknown default:
            return PayloadValidationError(path: "", reason: "undecodable: \(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is UInt64.Type, is UInt32.Type, is UInt.Type, is Int64.Type: return "an integer"
        case is Double.Type: return "a number"
        case is Bool.Type: return "a boolean"
        default:
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return name
        }
    }
}
