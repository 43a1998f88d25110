import ArgumentParser

/// `hypertuna-gateway`: the public gateway's entry point.
@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hypertuna-gateway",
        abstract: "Hypertuna public gateway: hosts the signed relay log and serves Nostr clients.",
        subcommands: [LogCommand.self])
}
