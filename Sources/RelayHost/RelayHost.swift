import Dispatcher
import Foundation
import HyperCrypto
import HyperLog
import Logging
import NIOCore
import PeerProtocol
import PeerWire
import SwarmTransport
import Synchronization
import Telemetry
import TokenService

// The gateway's peer plane: a swarm endpoint where workers connect, register (authenticated by their Noise key),
// get per-peer tokens, replicate the relay log sparsely and live, report load, and take delegated work.
//
// Hooks for the delegation layer (Sources/RelayHost/Delegation/*, the REQ -> Dispatcher -> peer flow), all on
// `PeerPlane` below:
// - `dispatcher`: the one `LoadAwareDispatcher` of the gateway (GATEWAY_DISPATCHER_*). RelayHost registers peers in
//   it when they register, feeds their heartbeats (message 5) into it through the Telemetry bus, calls `peerLost`
//   on disconnect and revocation, and calls `tick()` every second. Effects of the calls RelayHost makes are handed
//   to `dispatcherEffects()` subscribers, who must carry them out (start / stop / finished).
// - `livePeers` / `livePeer(_:)`: registered peers with an open `hypertuna-relay-v2` channel (`PeerWireChannel`).
// - `send(_:to:)`: one message to one registered peer; `messages(_:)`: messages of given ids from every registered
//   peer, tagged with the sender (unregistered peers' messages are dropped).
// - `lifecycleEvents()`: registered / lost / revoked, with the dispatcher effects of that change.
// - `setWebsocketDelegate(_:)` (WebsocketGate.swift): sees every inbound websocket frame that passed the token gate
//   before the engine, and may take it over (a REQ sent through the dispatcher), with the session's outbound queue
//   and engine connection.
// - `relayKey`, `log`, `tokens`, `telemetry`: the relay log, the token authority and the bus, for the job flow.

/// What the delegation layer sees of the peer plane.
public protocol PeerPlane: AnyObject, Sendable {
    /// The gateway's dispatcher.
    var dispatcher: LoadAwareDispatcher { get }
    /// Whether `GATEWAY_FEATURE_RELAY_DISPATCHER` is on.
    var dispatcherEnabled: Bool { get }
    /// Registered peers with an open channel.
    var livePeers: [LivePeer] { get }
    /// One registered peer, if connected.
    func livePeer(_ id: PeerID) -> LivePeer?
    /// Sends a one-way message to a registered peer; throws `PeerPlaneError.unknownPeer` or the channel's error.
    func send(_ message: PeerWireMessage, to peer: PeerID) throws
    /// Messages with one of `ids` from every registered peer, in arrival order per peer.
    func messages(_ ids: Set<PeerWireMessageID>) -> AsyncStream<PeerMessage>
    /// Peer lifecycle changes.
    func lifecycleEvents() -> AsyncStream<PeerLifecycleEvent>
    /// Effects of dispatcher calls made by the peer plane (register, heartbeat, peerLost, tick).
    func dispatcherEffects() -> AsyncStream<[DispatchEffect]>
}

/// A registered, connected peer.
public struct LivePeer: Sendable {
    public let id: PeerID
    public let publicKey: [UInt8]
    public let channel: any PeerWireChannel
    /// Unix seconds.
    public let registeredAt: UInt64
    /// Sequence and expiry of the token issued or refreshed last.
    public let tokenSequence: UInt64
    public let tokenExpiresAt: UInt64
    /// The latest heartbeat, if any.
    public let lastHeartbeat: PeerProtocol.PeerHeartbeat?
}

/// A message from a registered peer.
public struct PeerMessage: Sendable {
    public let peer: PeerID
    public let message: PeerWireMessage
}

/// A change in the set of registered peers.
public enum PeerLifecycleEvent: Sendable {
    case registered(LivePeer, effects: [DispatchEffect])
    case lost(PeerID, reason: String, effects: [DispatchEffect])
    case revoked(PeerID, reason: String, effects: [DispatchEffect])
}

