import Dispatcher
import Foundation
import HyperCrypto
import PeerProtocol
import TokenService

/// Relay log metadata and per-peer replication (admin `stats`, `/health`, `<data>/relay-metadata.json`).
public struct RelayStats: Codable, Sendable, Equatable {
    public var relayHosted: Bool
    public var relayKey: String?
    public var discoveryKey: String?
    public var replicationTopic: String?
    /// The log's length (blocks), byte length, contiguous length and fork.
    public var length: UInt64?
    public var byteLength: UInt64?
    public var contiguousLength: UInt64?
    public var fork: UInt64?
    /// HyperTree version (the log length the tree reads at).
    public var treeVersion: UInt64?
    /// Keys allowed to append (the gateway key: a single-writer log).
    public var writers: [String]
    /// Why replication is paused, nil when serving.
    public var replicationPaused: String?
    /// Peers with an open replication channel.
    public var replicatingPeers: Int
    public var peers: [PeerReplicationState]
    public var swarmAddress: String?
    public var swarmPublicKey: String
    public var updatedAt: UInt64
}

/// One peer's replication as it last reported it.
public struct PeerReplicationState: Codable, Sendable, Equatable {
    public var peer: String
    public var knownLength: UInt64
    public var contiguousLength: UInt64
    /// Blocks between the gateway's length and the peer's known length.
    public var lagBlocks: UInt64
    public var percentSynced: Double
    /// Unix seconds of the report.
    public var reportedAt: UInt64?
}

/// One peer as the admin `peers` verb shows it.
public struct PeerSummary: Codable, Sendable, Equatable {
    /// Swarm public key, hex.
    public var peerKey: String
    public var connected: Bool
    public var registered: Bool
    public var via: String?
    public var relays: [String]
    public var firstRegisteredAt: UInt64?
    public var lastRegisteredAt: UInt64?
    public var registrations: UInt64
    public var failedRegistrations: UInt64
    public var tokenSequence: UInt64?
    public var tokenExpiresAt: UInt64?
    public var failedRefreshes: Int
    public var quarantined: Bool
    public var revokedUntil: UInt64?
    public var lastHeartbeatAt: UInt64?
    public var inFlightJobs: UInt64?
    public var latencyMs: Double?
}

extension RelayHost {
    /// Relay and replication state now.
    public func stats() -> RelayStats {
        let (registered, paused) = state.withLock { (Array($0.registered), $0.paused) }
        let length = log?.length ?? 0
        let peers = registered.compactMap { key, p -> PeerReplicationState? in
            guard let hb = p.heartbeat else {
                return PeerReplicationState(
                    peer: key, knownLength: 0, contiguousLength: 0, lagBlocks: length, percentSynced: 0, reportedAt: nil
                )
            }
            return PeerReplicationState(
                peer: key, knownLength: hb.hyperbeeLength, contiguousLength: hb.hyperbeeContiguousLength,
                lagBlocks: length > hb.hyperbeeLength ? length - hb.hyperbeeLength : 0, percentSynced: hb.percentSynced,
                reportedAt: p.heartbeatAt)
        }.sorted { $0.peer < $1.peer }
        let address = swarm?.listenAddress
        return RelayStats(
            relayHosted: log != nil, relayKey: log?.key.hex, discoveryKey: log?.discoveryKey.hex,
            replicationTopic: log?.discoveryKey.hex, length: log?.length, byteLength: log?.byteLength,
            contiguousLength: log?.contiguousLength, fork: log?.fork,
            treeVersion: log == nil ? nil : treeVersion(),
            writers: log == nil ? [] : [gatewayKey.publicKey.hex], replicationPaused: paused,
            replicatingPeers: log.flatMap { hub.replicator(for: $0.discoveryKey)?.peerCount } ?? 0, peers: peers,
            swarmAddress: address.map { "\($0.host):\($0.port)" }, swarmPublicKey: swarmKey.publicKey.hex,
            updatedAt: clock.nowSeconds())
    }

