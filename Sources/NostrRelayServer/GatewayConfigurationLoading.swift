import Configuration
import Foundation
import SystemPackage

extension GatewayConfiguration {
    /// Loads the configuration: environment variables first, then the optional JSON file (`configFile`, or the
    /// path in `GATEWAY_CONFIG_FILE`), then defaults. Throws `ConfigurationError` with the variable name.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment, configFile: String? = nil
    ) async throws -> GatewayConfiguration {
        var providers: [any ConfigProvider] = [EnvironmentVariablesProvider(environmentVariables: environment)]
        if let path = configFile ?? environment["GATEWAY_CONFIG_FILE"], !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else {
                throw ConfigurationError("GATEWAY_CONFIG_FILE", "no such file: \(path)")
            }
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(path)))
            } catch {
                throw ConfigurationError("GATEWAY_CONFIG_FILE", "cannot read \(path) as JSON: \(error)")
            }
        }
        return try load(from: ConfigReader(providers: providers))
    }
}