/// Errors of peer-plane operations.
public enum PeerPlaneError: Error, Equatable, CustomStringConvertible {
    case unknownPeer(String)
    case relayNotHosted
    case invalid(String)

    public var description: String {
        switch self {
        case .unknownPeer(let p): return "no registered peer \(p) is connected"
        case .relayNotHosted:
            return
                "the relay log is not hosted here (GATEWAY_FEATURE_HYPERBEE_RELAY is off, or GATEWAY_RELAY_STORE=lmdb has no log)"
        case .invalid(let why): return why
        }
    }
}

/// Which features are on (`GATEWAY_FEATURE_*`).
public struct FeatureFlags: Sendable, Equatable {
    public var hyperbeeRelay: Bool
    public var relayDispatcher: Bool
    public var tokenEnforcement: Bool

    public init(hyperbeeRelay: Bool = false, relayDispatcher: Bool = false, tokenEnforcement: Bool = false) {
        self.hyperbeeRelay = hyperbeeRelay
        self.relayDispatcher = relayDispatcher
        self.tokenEnforcement = tokenEnforcement
    }

    /// One line per flag saying what it changes (logged at start, shown in /health).
    public var effects: [String: String] {
        [
            "GATEWAY_FEATURE_HYPERBEE_RELAY": hyperbeeRelay
                ? "on: the relay log is hosted (websocket relay on /, replication to registered peers)"
                : "off: no relay is hosted; the websocket at / answers every message with the reason",
            "GATEWAY_FEATURE_RELAY_DISPATCHER": relayDispatcher
                ? "on: REQs go through the dispatcher (to peers or the gateway itself)"
                : "off: the gateway answers every REQ itself",
            "GATEWAY_FEATURE_RELAY_TOKEN_ENFORCEMENT": tokenEnforcement
                ? "on: replication and peer channels need a valid token; websocket EVENTs need one unless the author is an admin or allowed; a bad token closes the websocket with 4403"
                : "off: tokens are issued and checked when presented, but not required",
        ]
    }
}

/// The gateway's peer plane (see the hooks above). Create it, `start()` it, wire `routes` into the HTTP server and
/// `frontend(relay:)` as the websocket frontend; `shutdown()` closes peer sessions before the caller closes the log.
public final class RelayHost: PeerPlane, Sendable {
    public let configuration: PeerPlaneConfiguration
    public let flags: FeatureFlags
    /// Nostr admin pubkeys (hex) allowed to call the admin API and to write without a token.
    public let adminPubkeys: Set<String>
    /// Pubkeys allowed to write by configuration (GATEWAY_RELAY_ALLOWED_PUBLIC_KEYS).
    public let configuredAllowedPubkeys: Set<String>
    public let gatewayKey: Ed25519KeyPair
    public let swarmKey: Ed25519KeyPair
    public let tokens: TokenService
    public let store: PeerStore
    public let dispatcher: LoadAwareDispatcher
    public let telemetry: InProcessTelemetryBus
    public let audit: AuditLog
    public let clock: any TokenClock
    /// The relay log, when hosted.
    public let log: HyperLog?
    /// The relay tree's version, when hosted on a HyperTree.
    let treeVersion: @Sendable () -> UInt64?
    let hub = ReplicationHub()
    let directory = RendezvousDirectory()
    let metrics: PeerPlaneMetrics
    let logger: Logger
    let moderation: ModerationBox
    public var dispatcherEnabled: Bool { flags.relayDispatcher }
    /// Set by `start`.
    let swarmBox = Mutex<SwarmNode?>(nil)
    /// The delegation layer's websocket hook (`setWebsocketDelegate`).
    let delegateBox = Mutex<(any WebsocketDelegate)?>(nil)
    let startedAt = Date()

