import ArgumentParser
import Foundation
import Logging

/// Load generator for Nostr relays: ingest rate (EVENT->OK) and REQ->EOSE latency, against the gateway and the
/// nostr-sdk built-in relay as baseline, with the single-core libsecp256k1 verify rate as the physical limit.
@main
struct RelayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "RelayBench", abstract: "Nostr relay load generator (run in release: scripts/bench-relay.sh).")

    @Option(help: "hypertuna-gateway executable (release build).") var gateway: String
    @Option(help: "Python with nostr-sdk 0.45.1 for the baseline relay (empty: skip the baseline).") var python = ""
    @Option(help: "Baseline relay script.") var baselineScript = "Benchmarks/RelayBench/baseline_relay.py"
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
                results.append(
                    try await measure(
                        name: "hypertuna-gateway (\(store))", url: "ws://127.0.0.1:\(port)", data, filters, logger))
            } catch {
                Processes.stop(gw)
                throw error
            }
            Processes.stop(gw)
        }

        if !python.isEmpty {
            let bport = Processes.freePort()
            let base = try Processes.launch(
                python, [baselineScript, "\(bport)"], environment: [:], port: bport, log: "\(work)/baseline.log")
            do {
                results.append(
                    try await measure(
                        name: "nostr-sdk LocalRelay", url: "ws://127.0.0.1:\(bport)", data, filters, logger))
            } catch {
                Processes.stop(base)
                throw error
            }
            Processes.stop(base)
        }
        report(results, verify: verify)
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

    func report(_ results: [TargetResult], verify: Double) {
        print("\n== Summary")
        let base = results.first { !$0.name.hasPrefix("hypertuna-gateway") }
        for gw in results where gw.name.hasPrefix("hypertuna-gateway") {
            let ingestRatio = gw.ingestPerSecond / verify
            print(
                String(
                    format: "%@: ingest / single-core verify rate = %.0f / %.0f = %.2fx (target >= 0.40x): %@",
                    gw.name as NSString, gw.ingestPerSecond, verify, ingestRatio, ingestRatio >= 0.4 ? "MET" : "NOT MET"
                ))
            guard let base else { continue }
            print(
                String(
                    format: "  ingest vs baseline = %.0f / %.0f = %.2fx", gw.ingestPerSecond, base.ingestPerSecond,
                    gw.ingestPerSecond / base.ingestPerSecond))
            for (i, (label, p, _)) in gw.latencies.enumerated() {
                let b = base.latencies[i].1
                let ok = p.p50 <= b.p50 && p.p99 <= b.p99
                print(
                    String(
                        format: "  REQ %-12@ p50 %.2f vs %.2f ms (%.2fx), p99 %.2f vs %.2f ms (%.2fx): %@",
                        label as NSString, p.p50, b.p50, p.p50 / b.p50, p.p99, b.p99, p.p99 / b.p99,
                        ok ? "no worse than baseline" : "WORSE than baseline"))
            }
        }
    }
}
