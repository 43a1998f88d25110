import Foundation
import HyperCrypto

/// Why a payload was refused: the JSON path of the offending field and the reason, before any logic sees it.
public struct PayloadValidationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Dotted path of the field, e.g. `hyperbee.dispatcher.maxConcurrentJobsPerPeer` or `relays[2].identifier`.
    public let path: String
    /// What is wrong with it.
    public let reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "invalid payload at \(path.isEmpty ? "<root>" : path): \(reason)" }
}

/// A value that can check its own fields. `validate` throws the first problem found, with its path.
public protocol PayloadValidatable {
    /// Throws `PayloadValidationError` for malformed or out-of-range data. `path` prefixes every reported field.
    func validate(at path: String) throws
}

/// A versioned wire payload shared by gateway and worker.
public protocol PeerPayload: Codable, Sendable, Equatable, PayloadValidatable {
    /// Highest major version this build understands (additive changes keep the version; readers ignore
    /// fields they do not know).
    static var supportedVersion: Int { get }
    /// Major version carried on the wire.
    var version: Int { get }
}

/// Field checks used by the validators. Each throws a `PayloadValidationError` naming the field.
public enum Check {
    /// Joins a parent path and a field name.
    public static func join(_ path: String, _ field: String) -> String {
        path.isEmpty ? field : "\(path).\(field)"
    }

    /// Version must be 1...supported.
    public static func version(_ v: Int, supported: Int, at path: String) throws {
        let p = join(path, "version")
        guard v >= 1 else { throw PayloadValidationError(path: p, reason: "must be >= 1, got \(v)") }
        guard v <= supported else {
            throw PayloadValidationError(
                path: p, reason: "unsupported version \(v) (this build understands 1...\(supported))")
        }
    }

    /// A hex string of exactly `bytes` bytes (lower or upper case).
    public static func hexKey(_ s: String, bytes: Int = 32, at path: String) throws {
        guard s.utf8.count == bytes * 2 else {
            throw PayloadValidationError(
                path: path,
                reason: "must be \(bytes * 2) hex characters (\(bytes) bytes), got \(s.utf8.count) characters")
        }
        guard Hex.decode(s) != nil else {
            throw PayloadValidationError(path: path, reason: "must be hexadecimal")
        }
    }

    /// A string whose UTF-8 length is within `range`, with no control characters.
    public static func text(_ s: String, length range: ClosedRange<Int>, at path: String) throws {
        let n = s.utf8.count
        guard range.contains(n) else {
            throw PayloadValidationError(
                path: path, reason: "length \(n) bytes out of range \(range.lowerBound)...\(range.upperBound)")
        }
        if s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw PayloadValidationError(path: path, reason: "must not contain control characters")
        }
    }

    /// An identifier: 1...max characters of `[A-Za-z0-9._:-]`.
    public static func identifier(_ s: String, max: Int = 128, at path: String) throws {
        try text(s, length: 1...max, at: path)
        let ok = s.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2e || c == 0x5f
                || c == 0x3a || c == 0x2d
        }
        guard ok else { throw PayloadValidationError(path: path, reason: "may only contain A-Z a-z 0-9 . _ : -") }
    }

    /// An absolute URL with one of `schemes` and a host, at most 2048 bytes.
    public static func url(_ s: String, schemes: Set<String>, at path: String) throws {
        try text(s, length: 1...2048, at: path)
        guard let comps = URLComponents(string: s), let scheme = comps.scheme?.lowercased(), schemes.contains(scheme)
        else {
            throw PayloadValidationError(
                path: path, reason: "must be an absolute URL with scheme \(schemes.sorted().joined(separator: " or "))")
        }
        guard let host = comps.host, !host.isEmpty else {
            throw PayloadValidationError(path: path, reason: "URL must have a host")
        }
    }

    /// An integer within `range`.
    public static func range<T: BinaryInteger>(_ v: T, _ range: ClosedRange<T>, at path: String) throws {
        guard range.contains(v) else {
            throw PayloadValidationError(
                path: path, reason: "\(v) out of range \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// A finite floating-point number within `range`.
    public static func range(_ v: Double, _ range: ClosedRange<Double>, at path: String) throws {
        guard v.isFinite else { throw PayloadValidationError(path: path, reason: "must be a finite number") }
        guard range.contains(v) else {
            throw PayloadValidationError(
                path: path, reason: "\(v) out of range \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// An array whose element count is within `range`.
    public static func count<C: Collection>(_ c: C, _ range: ClosedRange<Int>, at path: String) throws {
        guard range.contains(c.count) else {
            throw PayloadValidationError(
                path: path, reason: "\(c.count) entries out of range \(range.lowerBound)...\(range.upperBound)")
        }
    }

    /// A Unix time in milliseconds between 2020-01-01 and 2200-01-01 (catches seconds-vs-milliseconds mix-ups).
    public static func millisecondsTimestamp(_ v: UInt64, at path: String) throws {
        guard (1_577_836_800_000...7_258_118_400_000).contains(v) else {
            throw PayloadValidationError(
                path: path, reason: "\(v) is not a plausible Unix time in milliseconds (2020...2200)")
        }
    }
}