    /// Every known peer: the stored records joined with live channels and token state.
    public func peerSummaries() -> [PeerSummary] {
        let records = (try? store.records()) ?? []
        let (registered, connectedKeys) = state.withLock { s in
            (s.registered, Set(s.sessions.values.map { $0.connection.remotePublicKey.hex }))
        }
        var keys = Set(records.map(\.peerKey)).union(registered.keys)
        keys.formUnion(connectedKeys)
        let byKey = Dictionary(records.map { ($0.peerKey, $0) }, uniquingKeysWith: { a, _ in a })
        return keys.sorted().map { key in
            let r = byKey[key]
            let live = registered[key]
            let tokenState = log.flatMap { l in [UInt8](hex: key).flatMap { try? tokens.state(peer: $0, relay: l.key) }
            }
            return PeerSummary(
                peerKey: key, connected: connectedKeys.contains(key), registered: live != nil,
                via: r?.lastRegisteredVia,
                relays: r?.relays.map(\.identifier) ?? [], firstRegisteredAt: r?.firstRegisteredAt,
                lastRegisteredAt: r?.lastRegisteredAt, registrations: r?.registrations ?? 0,
                failedRegistrations: r?.failedRegistrations ?? 0, tokenSequence: tokenState?.sequence,
                tokenExpiresAt: tokenState?.expiresAt, failedRefreshes: tokenState?.consecutiveFailedRefreshes ?? 0,
                quarantined: tokenState?.quarantinedAt != nil, revokedUntil: activeRevocation(key)?.expiresAt,
                lastHeartbeatAt: live?.heartbeatAt, inFlightJobs: live?.heartbeat?.inFlightJobs,
                latencyMs: live?.heartbeat?.latencyMs)
        }
    }

    /// The signed discovery announcement (`GET /gateway/announcement`, HTTP and swarm).
    public func signedAnnouncement() throws(PeerPlaneRefusal) -> DiscoveryAnnouncement {
        guard let log else {
            throw PeerPlaneRefusal(503, PeerPlaneError.relayNotHosted.description, reason: "relay_not_hosted")
        }
        let port = swarm?.listenAddress?.port ?? configuration.swarmPort
        let a = DiscoveryAnnouncement(
            gatewayId: gatewayKey.publicKey.hex, timestamp: clock.nowMilliseconds(),
            ttl: configuration.announcementTTLSeconds, publicUrl: configuration.publicHTTPURL,
            wsUrl: configuration.publicWebsocketURL, relayKey: log.key.hex, relayDiscoveryKey: log.discoveryKey.hex,
            relayReplicationTopic: log.discoveryKey.hex, defaultTokenTtl: Int(configuration.tokenPolicy.ttlSeconds),
            tokenRefreshWindowSeconds: Int(configuration.tokenPolicy.refreshWindowSeconds),
            swarm: SwarmEndpoint(
                host: configuration.swarmPublicHost, port: port, swarmPublicKey: swarmKey.publicKey.hex),
            dispatcher: configuration.dispatcherPolicy,
            tokenQuarantineThreshold: configuration.tokenPolicy.quarantineThreshold,
            tokenEnforcement: flags.tokenEnforcement
        ).signed(by: gatewayKey)
        do { try a.validate(at: "") } catch {
            throw PeerPlaneRefusal(500, "announcement does not validate: \(error)", reason: "internal")
        }
        return a
    }

    struct HealthDetails: Encodable {
        var features: [String: String]
        var relay: RelayStats
        var peersRegistered: Int
        var swarmConnections: Int
        var dispatcherQueueDepth: Int
        var auditLog: String?
    }

    /// The peer plane's members of the `/health` object (JSON text without the braces).
    public func healthFragment() -> String {
        let (registered, connections) = state.withLock { ($0.registered.count, $0.sessions.count) }
        let details = HealthDetails(
            features: flags.effects, relay: stats(), peersRegistered: registered, swarmConnections: connections,
            dispatcherQueueDepth: dispatcher.withCore { $0.queuedCount }, auditLog: audit.path)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(details), data.count > 2 else { return "" }
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }

    /// The whole `/health` object (the swarm channel's `GET /health`).
    func healthJSON() -> String {
        let uptime = Int(Date().timeIntervalSince(startedAt))
        return #"{"status":"ok","uptimeSeconds":\#(uptime),"# + healthFragment() + "}"
    }

    /// Persists `stats()` to `<data>/relay-metadata.json` (atomically) beside the peer store.
    func writeMetadata() {
        let path = ((store.environment.path as NSString).deletingLastPathComponent as NSString)
            .appendingPathComponent("relay-metadata.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(stats()) else { return }
        try? data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
