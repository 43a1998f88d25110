import ArgumentParser
import Foundation
import HyperLog
import HyperTree
import NostrRelay
import NostrRelayServer

/// `hypertuna-gateway log ...`: append to, inspect and verify the signed log kept under a data directory.
struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Inspect or verify the gateway's signed relay log; append to or demo a scratch log beside it.",
        subcommands: [Append.self, Inspect.self, Verify.self, Demo.self])

    struct Location: ParsableArguments {
        /// `--config` and `--data`, read exactly as `serve` reads them (with `GATEWAY_RELAY_STORAGE`).
        @OptionGroup var gateway: ConfigOptions

        @Option(help: "Log name inside the store (`relay` is the gateway's relay log; default: see each command).")
        var name: String?

        /// The name of the log that holds the relay's HyperTree (see `IndexedEventStore.durable`).
        static let relayLogName = IndexedEventStore.relayLogName

        /// The configured gateway's log store directory; the relay log must exist there unless `scratch`.
        func storeDirectory(scratch: Bool) async throws -> String {
            let config = await GatewaySupport.configuration(gateway)
            guard scratch || config.store == .hypertree else {
                throw LogCommandError(
                    "this store has no log: GATEWAY_RELAY_STORE=\(config.store.rawValue) keeps events without a signed relay log"
                )
            }
            return (config.storagePath as NSString).appendingPathComponent(StoreKind.hypertree.directoryName)
        }

        /// Opens an existing log for reading (`relay` by default); a missing log is a clear error.
        func openExisting() async throws -> (LMDBLogStore, HyperLog) {
            let logName = name ?? Self.relayLogName
            let storeDirectory = try await storeDirectory(scratch: false)
            guard FileManager.default.fileExists(atPath: storeDirectory) else {
                let data = (storeDirectory as NSString).deletingLastPathComponent
                let lmdbStore = (data as NSString).appendingPathComponent(StoreKind.lmdb.directoryName)
                if FileManager.default.fileExists(atPath: lmdbStore) {
                    throw LogCommandError(
                        "this store has no log: \(data) holds an LMDB index store (\(lmdbStore), "
                            + "GATEWAY_RELAY_STORE=lmdb), which keeps events without a signed log")
                }
                throw LogCommandError("no log store at \(storeDirectory) (start `hypertuna-gateway serve` first)")
            }
            let store = try LMDBLogStore(path: storeDirectory)
            do {
                return (store, try HyperLog.open(try store.open(name: logName)))
            } catch {
                store.close()
                throw error
            }
        }

        /// Opens (creating with its own key pair on first use) a scratch log for raw blocks; never the relay log,
        /// whose blocks must stay HyperTree nodes.
        func openScratch(mode: SigningMode = .manifest) async throws -> (LMDBLogStore, HyperLog) {
            let logName = name ?? "scratch"
            guard logName != Self.relayLogName else {
                throw ValidationError(
                    "refusing to append raw blocks to the relay log: its blocks are the relay's HyperTree; use --name")
            }
            let directory = try await storeDirectory(scratch: true)
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let store = try LMDBLogStore(path: directory)
            do {
                return (store, try HyperLog.openOrCreate(in: try store.open(name: logName), mode: mode))
            } catch {
                store.close()
                throw error
            }
        }
    }

    struct Append: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append each argument as one block (one atomic, signed batch).")

        @OptionGroup var location: Location

        @Option(help: "Signing mode when the log is created: manifest or compat.")
        var mode: String = "manifest"

        @Argument(help: "Block texts (UTF-8).")
        var text: [String]

        func run() async throws {
            guard let mode = SigningMode(rawValue: mode) else {
                throw ValidationError("--mode must be manifest or compat")
            }
            guard !text.isEmpty else { throw ValidationError("give at least one block text") }
            let (store, log) = try await location.openScratch(mode: mode)
            defer { store.close() }
            let before = log.length
            let length = try log.append(text.map { Array($0.utf8) })
            print("appended blocks \(before)..<\(length)")
            print(log.info)
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the log state and its last blocks.")

        @OptionGroup var location: Location

        @Option(help: "How many of the last blocks to print.")
        var last: Int = 5

        func run() async throws {
            let (store, log) = try await location.openExisting()
            defer { store.close() }
            print(log.info)
            let length = log.length
            let from = length - min(length, UInt64(max(0, last)))
            for i in from..<length {
                if log.has(i) {
                    let block = try log.get(i)
                    print("block \(i) (\(block.count) bytes): \(BlockText.describe(block, seq: i))")
                } else {
                    print("block \(i): not stored locally")
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every stored block against the signed Merkle tree.")

        @OptionGroup var location: Location

        func run() async throws {
            let (store, log) = try await location.openExisting()
            defer { store.close() }
            let checked = try log.verify()
            print("ok: signature valid for length \(log.length) (fork \(log.fork)); \(checked) blocks verified")
        }
    }

    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append a batch of sample blocks, verify the log, and replicate it into an in-memory replica.")

        @OptionGroup var location: Location

        @Option(help: "Blocks to append.")
        var count: Int = 10

        func run() async throws {
            guard count > 0 && count <= 100_000 else { throw ValidationError("--count must be 1...100000") }
            let (store, log) = try await location.openScratch()
            defer { store.close() }
            let start = log.length
            let batch = (0..<count).map { i in Array("demo block \(start + UInt64(i))".utf8) }
            try log.append(batch)
            print(log.info)
            print("verified \(try log.verify()) stored blocks against the signed tree")
            let report = try await HyperLog.replicationCheck(of: log)
            print(report)
        }
    }
}

/// Terminal-safe text for a log block: a Hyperbee header or node decoded (key and value shown as text when they are
/// printable UTF-8, else as hex), anything else as hex. Never raw bytes: they could hold terminal control codes.
enum BlockText {
    static let limit = 120

    static func describe(_ block: [UInt8], seq: UInt64) -> String {
        if seq == 0, let header = try? TreeHeader.decode(block) {
            return "hyperbee header (protocol \(text(Array(header.protocolName.utf8))))"
        }
        if let node = try? NodeMessage.decode(block, seq: seq) {
            let value = node.value.map { text($0) } ?? "(none: deletion)"
            return "node key \(text(node.key)) value \(value)"
        }
        return "hex " + hex(block)
    }

    /// The bytes as quoted text if they are printable UTF-8, else `0x` and hex; shortened past `limit`.
    static func text(_ bytes: [UInt8]) -> String {
        if let s = String(validating: bytes, as: UTF8.self),
            !s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        {
            let cut = s.count > limit ? String(s.prefix(limit)) + "…" : s
            return "\"" + cut + "\""
        }
        return "0x" + hex(bytes)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let shown = bytes.prefix(limit / 2).map { String(format: "%02x", $0) }.joined()
        return bytes.count > limit / 2 ? shown + "… (\(bytes.count) bytes)" : shown
    }
}

/// A failure of a `log` subcommand that is not a usage mistake (printed without the usage text).
struct LogCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
