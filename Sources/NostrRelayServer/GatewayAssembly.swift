import Foundation
import HyperCrypto
import Logging
import NostrRelay

/// Turns a validated `GatewayConfiguration` into the engine's pieces: relay configuration, write policy, store.
extension GatewayConfiguration {
    /// The websocket URL clients use (NIP-42 `relay` tag): `GATEWAY_PUBLIC_URL`, else `ws://host:port`.
    public var relayURL: String { publicURL ?? "ws://\(host):\(port)" }

    /// The engine configuration with every limit of `limits`.
    public func relayConfiguration() -> RelayConfiguration {
        let l = limits
        func bucket(_ rate: Double, _ burst: Double) -> RelayConfiguration.RateLimit {
            l.rateLimitEnabled && rate > 0 ? .init(rate: rate, burst: max(1, burst)) : .unlimited
        }
        return RelayConfiguration(
            relayURL: relayURL, name: relayName, description: relayDescription, pubkey: adminPublicKeys.first,
            contact: relayContact, maxMessageBytes: l.maxMessageBytes, maxSubscriptions: l.maxSubscriptions,
            maxFilters: l.maxFilters, maxLimit: l.maxLimit, defaultLimit: l.defaultLimit,
            eventsPerIP: bucket(l.eventsPerIPRate, l.eventsPerIPBurst),
            eventsPerPubkey: bucket(l.eventsPerPubkeyRate, l.eventsPerPubkeyBurst),
            queriesPerIP: bucket(l.queriesPerIPRate, l.queriesPerIPBurst),
            maxOutboundFrames: l.outboundBufferMessages,
            auth: RelayConfiguration.AuthMode(rawValue: l.authMode) ?? .enabled)
    }

    /// The write policy in force.
    public func makeWritePolicy() -> any WritePolicy {
        switch writePolicy {
        case .open: return OpenWritePolicy()
        case .allowList: return AllowListWritePolicy(pubkeys: Set(allowedPublicKeys + adminPublicKeys))
        case .adminsAndAuthenticatedPeers: return AdminsAndAuthenticatedPeersWritePolicy(admins: Set(adminPublicKeys))
        }
    }

    /// Directory of the relay store inside the data directory.
    public var storeDirectory: String {
        (storagePath as NSString).appendingPathComponent(store.directoryName)
    }

    /// Opens the durable event store: the relay index scheme in a HyperTree over a HyperLog signed by the gateway
    /// key (default), or directly in LMDB. Either way an OK is sent only after an fsynced commit.
    public func openEventStore(keyPair: Ed25519KeyPair) throws -> any EventStore {
        try FileManager.default.createDirectory(
            atPath: storeDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        switch store {
        case .hypertree:
            return try IndexedEventStore.durable(path: storeDirectory, keyPair: keyPair).store
        case .lmdb:
            return IndexedEventStore(kv: try LMDBOrderedKeyValueStore(directory: storeDirectory))
        }
    }

    /// Checks the engine's own validation on top of ours.
    public func validateRelayConfiguration() throws {
        if let first = relayConfiguration().validationErrors().first {
            throw ConfigurationError("GATEWAY_RELAY_*", first)
        }
    }
}