    struct SessionEntry {
        let session: PeerWireSession
        let connection: SwarmConnection
        var requestTokens: Double
        var lastRefill: ContinuousClock.Instant
    }

    struct RegisteredPeer {
        let session: PeerWireSession
        let connection: SwarmConnection
        var registeredAt: UInt64
        var token: IssuedToken
        var heartbeat: PeerProtocol.PeerHeartbeat?
        var heartbeatAt: UInt64?
    }

    struct WebsocketEntry {
        let peer: String
        let tokenId: String
        let close: @Sendable (_ frameText: String, _ reason: String) -> Void
    }

    struct State {
        var sessions: [ObjectIdentifier: SessionEntry] = [:]
        var registered: [String: RegisteredPeer] = [:]
        var websockets: [UInt64: WebsocketEntry] = [:]
        var nextWebsocket: UInt64 = 1
        var messageSubscribers: [UInt64: (Set<PeerWireMessageID>, AsyncStream<PeerMessage>.Continuation)] = [:]
        var lifecycleSubscribers: [UInt64: AsyncStream<PeerLifecycleEvent>.Continuation] = [:]
        var effectSubscribers: [UInt64: AsyncStream<[DispatchEffect]>.Continuation] = [:]
        var nextSubscriber: UInt64 = 1
        var paused: String?
        /// Replicators stopped by a pause, kept alive for the rest of the process (one per pause).
        var retiredReplicators: [Replicator] = []
        var tasks: [Task<Void, Never>] = []
        var stopped = false
    }

    let state = Mutex(State())

    /// - Parameters:
    ///   - log: the relay log (nil when the relay is not hosted); `treeVersion` its HyperTree's version.
    ///   - store: the peer store (`<data>/peers`).
    public init(
        configuration: PeerPlaneConfiguration, flags: FeatureFlags, adminPubkeys: [String],
        allowedPubkeys: [String] = [], gatewayKey: Ed25519KeyPair, swarmKey: Ed25519KeyPair, store: PeerStore,
        log: HyperLog?, treeVersion: @escaping @Sendable () -> UInt64? = { nil }, audit: AuditLog = .disabled,
        clock: any TokenClock = SystemClock(), logger: Logger = Logger(label: "hypertuna.peerplane")
    ) throws {
        self.configuration = configuration
        self.flags = flags
        self.adminPubkeys = Set(adminPubkeys.map { $0.lowercased() })
        self.configuredAllowedPubkeys = Set(allowedPubkeys.map { $0.lowercased() })
        self.gatewayKey = gatewayKey
        self.swarmKey = swarmKey
        self.store = store
        self.log = flags.hyperbeeRelay ? log : nil
        self.treeVersion = treeVersion
        self.audit = audit
        self.clock = clock
        self.logger = logger
        self.metrics = PeerPlaneMetrics()
        self.telemetry = InProcessTelemetryBus()
        self.tokens = TokenService(
            keyPair: gatewayKey, store: store.tokens, policy: configuration.tokenPolicy, clock: clock,
            audit: TokenAudit(logger: logger))
        self.dispatcher = try LoadAwareDispatcher(config: configuration.dispatcher, telemetry: telemetry)
        self.moderation = ModerationBox(try store.moderation())
        let paused = try store.replicationPause()
        state.withLock { $0.paused = paused }
    }

    /// The relay log key (the token scope), when hosted.
    public var relayKey: [UInt8]? { log?.key }

    /// The swarm node, once started.
    public var swarm: SwarmNode? { swarmBox.withLock { $0 } }

    /// Topic on which the gateway's swarm address is announced in its rendezvous directory
    /// (BLAKE2b-256 of `hypertuna-public-gateway-discovery-v1`, as the deployed JS).
    public static let discoveryTopic = BLAKE2b.hash(
        Array("hypertuna-public-gateway-discovery-v1".utf8), outputLength: 32)

