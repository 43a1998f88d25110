import ArgumentParser
import Foundation
import HyperCrypto
import HyperLog
import Logging
import Metrics
import NostrRelay
import NostrRelayServer
import Prometheus
import RelayHost
import ServiceLifecycle

/// `hypertuna-gateway serve`: runs the relay and its peer plane until SIGINT/SIGTERM, then closes the peer
/// sessions, flushes and closes the log.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the gateway (default: 127.0.0.1:4430, swarm on 4431, data in ./data).")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = await GatewaySupport.configuration(options)
        let peerConfig = GatewaySupport.peerPlaneConfiguration(options, config)
        GatewaySupport.bootstrapLogging(level: config.logLevel)
        let logger = {
            var l = Logger(label: "hypertuna.gateway")
            l.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
            return l
        }()

        let keys: (gateway: Ed25519KeyPair, created: Bool, swarm: Ed25519KeyPair)
        do {
            let g = try GatewayKeyFile.loadOrCreate(directory: config.storagePath)
            let s = try GatewayKeyFile.loadOrCreate(directory: config.storagePath, fileName: "swarm.key")
            keys = (g.keyPair, g.created, s.keyPair)
        } catch { GatewaySupport.fail("\(error)") }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let flags = FeatureFlags(
            hyperbeeRelay: config.featureHyperbeeRelay, relayDispatcher: config.featureRelayDispatcher,
            tokenEnforcement: config.featureRelayTokenEnforcement)
        let opened = flags.hyperbeeRelay ? GatewaySupport.openRelayStore(config, key: keys.gateway) : nil
        let host: RelayHost
        do {
            let store = try PeerStore(directory: (config.storagePath as NSString).appendingPathComponent("peers"))
            let audit = try AuditLog(path: peerConfig.auditLogPath)
            var treeVersion: @Sendable () -> UInt64? = { nil }
            if let opened { treeVersion = opened.treeVersion }
            host = try RelayHost(
                configuration: peerConfig, flags: flags, adminPubkeys: config.adminPublicKeys,
                allowedPubkeys: config.allowedPublicKeys, gatewayKey: keys.gateway, swarmKey: keys.swarm,
                store: store, log: opened?.log, treeVersion: treeVersion, audit: audit, logger: logger)
        } catch { GatewaySupport.fail("cannot start the peer plane: \(error)") }
        let relay = opened.map { o in
            Relay(
                configuration: config.relayConfiguration(), store: TimedEventStore(o.store, telemetry: host.telemetry),
                policy: ModeratedWritePolicy(base: config.makeWritePolicy(), host: host), logger: logger)
        }

        logger.info(
            "gateway key \(keys.created ? "created" : "loaded")",
            metadata: [
                "publicKey": "\(keys.gateway.publicKey.hex)", "data": "\(config.storagePath)",
                "store": "\(config.store.rawValue)", "audit": "\(peerConfig.auditLogPath ?? "off")",
            ])
        if let relay { logger.info("write policy: \(relay.policy.summary)") }
        if let indexed = opened?.store as? IndexedEventStore {
            // Start-up reads that only speed writes up; writes are served meanwhile (with a read per event).
            logger.info("relay store: loading the deletion and stored-id filters in the background")
            Task {
                let warm = await indexed.warmUp()
                logger.info("relay store: filters loaded: \(warm)")
            }
        }
        logger.info("memory allocator: \(Allocator.summary)")
        if config.writePolicy == .open && config.writePolicyIsDefault && relay != nil {
            logger.notice(
                "no GATEWAY_RELAY_ADMIN_PUBLIC_KEY configured: anyone can publish and the admin API is off. Set it (and GATEWAY_RELAY_WRITE_POLICY=admins) for admin-only writes."
            )
        }
        do { try await host.start() } catch {
            GatewaySupport.fail(
                "cannot listen on the swarm address \(peerConfig.swarmHost):\(peerConfig.swarmPort): \(error) (set GATEWAY_SWARM_PORT)"
            )
        }
        let url = config.relayURL
        let app = RelayServer.makeApplication(
            frontend: host.frontend(relay: relay), settings: RelayServerSettings(config),
            registry: config.metricsEnabled ? registry : nil, logger: logger,
            onServerRunning: { channel in
                logger.info(
                    "relay listening",
                    metadata: ["url": "\(url)", "address": "\(channel.localAddress?.description ?? "?")"])
            },
            authorizer: host.websocketAuthorizer(relay: relay), routes: host.routeInstaller,
            healthDetails: { host.healthFragment() })
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: GatewayShutdownService(host: host, relay: relay, logger: logger)),
                    .init(service: app),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
        try await group.run()
        logger.info("gateway stopped")
    }
}

/// Waits for graceful shutdown, then closes the peer sessions, flushes pending writes and closes the log. Listed
/// before the HTTP service, so the ServiceGroup stops the listener first and this last.
struct GatewayShutdownService: Service {
    let host: RelayHost
    let relay: Relay?
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("closing peer sessions")
        await host.shutdown()
        logger.info("flushing and closing the relay log")
        try await relay?.shutdown()
        host.store.close()
    }
}
