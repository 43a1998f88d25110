import CompactEncoding
import Foundation

/// The channel handshake (compact-encoding `json`), field names as the deployed JavaScript. Unknown fields are
/// ignored; a missing `version` or a major version other than 2 closes the channel.
public struct PeerWireHandshake: Codable, Sendable, Equatable {
    /// `"2.0"` today.
    public var version: String
    /// The deployed JS sets `isServer` on the worker side (it listened; here the worker dials).
    public var isServer: Bool?
    /// `worker` or `gateway`.
    public var role: String?
    /// What the sender speaks (`http`, `websocket`, `health`, `telemetry`, `jobs`).
    public var capabilities: [String]?
    public var dispatcherEnabled: Bool?
    public var hyperbeeRelayEnabled: Bool?
    /// Relay log key, hex (gateway side).
    public var hyperbeeKey: String?
    public var hyperbeeDiscoveryKey: String?
    public var hyperbeeLength: UInt64?
    public var hyperbeeContiguousLength: UInt64?
    public var hyperbeeLag: UInt64?
    /// Unix milliseconds.
    public var hyperbeeUpdatedAt: UInt64?
    public var hyperbeeVersion: UInt64?

    public static let currentVersion = "2.0"

    public init(
        version: String = currentVersion, isServer: Bool? = nil, role: String? = nil, capabilities: [String]? = nil,
        dispatcherEnabled: Bool? = nil, hyperbeeRelayEnabled: Bool? = nil, hyperbeeKey: String? = nil,
        hyperbeeDiscoveryKey: String? = nil, hyperbeeLength: UInt64? = nil, hyperbeeContiguousLength: UInt64? = nil,
        hyperbeeLag: UInt64? = nil, hyperbeeUpdatedAt: UInt64? = nil, hyperbeeVersion: UInt64? = nil
    ) {
        self.version = version
        self.isServer = isServer
        self.role = role
        self.capabilities = capabilities
        self.dispatcherEnabled = dispatcherEnabled
        self.hyperbeeRelayEnabled = hyperbeeRelayEnabled
        self.hyperbeeKey = hyperbeeKey
        self.hyperbeeDiscoveryKey = hyperbeeDiscoveryKey
        self.hyperbeeLength = hyperbeeLength
        self.hyperbeeContiguousLength = hyperbeeContiguousLength
        self.hyperbeeLag = hyperbeeLag
        self.hyperbeeUpdatedAt = hyperbeeUpdatedAt
        self.hyperbeeVersion = hyperbeeVersion
    }

    /// A worker's handshake.
    public static func worker(
        capabilities: [String] = ["http", "websocket", "health", "telemetry", "jobs"]
    ) -> PeerWireHandshake {
        PeerWireHandshake(isServer: true, role: "worker", capabilities: capabilities)
    }

    /// The major version number, when `version` starts with one.
    public var majorVersion: Int? { version.split(separator: ".").first.flatMap { Int($0) } }

    /// compact-encoding `json` bytes.
    public var encoded: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, booleans, integers and a string array: encoding cannot fail.
        return PeerWireCodec.jsonString(Array(try! encoder.encode(self)))
    }

    /// Parses and checks a remote handshake.
    public static func decode(_ bytes: [UInt8]) throws(PeerWireError) -> PeerWireHandshake {
        let hs: PeerWireHandshake
        do {
            hs = try JSONDecoder().decode(PeerWireHandshake.self, from: try PeerWireCodec.jsonText(bytes))
        } catch {
            throw .incompatibleHandshake("not a JSON handshake with a version (\(error))")
        }
        guard hs.majorVersion == 2 else {
            throw .incompatibleHandshake("version \"\(hs.version.prefix(16))\" is not 2.x")
        }
        return hs
    }
}