    /// The replication topic peers join: the relay log's discovery key.
    public var replicationTopic: [UInt8]? { log?.discoveryKey }

    // MARK: lifecycle

    /// Listens on the swarm address, starts replication serving (unless paused), announces the gateway on the
    /// rendezvous topics and starts the telemetry, dispatcher-tick and token-sweep tasks.
    @discardableResult
    public func start() async throws -> PeerAddress {
        var swarmConfig = SwarmConfiguration()
        swarmConfig.maxConnectionsPerPeer = configuration.maxConnectionsPerPeer
        let node = SwarmNode(keyPair: swarmKey, config: swarmConfig, logger: logger) { [weak self] conn in
            self?.attach(conn)
        }
        swarmBox.withLock { $0 = node }
        let address = try await node.listen(host: configuration.swarmHost, port: configuration.swarmPort)
        if let log, state.withLock({ $0.paused }) == nil {
            hub.add(log, maxInflightPerPeer: configuration.replicationMaxInflightPerPeer)
        }
        let advertised = PeerAddress(
            host: configuration.swarmPublicHost, port: address.port, publicKey: swarmKey.publicKey)
        try? await directory.announce(topic: Self.discoveryTopic, address: advertised)
        if let topic = replicationTopic { try? await directory.announce(topic: topic, address: advertised) }
        let bus = telemetry
        let tasks: [Task<Void, Never>] = [
            Task { [weak self] in await self?.consumeLoadReports() },
            Task { [weak self] in await self?.periodic() },
            Task { await TelemetryMetricsBridge(bus: bus).run() },
        ]
        state.withLock { $0.tasks += tasks }
        for (flag, effect) in flags.effects.sorted(by: { $0.key < $1.key }) {
            logger.info("\(flag): \(effect)")
        }
        logger.info(
            "peer plane listening",
            metadata: [
                "swarm": "\(address.host):\(address.port)", "swarmKey": "\(swarmKey.publicKey.hex)",
                "relayKey": "\(log?.key.hex ?? "not hosted")",
                "replication": "\(state.withLock { $0.paused }.map { "paused: \($0)" } ?? "serving")",
            ])
        writeMetadata()
        return address
    }

    /// Closes every peer session and the swarm node, ends the dispatcher's jobs and the subscriptions, and
    /// flushes the audit log. The caller closes the relay log afterwards.
    public func shutdown() async {
        let (tasks, subs) = state.withLock { s -> ([Task<Void, Never>], State) in
            s.stopped = true
            let t = s.tasks
            s.tasks = []
            return (t, s)
        }
        for t in tasks { t.cancel() }
        writeMetadata()
        hub.stop()
        for entry in subs.sessions.values { entry.session.close(reason: "gateway shutting down") }
        await swarm?.shutdown()
        publishEffects(dispatcher.shutdown())
        telemetry.finish()
        // Finish outside the lock: each stream's termination handler takes it.
        let (m, l, e) = state.withLock { s in
            defer {
                s.messageSubscribers = [:]
                s.lifecycleSubscribers = [:]
                s.effectSubscribers = [:]
            }
            return (
                s.messageSubscribers.values.map(\.1), Array(s.lifecycleSubscribers.values),
                Array(s.effectSubscribers.values)
            )
        }
        for c in m { c.finish() }
        for c in l { c.finish() }
        for c in e { c.finish() }
        audit.flush()
        logger.info("peer plane stopped")
    }

    // MARK: sessions

    /// Opens the `hypertuna-relay-v2` channel on a new connection (the swarm node's connection handler).
    func attach(_ conn: SwarmConnection) {
        let key = conn.remotePublicKey
        let session = PeerWireSession.open(
            on: conn, handshake: gatewayHandshake(), logger: logger,
            onRequest: { [weak self] request in
                guard let self else { return .error(503, "gateway shutting down") }
                return await self.handle(request, connection: conn)
            },
            onMessage: { [weak self] message in self?.received(message, from: key) },
            onClose: { [weak self] reason in self?.closed(conn, reason: reason) })
        let burst = Double(configuration.peerRequestsPerMinute) / 6
        state.withLock {
            $0.sessions[ObjectIdentifier(conn)] = SessionEntry(
                session: session, connection: conn, requestTokens: max(1, burst), lastRefill: .now)
        }
        metrics.swarmConnections.record(state.withLock { $0.sessions.count })
    }

