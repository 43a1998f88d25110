import ArgumentParser

/// `hypertuna-gateway`: the public gateway. `serve` is the default subcommand.
@main
struct GatewayCommand: AsyncParsableCommand {
    /// Every subcommand; `serve` is the default.
    static let subcommandList: [any ParsableCommand.Type] = [
        ServeCommand.self, ImportCommand.self, ExportCommand.self, LogCommand.self, AdminCommand.self,
    ]

    static let configuration = CommandConfiguration(
        commandName: "hypertuna-gateway",
        abstract: "Hypertuna public gateway: a Nostr relay on a single-writer log.",
        discussion:
            "Configuration comes from GATEWAY_* environment variables and an optional JSON file; see Docs/gateway.md.",
        subcommands: subcommandList,
        defaultSubcommand: ServeCommand.self
    )
}

/// Options shared by every subcommand that reads the configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "JSON configuration file (environment variables take precedence).")
    var config: String?

    @Option(name: .long, help: "Relay data directory (overrides GATEWAY_RELAY_STORAGE).")
    var data: String?
}
