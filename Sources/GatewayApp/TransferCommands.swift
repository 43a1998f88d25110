import ArgumentParser
import Foundation
import NostrRelay
import NostrRelayServer

/// `hypertuna-gateway import <file.jsonl>`: seeds the relay store with verified events.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import events from a JSONL file (one event per line) into the relay store.",
        discussion: "Every event's id and signature are checked; the write policy is not applied (operator action). "
            + "Stop the gateway first so live subscribers are not surprised.")

    @Argument(help: "JSONL file of Nostr events.") var file: String
    @Option(help: "Events per store commit.") var batchSize = 1000
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = await GatewaySupport.configuration(options)
        guard batchSize > 0 else { GatewaySupport.fail("--batch-size must be positive") }
        let store = GatewaySupport.openStore(config)
        let started = Date()
        let totals: EventTransfer.ImportProgress
        do {
            totals = try await EventTransfer.importJSONL(path: file, into: store, batchSize: batchSize) { p in
                FileHandle.standardError.write(Data("\rimport: \(p.summary)".utf8))
            }
        } catch {
            try? await store.close()
            GatewaySupport.fail("import failed: \(error)")
        }
        try await store.close()
        let seconds = max(Date().timeIntervalSince(started), 0.001)
        var report = "\rimport: \(totals.summary) in \(String(format: "%.1f", seconds)) s\n"
        for (reason, n) in totals.reasons.sorted(by: { $0.key < $1.key }) { report += "  rejected \(reason): \(n)\n" }
        for e in totals.firstErrors { report += "  invalid \(e)\n" }
        FileHandle.standardError.write(Data(report.utf8))
    }
}

/// `hypertuna-gateway export`: writes every stored event as JSONL.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export every stored event as JSONL (oldest first) to stdout or a file.")

    @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?
    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = await GatewaySupport.configuration(options)
        let store = GatewaySupport.openStore(config)
        let handle: FileHandle
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: nil),
                let h = FileHandle(forWritingAtPath: output)
            else { GatewaySupport.fail("cannot write \(output)") }
            handle = h
        } else {
            handle = FileHandle.standardOutput
        }
        let count = try await EventTransfer.exportJSONL(from: store, to: handle) { n in
            FileHandle.standardError.write(Data("\rexport: \(n) events".utf8))
        }
        if output != nil { try handle.close() }
        try await store.close()
        FileHandle.standardError.write(Data("\rexport: \(count) events written\n".utf8))
    }
}