    func gatewayHandshake() -> PeerWireHandshake {
        PeerWireHandshake(
            isServer: false, role: "gateway", capabilities: ["http", "health", "telemetry", "jobs"],
            dispatcherEnabled: flags.relayDispatcher, hyperbeeRelayEnabled: flags.hyperbeeRelay,
            hyperbeeKey: log?.key.hex, hyperbeeDiscoveryKey: log?.discoveryKey.hex, hyperbeeLength: log?.length,
            hyperbeeContiguousLength: log?.contiguousLength, hyperbeeLag: 0, hyperbeeUpdatedAt: clock.nowMilliseconds(),
            hyperbeeVersion: treeVersion())
    }

    private func closed(_ conn: SwarmConnection, reason: String) {
        let key = conn.remotePublicKey.hex
        // A protocol failure on the connection (a replication peer that sent bad data or a malformed frame).
        if case .protomux(let why)? = conn.failure {
            audit.record("replication.failure", ["peer": .string(key), "reason": .string(why.description)])
            _ = try? store.update(peerKey: key) { r in r?.replicationFailures += 1 }
        }
        let lost: Bool = state.withLock { s in
            s.sessions[ObjectIdentifier(conn)] = nil
            if let r = s.registered[key], r.connection === conn {
                s.registered[key] = nil
                return true
            }
            return false
        }
        metrics.swarmConnections.record(state.withLock { $0.sessions.count })
        guard lost else { return }
        metrics.activePeers.record(state.withLock { $0.registered.count })
        let effects = (try? dispatcher.peerLost(peer: PeerID(key), reason: .peerDisconnected)) ?? []
        publishEffects(effects)
        publish(.lost(PeerID(key), reason: reason, effects: effects))
        logger.info("peer disconnected", metadata: ["peer": "\(key.prefix(16))", "reason": "\(reason)"])
    }

    /// Per-channel request budget: `peerRequestsPerMinute`, burst a tenth of a minute's worth.
    func admitRequest(_ conn: SwarmConnection) -> Bool {
        let rate = Double(configuration.peerRequestsPerMinute) / 60
        let burst = max(1, Double(configuration.peerRequestsPerMinute) / 6)
        return state.withLock { s in
            guard var e = s.sessions[ObjectIdentifier(conn)] else { return false }
            let now = ContinuousClock.Instant.now
            let elapsed = now - e.lastRefill
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            e.requestTokens = min(burst, e.requestTokens + seconds * rate)
            e.lastRefill = now
            guard e.requestTokens >= 1 else {
                s.sessions[ObjectIdentifier(conn)] = e
                return false
            }
            e.requestTokens -= 1
            s.sessions[ObjectIdentifier(conn)] = e
            return true
        }
    }

    // MARK: hooks

    public var livePeers: [LivePeer] {
        state.withLock { s in s.registered.map { Self.live($0.key, $0.value) } }.sorted {
            $0.id.rawValue < $1.id.rawValue
        }
    }

    public func livePeer(_ id: PeerID) -> LivePeer? {
        state.withLock { s in s.registered[id.rawValue].map { Self.live(id.rawValue, $0) } }
    }

    static func live(_ key: String, _ r: RegisteredPeer) -> LivePeer {
        LivePeer(
            id: PeerID(key), publicKey: r.connection.remotePublicKey, channel: r.session, registeredAt: r.registeredAt,
            tokenSequence: r.token.sequence, tokenExpiresAt: r.token.expiresAt, lastHeartbeat: r.heartbeat)
    }

