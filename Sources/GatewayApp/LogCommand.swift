import ArgumentParser
import HyperLog

/// `hypertuna-gateway log ...`: append to, inspect and verify the signed log kept under a data directory.
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log",
        abstract: "Append to, inspect or verify the gateway's signed log (LMDB store under --data).",
        subcommands: [Append.self, Inspect.self, Verify.self, Demo.self])

    struct Location: ParsableArguments {
        @Option(help: "Data directory holding the LMDB log store (created if missing).")
        var data: String = "./data"

        @Option(help: "Log name inside the store.")
        var name: String = "relay"

        /// Opens the store and the log (creating the log and its key pair on first use).
        func open(mode: SigningMode = .manifest) throws -> (LMDBLogStore, HyperLog) {
            let store = try LMDBLogStore(path: data)
            do {
                return (store, try HyperLog.openOrCreate(in: try store.open(name: name), mode: mode))
            } catch {
                store.close()
                throw error
            }
        }
    }

    struct Append: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Append each argument as one block (one atomic, signed batch).")

        @OptionGroup var location: Location

        @Option(help: "Signing mode when the log is created: manifest or compat.")
        var mode: String = "manifest"

        @Argument(help: "Block texts (UTF-8).")
        var text: [String]

        func run() throws {
            guard let mode = SigningMode(rawValue: mode) else {
                throw ValidationError("--mode must be manifest or compat")
            }
            guard !text.isEmpty else { throw ValidationError("give at least one block text") }
            let (store, log) = try location.open(mode: mode)
            defer { store.close() }
            let before = log.length
            let length = try log.append(text.map { Array($0.utf8) })
            print("appended blocks \(before)..<\(length)")
            print(log.info)
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the log state and its last blocks.")

        @OptionGroup var location: Location

        @Option(help: "How many of the last blocks to print.")
        var last: Int = 5

        func run() throws {
            let (store, log) = try location.open()
            defer { store.close() }
            print(log.info)
            let length = log.length
            let from = length - min(length, UInt64(max(0, last)))
            for i in from..<length {
                if log.has(i) {
                    let block = try log.get(i)
                    print("block \(i) (\(block.count) bytes): \(String(decoding: block.prefix(120), as: UTF8.self))")
                } else {
                    print("block \(i): not stored locally")
                }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every stored block against the signed Merkle tree.")

        @OptionGroup var location: Location

        func run() throws {
            let (store, log) = try location.open()
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
            let (store, log) = try location.open()
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
