import Foundation
import Hummingbird
import HyperCrypto
import HyperLog
import Logging
import NIOConcurrencyHelpers
import NostrRelay
import NostrRelayServer
import PeerProtocol
import PeerWire
import SwarmTransport
import Testing
import TokenService

@testable import RelayHost

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

/// A scratch directory removed at deinit.
final class Scratch: Sendable {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "relayhost-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// An admin Nostr key (secp256k1) for the admin API.
let adminSecret = [UInt8](repeating: 0x11, count: 32)
let adminPubkey = Schnorr.publicKey(secretKey: adminSecret)!.hex
let strangerSecret = [UInt8](repeating: 0x22, count: 32)

/// A gateway in process: relay log and store in a scratch directory, the peer plane, a relay engine, and the HTTP
/// application (for `.router` or `.live` tests).
final class TestGateway: Sendable {
    let scratch: Scratch
    let gatewayKey: Ed25519KeyPair
    let swarmKey: Ed25519KeyPair
    let clock: ManualClock
    let store: IndexedEventStore?
    let log: HyperLog?
    let host: RelayHost
    let relay: Relay?
    let address: PeerAddress
    let flags: FeatureFlags

    static func make(
        flags: FeatureFlags = FeatureFlags(hyperbeeRelay: true, relayDispatcher: true),
        quarantineThreshold: Int = 3, scratch: Scratch = Scratch(), gatewayKey: Ed25519KeyPair = .generate(),
        swarmKey: Ed25519KeyPair = .generate(), clock: ManualClock? = nil
    ) async throws -> TestGateway {
        let clock = clock ?? ManualClock(milliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
        var relayStore: IndexedEventStore?
        var log: HyperLog?
        if flags.hyperbeeRelay {
            let dir = scratch.path + "/relay-log"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            (relayStore, log) = try IndexedEventStore.durable(path: dir, keyPair: gatewayKey)
        }
        let config = PeerPlaneConfiguration(
            swarmHost: "127.0.0.1", swarmPort: 0, publicHTTPURL: "http://127.0.0.1:4430",
            publicWebsocketURL: "ws://127.0.0.1:4430",
            tokenPolicy: try TokenPolicy(
                ttlSeconds: 3600, refreshWindowSeconds: 300, quarantineThreshold: quarantineThreshold),
            auditLogPath: scratch.path + "/audit.log")
        let tree = (relayStore?.kv as? HyperTreeKV)?.tree
        let host = try RelayHost(
            configuration: config, flags: flags, adminPubkeys: [adminPubkey], gatewayKey: gatewayKey,
            swarmKey: swarmKey,
            store: try PeerStore(directory: scratch.path + "/peers"), log: log, treeVersion: { tree?.version },
            audit: try AuditLog(path: config.auditLogPath), clock: clock, logger: Logger(label: "test.gateway"))
        let relay = relayStore.map { s in
            Relay(
                configuration: RelayConfiguration(auth: .disabled),
                store: TimedEventStore(s, telemetry: host.telemetry),
                policy: ModeratedWritePolicy(base: OpenWritePolicy(), host: host), logger: Logger(label: "test.relay"))
        }
        let address = try await host.start()
        return TestGateway(
            scratch: scratch, gatewayKey: gatewayKey, swarmKey: swarmKey, clock: clock, store: relayStore, log: log,
            host: host, relay: relay, address: address, flags: flags)
    }

    private init(
        scratch: Scratch, gatewayKey: Ed25519KeyPair, swarmKey: Ed25519KeyPair, clock: ManualClock,
        store: IndexedEventStore?, log: HyperLog?, host: RelayHost, relay: Relay?, address: PeerAddress,
        flags: FeatureFlags
    ) {
        self.scratch = scratch
        self.gatewayKey = gatewayKey
        self.swarmKey = swarmKey
        self.clock = clock
        self.store = store
        self.log = log
        self.host = host
        self.relay = relay
        self.address = address
        self.flags = flags
    }

    /// The HTTP/websocket application, as `serve` builds it.
    func application() -> some ApplicationProtocol {
        let host = self.host
        return RelayServer.makeApplication(
            frontend: host.frontend(relay: relay),
            settings: RelayServerSettings(host: "127.0.0.1", port: 0, metricsPath: nil), registry: nil,
            logger: Logger(label: "test.http"), authorizer: host.websocketAuthorizer(relay: relay),
            routes: host.routeInstaller, healthDetails: { host.healthFragment() })
    }

    /// Stores `n` signed events in the relay log (each insert is one append).
    @discardableResult
    func publish(_ n: Int, secret: [UInt8] = [UInt8](repeating: 5, count: 32)) async throws -> [NostrEvent] {
        var out: [NostrEvent] = []
        for i in 0..<n {
            let e = try NostrEvent.signed(
                secretKey: secret, createdAt: Int64(Date().timeIntervalSince1970) - 100 + Int64(i), kind: 1,
                content: "event \(i)")
            out.append(e)
            _ = try await store!.insert([e])
        }
        return out
    }

    func shutdown() async {
        await host.shutdown()
        try? await relay?.shutdown()
        if relay == nil { try? await store?.close() }
        host.store.close()
    }

    /// Audit records (parsed lines).
    func auditRecords() -> [[String: Any]] {
        host.audit.flush()
        guard let text = try? String(contentsOfFile: scratch.path + "/audit.log", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

/// A small worker: a SwarmNode that opens the `hypertuna-relay-v2` channel, replicates what it reads of the relay
/// log (sparse), and checks control frames with a `ControlFrameGuard` pinned to the gateway key.
final class TestPeer: Sendable {
    let key: Ed25519KeyPair
    let node: SwarmNode
    let hub = ReplicationHub()
    let frameGuard: ControlFrameGuard
    private let sessions = NIOLockedValueBox<[PeerWireSession]>([])
    private let replica = NIOLockedValueBox<(HyperLog, Replicator)?>(nil)

    init(gatewayKey: [UInt8], key: Ed25519KeyPair = .generate()) {
        self.key = key
        frameGuard = ControlFrameGuard(trustedGatewayKeys: [gatewayKey], store: InMemoryControlFrameSequenceStore())
        let box = sessions
        let hub = self.hub
        node = SwarmNode(keyPair: key) { conn in
            hub.attach(conn)
            box.withLockedValue { $0.append(PeerWireSession.open(on: conn, handshake: .worker())) }
        }
    }

    /// Dials the gateway and waits for the channel.
    @discardableResult
    func connect(_ address: PeerAddress) async throws -> PeerWireSession {
        _ = try await node.connect(to: address)
        let s = try #require(sessions.withLockedValue { $0.last })
        try await s.waitUntilOpen(timeout: .seconds(5))
        return s
    }

    var session: PeerWireSession? { sessions.withLockedValue { $0.last } }

    func registrationBody(publicKey: String? = nil, timestamp: UInt64) -> [UInt8] {
        let r = RegistrationRequest(
            publicKey: publicKey ?? key.publicKey.hex, relays: [RelayRegistration(identifier: "public-relay")],
            timestamp: timestamp)
        return Array(try! PayloadCodec.encode(r))
    }

    /// `POST /gateway/register` over the channel.
    func register(timestamp: UInt64, publicKey: String? = nil) async throws -> PeerWireResponse {
        try await session!.request(
            method: "POST", path: "/gateway/register",
            body: registrationBody(publicKey: publicKey, timestamp: timestamp))
    }

    /// Starts replicating the relay log with `key` (sparse: nothing is downloaded until `get`).
    func replicate(relayKey: [UInt8]) throws -> (HyperLog, Replicator) {
        let log = try HyperLog.replica(in: MemoryLogStorage(), key: relayKey)
        let r = hub.add(log, requestTimeout: .seconds(3))
        replica.withLockedValue { $0 = (log, r) }
        return (log, r)
    }

    func shutdown() async {
        hub.stop()
        await node.shutdown()
    }
}
