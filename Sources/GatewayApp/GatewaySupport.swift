import Foundation
import Logging
import NostrRelayServer

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

    /// Logging to standard error at the configured level.
    static func bootstrapLogging(level: String) {
        let parsed = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = parsed
            return handler
        }
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("hypertuna-gateway: \(message)\n".utf8))
        exit(1)
    }
}