    public func send(_ message: PeerWireMessage, to peer: PeerID) throws {
        guard let session = state.withLock({ $0.registered[peer.rawValue]?.session }) else {
            throw PeerPlaneError.unknownPeer(peer.rawValue)
        }
        try session.send(message)
    }

    public func messages(_ ids: Set<PeerWireMessageID>) -> AsyncStream<PeerMessage> {
        let (stream, c) = AsyncStream.makeStream(of: PeerMessage.self, bufferingPolicy: .bufferingNewest(4096))
        let id = state.withLock { s -> UInt64? in
            guard !s.stopped else { return nil }
            defer { s.nextSubscriber += 1 }
            s.messageSubscribers[s.nextSubscriber] = (ids, c)
            return s.nextSubscriber
        }
        guard let id else {
            c.finish()
            return stream
        }
        c.onTermination = { [weak self] _ in _ = self?.state.withLock { $0.messageSubscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public func lifecycleEvents() -> AsyncStream<PeerLifecycleEvent> {
        let (stream, c) = AsyncStream.makeStream(of: PeerLifecycleEvent.self, bufferingPolicy: .bufferingNewest(1024))
        let id = state.withLock { s -> UInt64? in
            guard !s.stopped else { return nil }
            defer { s.nextSubscriber += 1 }
            s.lifecycleSubscribers[s.nextSubscriber] = c
            return s.nextSubscriber
        }
        guard let id else {
            c.finish()
            return stream
        }
        c.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.lifecycleSubscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public func dispatcherEffects() -> AsyncStream<[DispatchEffect]> {
        let (stream, c) = AsyncStream.makeStream(of: [DispatchEffect].self, bufferingPolicy: .unbounded)
        let id = state.withLock { s -> UInt64? in
            guard !s.stopped else { return nil }
            defer { s.nextSubscriber += 1 }
            s.effectSubscribers[s.nextSubscriber] = c
            return s.nextSubscriber
        }
        guard let id else {
            c.finish()
            return stream
        }
        c.onTermination = { [weak self] _ in _ = self?.state.withLock { $0.effectSubscribers.removeValue(forKey: id) } }
        return stream
    }

    func publish(_ event: PeerLifecycleEvent) {
        for c in state.withLock({ Array($0.lifecycleSubscribers.values) }) { c.yield(event) }
    }

    func publishEffects(_ effects: [DispatchEffect]) {
        guard !effects.isEmpty else { return }
        for c in state.withLock({ Array($0.effectSubscribers.values) }) { c.yield(effects) }
    }

    /// Inbound one-way messages (on the connection's event loop): telemetry is consumed here; everything from a
    /// registered peer goes to the subscribers of its id.
    private func received(_ message: PeerWireMessage, from key: [UInt8]) {
        let hex = key.hex
        guard state.withLock({ $0.registered[hex] != nil }) else {
            logger.debug(
                "dropping message from an unregistered peer",
                metadata: ["peer": "\(hex.prefix(16))", "id": "\(message.id)"])
            return
        }
        if case .telemetry(let hb) = message { heartbeat(hb, from: hex) }
        let peerMessage = PeerMessage(peer: PeerID(hex), message: message)
        let targets = state.withLock { s in s.messageSubscribers.values.filter { $0.0.contains(message.id) }.map(\.1) }
        for t in targets { t.yield(peerMessage) }
    }
}

/// The moderation lists, shared by the write policy, the websocket gate and the admin API.
final class ModerationBox: Sendable {
    private let value: Mutex<ModerationState>
    init(_ v: ModerationState) { value = Mutex(v) }
    var current: ModerationState { value.withLock { $0 } }
    func update(_ body: (inout ModerationState) -> Void) -> ModerationState {
        value.withLock { v in
            body(&v)
            return v
        }
    }
}
