import Foundation
import HyperCrypto
import HyperLog
import Logging
import NostrRelay
import NostrRelayServer
import RelayHost

enum GatewaySupport {
    /// Loads and validates the configuration, or prints the error and exits with status 2.
    static func configuration(_ options: ConfigOptions) async -> GatewayConfiguration {
        do {
            var env = ProcessInfo.processInfo.environment
            if let data = options.data { env["GATEWAY_RELAY_STORAGE"] = data }
            let config = try await GatewayConfiguration.load(environment: env, configFile: options.config)
            try config.validateRelayConfiguration()
            return config
        } catch {
            FileHandle.standardError.write(Data("hypertuna-gateway: \(error)\n".utf8))
            exit(2)
        }
    }

    /// The environment with `--data` applied (what every configuration reader sees).
    static func environment(_ options: ConfigOptions) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        if let data = options.data { env["GATEWAY_RELAY_STORAGE"] = data }
        return env
    }

    /// The peer plane's settings, or prints the error and exits with status 2.
    static func peerPlaneConfiguration(_ options: ConfigOptions, _ config: GatewayConfiguration)
        -> PeerPlaneConfiguration
    {
        do { return try PeerPlaneConfiguration.load(environment: environment(options), gateway: config) } catch {
            FileHandle.standardError.write(Data("hypertuna-gateway: \(error)\n".utf8))
            exit(2)
        }
    }

    /// The relay store with its log (HyperTree store) and tree version, or prints the error and exits.
    static func openRelayStore(_ config: GatewayConfiguration, key: Ed25519KeyPair) -> (
        store: any EventStore, log: HyperLog?, treeVersion: @Sendable () -> UInt64?
    ) {
        do {
            guard config.store == .hypertree else { return (try config.openEventStore(keyPair: key), nil, { nil }) }
            try FileManager.default.createDirectory(
                atPath: config.storeDirectory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            let (store, log) = try IndexedEventStore.durable(path: config.storeDirectory, keyPair: key)
            let tree = (store.kv as? HyperTreeKV)?.tree
            return (store, log, { tree?.version })
        } catch {
            fail("cannot open the relay store in \(config.storeDirectory): \(error)")
        }
    }

    /// Logging to standard error at the configured level.
    static func bootstrapLogging(level: String) {
        let parsed = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = parsed
            return handler
        }
    }

    /// Opens the relay store with the gateway key (created if missing), or prints the error and exits.
    static func openStore(_ config: GatewayConfiguration) -> any EventStore {
        do {
            let key = try GatewayKeyFile.loadOrCreate(directory: config.storagePath).keyPair
            return try config.openEventStore(keyPair: key)
        } catch {
            fail("cannot open the relay store in \(config.storeDirectory): \(error)")
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("hypertuna-gateway: \(message)\n".utf8))
        exit(1)
    }
}
