import ArgumentParser
import Foundation
import Logging

/// Load generator for Nostr relays: ingest rate (EVENT->OK), REQ->EOSE latency, bulk import and peak memory of the
/// gateway against baseline relays measured in the same run (strfry, nostr-sdk's LocalRelay), with the single-core
/// libsecp256k1 verify rate as the physical limit.
@main
struct RelayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "RelayBench", abstract: "Nostr relay load generator (run in release: scripts/bench-relay.sh).")

    @Option(help: "hypertuna-gateway executable (release build).") var gateway: String
    @Option(help: "Python with nostr-sdk 0.45.1 for the nostr-sdk baseline relay.") var python = ""
    @Option(help: "nostr-sdk baseline relay script.") var baselineScript = "Benchmarks/RelayBench/baseline_relay.py"
    @Option(
        help:
            "Baseline relays, comma-separated: strfry, nostr-sdk, or none (default: strfry when its folder exists, then nostr-sdk when --python is given)."
    )
    var baseline = ""
    @Option(help: "Folder with the strfry binary and strfry-bench.conf (default: ../shared/strfry).") var strfryDir = ""
    @Flag(help: "Skip the bulk-import comparison (gateway `import` vs `strfry import` on the same JSONL file).")
    var skipImport = false
    @Option(help: "Events to ingest (they are the stored set the queries run on).") var events = 100_000
    @Option(help: "Concurrent ingest connections.") var connections = 4
    @Option(help: "EVENTs in flight per connection.") var window = 256
    @Option(help: "REQs per filter type.") var queries = 300
    @Option(help: "Distinct authors.") var authors = 1000
    @Option(help: "Distinct t-tag topics.") var topics = 200
    @Option(help: "Scratch directory for data and logs.") var work = "/tmp/relaybench"
    @Flag(help: "Only run the baseline relay.") var skipGateway = false
    @Option(help: "Gateway stores to measure, comma-separated (hypertree, lmdb).") var stores = "hypertree"
    @Option(help: "GATEWAY_LOG_LEVEL of the measured gateway (debug logs every group commit to <work>/gateway-*.log).")
    var gatewayLogLevel = "warning"
    @Option(
        help:
            "EVENTs per websocket connection before reconnecting (nostr-sdk's LocalRelay drops a connection after about 6,000 messages)."
    )
    var eventsPerConnection = 5000

    struct TargetResult {
        let name: String
        let ingestPerSecond: Double
        let accepted: Int
        let refused: Int
        let latencies: [(String, Percentiles, Double)]
        /// Peak resident set of the relay process over its whole run (VmHWM), MiB.
        var peakRSSMiB: Double?
    }

    struct ImportResult {
        let name: String
        let eventsPerSecond: Double
        let peakRSSMiB: Double
    }

    func run() async throws {
        var logger = Logger(label: "relaybench")
        logger.logLevel = .error
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)

        print(
            "RelayBench: \(events) events from \(authors) authors, \(connections) connections x window \(window), \(queries) REQs per filter (limit 100)"
        )
        let t0 = Date()
        let data = Dataset.make(count: events, authors: authors, topics: topics, seed: 42)
        print(String(format: "signed the dataset in %.1f s", Date().timeIntervalSince(t0)))
        let verify = VerifyRate.measure(data.events)
        print(String(format: "libsecp256k1 BIP-340 verify (x-only parse + verify), single core: %.0f /s", verify))

        let filters = makeQueries(data)
        var results: [TargetResult] = []

        for store in skipGateway ? [] : stores.split(separator: ",").map(String.init) {
            let port = Processes.freePort()
            let gw = try Processes.launch(
                gateway, ["serve"],
                environment: [
                    "PORT": "\(port)", "GATEWAY_HOST": "127.0.0.1", "GATEWAY_RELAY_STORAGE": "\(work)/gateway-\(store)",
                    "GATEWAY_RATELIMIT_ENABLED": "false", "GATEWAY_LOG_LEVEL": gatewayLogLevel,
                    "GATEWAY_RELAY_STORE": store, "GATEWAY_FEATURE_HYPERBEE_RELAY": "true", "GATEWAY_SWARM_PORT": "0",
                ], port: port, log: "\(work)/gateway-\(store).log")
            do {
                var r = try await measure(
                    name: "hypertuna-gateway (\(store))", url: "ws://127.0.0.1:\(port)", data, filters, logger)
                r.peakRSSMiB = Memory.peakRSSMiB(pid: gw.processIdentifier)
                results.append(r)
            } catch {
                Processes.stop(gw)
                throw error
            }
            Processes.stop(gw)
        }

        let strfry = StrfryFolder.locate(strfryDir)
        for b in try Baseline.parse(baseline, strfryDir: strfry, python: python) {
            let bport = Processes.freePort()
            let process: Process
            switch b {
            case .strfry:
                let conf = try StrfryFolder.writeConfig(folder: strfry!, directory: "\(work)/strfry", port: bport)
                process = try Processes.launch(
                    strfry! + "/strfry", ["--config=\(conf)", "relay"], environment: [:], port: bport,
                    log: "\(work)/strfry.log")
            case .nostrSDK:
                process = try Processes.launch(
                    python, [baselineScript, "\(bport)"], environment: [:], port: bport, log: "\(work)/baseline.log")
            }
            do {
                var r = try await measure(name: b.label, url: "ws://127.0.0.1:\(bport)", data, filters, logger)
                r.peakRSSMiB = Memory.peakRSSMiB(pid: process.processIdentifier)
                results.append(r)
            } catch {
                Processes.stop(process)
                throw error
            }
            Processes.stop(process)
        }
        var imports: [ImportResult] = []
        if !skipImport { imports = try compareImports(data, strfry: strfry) }
        report(results, imports, verify: verify)
    }

    func makeQueries(_ data: Dataset) -> [(String, [String])] {
        var rng = SplitMix(seed: 7)
        func pick<T>(_ a: [T]) -> T { a[Int(rng.next() % UInt64(a.count))] }
        let window: Int64 = 6 * 3600
        let span = data.lastCreatedAt - data.firstCreatedAt - window
        return [
            (
                "author+kind",
                (0..<queries).map { _ in #"{"authors":["\#(pick(data.authors))"],"kinds":[1],"limit":100}"# }
            ),
            ("tag", (0..<queries).map { _ in ##"{"#t":["\##(pick(data.topics))"],"limit":100}"## }),
            (
                "time range",
                (0..<queries).map { _ in
                    let since = data.firstCreatedAt + Int64(rng.next() % UInt64(span))
                    return #"{"since":\#(since),"until":\#(since + window),"limit":100}"#
                }
            ),
        ]
    }

    func measure(name: String, url: String, _ data: Dataset, _ filters: [(String, [String])], _ logger: Logger)
        async throws -> TargetResult
    {
        print("\n== \(name) (\(url))")
        let per = (data.frames.count + connections - 1) / connections
        let start = DispatchTime.now().uptimeNanoseconds
        let parts = try await withThrowingTaskGroup(of: LoadClient.IngestResult.self) { group in
            for c in 0..<connections {
                let lo = c * per
                let hi = min(data.frames.count, lo + per)
                guard lo < hi else { continue }
                let slice = data.frames[lo..<hi]
                let window = self.window
                let segment = max(1, eventsPerConnection)
                group.addTask {
                    // One worker: its slice in segments, a fresh connection per segment.
                    var total = LoadClient.IngestResult()
                    var start = slice.startIndex
                    while start < slice.endIndex {
                        let end = min(slice.endIndex, start + segment)
                        let r = try await LoadClient.ingest(
                            url: url, frames: slice[start..<end], window: window, logger: logger)
                        total.accepted += r.accepted
                        total.refused += r.refused
                        total.firstRefusal = total.firstRefusal ?? r.firstRefusal
                        start = end
                    }
                    return total
                }
            }
            var all: [LoadClient.IngestResult] = []
            for try await r in group { all.append(r) }
            return all
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let accepted = parts.reduce(0) { $0 + $1.accepted }
        let refused = parts.reduce(0) { $0 + $1.refused }
        let rate = Double(accepted + refused) / seconds
        print(
            String(
                format: "ingest: %d OK true, %d OK false in %.2f s = %.0f events/s", accepted, refused, seconds, rate))
        if let why = parts.compactMap(\.firstRefusal).first { print("  first refusal: \(why)") }
        var latencies: [(String, Percentiles, Double)] = []
        for (label, list) in filters {
            let r = try await LoadClient.queries(url: url, filters: list, logger: logger)
            let p = Percentiles(r.latenciesMs)
            let avgEvents = Double(r.events) / Double(max(list.count, 1))
            print(
                String(
                    format: "REQ %-12@ p50 %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  (%.1f events per REQ, %d CLOSED)",
                    label as NSString, p.p50, p.p95, p.p99, avgEvents, r.closed))
            latencies.append((label, p, avgEvents))
        }
        return TargetResult(
            name: name, ingestPerSecond: rate, accepted: accepted, refused: refused, latencies: latencies)
    }

    /// Times `hypertuna-gateway import` and (when available) `strfry import` on the same JSONL file, fresh stores.
    func compareImports(_ data: Dataset, strfry: String?) throws -> [ImportResult] {
        let file = "\(work)/events.jsonl"
        try data.events.map(\.json).joined(separator: "\n").appending("\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        print("\n== bulk import of \(data.events.count) events (\(file))")
        var out: [ImportResult] = []
        func record(_ name: String, _ run: MeasuredRun, log: String) throws {
            guard run.status == 0 else {
                throw BenchError("\(name) import exited with status \(run.status); see \(log)")
            }
            let rate = Double(data.events.count) / run.seconds
            print(
                String(
                    format: "%@: %.2f s = %.0f events/s, peak RSS %.0f MiB", name as NSString, run.seconds, rate,
                    run.peakRSSMiB))
            out.append(ImportResult(name: name, eventsPerSecond: rate, peakRSSMiB: run.peakRSSMiB))
        }
        for store in skipGateway ? [] : stores.split(separator: ",").map(String.init) {
            let log = "\(work)/import-\(store).log"
            setenv("GATEWAY_RELAY_STORE", store, 1)
            defer { unsetenv("GATEWAY_RELAY_STORE") }
            let run = try Processes.runMeasured(
                gateway, ["import", file, "--data", "\(work)/import-\(store)"], stdin: nil, log: log)
            try record("hypertuna-gateway import (\(store))", run, log: log)
        }
        if let strfry {
            let conf = try StrfryFolder.writeConfig(folder: strfry, directory: "\(work)/strfry-import", port: 1)
            let log = "\(work)/strfry-import.log"
            let run = try Processes.runMeasured(
                strfry + "/strfry", ["--config=\(conf)", "import"], stdin: file, log: log)
            try record("strfry import", run, log: log)
        }
        return out
    }

    func report(_ results: [TargetResult], _ imports: [ImportResult], verify: Double) {
        print("\n== Summary")
        func rss(_ r: TargetResult) -> String { r.peakRSSMiB.map { String(format: "%.0f MiB", $0) } ?? "?" }
        for r in results {
            print(
                String(format: "%@: ingest %.0f events/s, peak RSS %@", r.name as NSString, r.ingestPerSecond, rss(r)))
        }
        let baselines = results.filter { !$0.name.hasPrefix("hypertuna-gateway") }
        for gw in results where gw.name.hasPrefix("hypertuna-gateway") {
            let ingestRatio = gw.ingestPerSecond / verify
            print(
                String(
                    format: "%@: ingest / single-core verify rate = %.0f / %.0f = %.2fx", gw.name as NSString,
                    gw.ingestPerSecond, verify, ingestRatio))
            for base in baselines {
                // strfry is the bar (issue 18): ingest >= 1.5x, REQ p50 and p99 <= strfry's, peak RSS <= strfry's.
                let isStrfry = base.name == Baseline.strfry.label
                let ingestGoal = isStrfry ? 1.5 : 1.0
                let ratio = gw.ingestPerSecond / base.ingestPerSecond
                print(
                    String(
                        format: "  vs %@: ingest %.0f / %.0f = %.2fx (goal >= %.1fx): %@", base.name as NSString,
                        gw.ingestPerSecond, base.ingestPerSecond, ratio, ingestGoal,
                        ratio >= ingestGoal ? "MET" : "NOT MET"))
                for (i, (label, p, _)) in gw.latencies.enumerated() {
                    let b = base.latencies[i].1
                    let ok = p.p50 <= b.p50 && p.p99 <= b.p99
                    print(
                        String(
                            format: "    REQ %-12@ p50 %.2f vs %.2f ms (%.2fx), p99 %.2f vs %.2f ms (%.2fx): %@",
                            label as NSString, p.p50, b.p50, p.p50 / b.p50, p.p99, b.p99, p.p99 / b.p99,
                            ok ? "no worse" : "WORSE"))
                }
                if let a = gw.peakRSSMiB, let b = base.peakRSSMiB {
                    print(
                        String(
                            format: "    peak RSS %.0f vs %.0f MiB (%.2fx): %@", a, b, a / b,
                            a <= b ? "no more" : "MORE"))
                }
            }
        }
        if let strfryImport = imports.first(where: { $0.name == "strfry import" }) {
            for i in imports where i.name != strfryImport.name {
                let ratio = i.eventsPerSecond / strfryImport.eventsPerSecond
                print(
                    String(
                        format:
                            "%@ vs strfry import: %.0f / %.0f events/s = %.2fx (goal >= 1x): %@; peak RSS %.0f vs %.0f MiB (%.2fx)",
                        i.name as NSString, i.eventsPerSecond, strfryImport.eventsPerSecond, ratio,
                        ratio >= 1 ? "MET" : "NOT MET", i.peakRSSMiB, strfryImport.peakRSSMiB,
                        i.peakRSSMiB / strfryImport.peakRSSMiB))
            }
        }
    }
}
