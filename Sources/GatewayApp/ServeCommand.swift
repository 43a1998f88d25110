import ArgumentParser
import Foundation
import HyperCrypto
import Logging
import Metrics
import NostrRelay
import NostrRelayServer
import Prometheus
import ServiceLifecycle

/// `hypertuna-gateway serve`: runs the relay until SIGINT/SIGTERM, then flushes and closes the log.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the gateway relay (default: 127.0.0.1:4430, data in ./data).")

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = await GatewaySupport.configuration(options)
        GatewaySupport.bootstrapLogging(level: config.logLevel)
        let logger = {
            var l = Logger(label: "hypertuna.gateway")
            l.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
            return l
        }()

        let keyPair: (keyPair: Ed25519KeyPair, created: Bool)
        do { keyPair = try GatewayKeyFile.loadOrCreate(directory: config.storagePath) } catch {
            GatewaySupport.fail("\(error)")
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let store: any EventStore
        do { store = try config.openEventStore(keyPair: keyPair.keyPair) } catch {
            GatewaySupport.fail("cannot open the relay store in \(config.storeDirectory): \(error)")
        }
        let policy = config.makeWritePolicy()
        let relay = Relay(configuration: config.relayConfiguration(), store: store, policy: policy, logger: logger)

        logger.info(
            "gateway key \(keyPair.created ? "created" : "loaded")",
            metadata: [
                "publicKey": "\(keyPair.keyPair.publicKey.hex)", "data": "\(config.storagePath)",
                "store": "\(config.store.rawValue)",
            ])
        logger.info("write policy: \(policy.summary)")
        logger.info("memory allocator: \(Allocator.summary)")
        if config.writePolicy == .open && config.writePolicyIsDefault {
            logger.notice(
                "no GATEWAY_RELAY_ADMIN_PUBLIC_KEY configured: anyone can publish. Set it (and GATEWAY_RELAY_WRITE_POLICY=admins) for admin-only writes."
            )
        }
        let settings = RelayServerSettings(config)
        let url = config.relayURL
        let app = RelayServer.makeApplication(
            frontend: relay, settings: settings, registry: config.metricsEnabled ? registry : nil, logger: logger
        ) { channel in
            logger.info(
                "relay listening",
                metadata: ["url": "\(url)", "address": "\(channel.localAddress?.description ?? "?")"])
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: RelayShutdownService(relay: relay, logger: logger)),
                    .init(service: app),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
        try await group.run()
        logger.info("gateway stopped")
    }
}

/// Waits for graceful shutdown, then flushes pending writes and closes the store. Listed before the HTTP
/// service, so the ServiceGroup stops the listener first and this last.
struct RelayShutdownService: Service {
    let relay: Relay
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("flushing and closing the relay log")
        try await relay.shutdown()
    }
}
