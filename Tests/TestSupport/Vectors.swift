import Foundation
import HyperCrypto

/// Locates and loads the JavaScript-generated interoperability vectors, checked in at `Tests/Fixtures/vectors`.
///
/// The directory is `$HYPERTUNA_VECTORS` when set (to test against a regenerated set), else `Tests/Fixtures/vectors`
/// in this repository, found relative to this source file so a fresh clone needs nothing beside it.
public enum Vectors {
    /// Directory holding the vector files.
    public static var directory: URL {
        if let env = ProcessInfo.processInfo.environment["HYPERTUNA_VECTORS"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        // Tests/TestSupport/Vectors.swift -> Tests/Fixtures/vectors
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/vectors")
    }

    /// Errors while loading a vector file.
    public enum LoadError: Error, CustomStringConvertible {
        case missing(String)
        case notJSONObject(String)

        public var description: String {
            switch self {
            case .missing(let p):
                return
                    "vector file not found at \(p) (checked in at Tests/Fixtures/vectors; HYPERTUNA_VECTORS overrides)"
            case .notJSONObject(let p): return "vector file \(p) is not a JSON object"
            }
        }
    }

    /// Parses `<name>.json` as a JSON object.
    public static func load(_ name: String) throws -> [String: Any] {
        let url = directory.appendingPathComponent(name.hasSuffix(".json") ? name : name + ".json")
        guard let data = FileManager.default.contents(atPath: url.path) else { throw LoadError.missing(url.path) }
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LoadError.notJSONObject(url.path)
        }
        return obj
    }
}

/// Decodes hex in test data, failing loudly on bad input.
public func hex(_ s: Any?, file: StaticString = #filePath, line: UInt = #line) -> [UInt8] {
    guard let str = s as? String, let bytes = [UInt8](hex: str) else {
        preconditionFailure("not a hex string: \(String(describing: s))", file: file, line: line)
    }
    return bytes
}

/// A small deterministic PRNG (SplitMix64) for reproducible property tests.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
