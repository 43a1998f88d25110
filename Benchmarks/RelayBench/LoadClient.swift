import Foundation
import HummingbirdWSClient
import Logging
import Synchronization

/// Drives one relay over websockets: pipelined EVENT->OK ingest and sequential REQ->EOSE latency.
enum LoadClient {
    struct IngestResult: Sendable {
        var accepted = 0
        var refused = 0
        var firstRefusal: String?
    }

    /// Sends `frames` over one connection keeping at most `window` EVENTs waiting for their OK.
    static func ingest(url: String, frames: ArraySlice<String>, window: Int, logger: Logger) async throws
        -> IngestResult
    {
        let result = Mutex(IngestResult())
        let config = WebSocketClientConfiguration(maxFrameSize: 1 << 22)
        try await WebSocketClient.connect(url: url, configuration: config, logger: logger) { inbound, outbound, _ in
            let (acks, continuation) = AsyncStream.makeStream(of: String.self)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 24) {
                        if case .text(let s) = message, s.hasPrefix("[\"OK\"") { continuation.yield(s) }
                    }
                    continuation.finish()
                }
                var sent = 0
                var acked = 0
                var iterator = acks.makeAsyncIterator()
                var index = frames.startIndex
                while acked < frames.count {
                    while sent < frames.count && sent - acked < window {
                        try await outbound.write(.text(frames[index]))
                        index += 1
                        sent += 1
                    }
                    guard let ok = await iterator.next() else { break }
                    acked += 1
                    let accepted = ok.contains("\",true,")
                    result.withLock { r in
                        if accepted {
                            r.accepted += 1
                        } else {
                            r.refused += 1
                            if r.firstRefusal == nil { r.firstRefusal = ok }
                        }
                    }
                }
                try await outbound.close(.normalClosure, reason: nil)
                group.cancelAll()
            }
        }
        return result.withLock { $0 }
    }

    struct QueryResult: Sendable {
        var latenciesMs: [Double] = []
        var events = 0
        var closed = 0
    }

    /// Runs each REQ in turn on one connection and measures the time from sending it to its EOSE.
    static func queries(url: String, filters: [String], logger: Logger) async throws -> QueryResult {
        let result = Mutex(QueryResult())
        let config = WebSocketClientConfiguration(maxFrameSize: 1 << 22)
        try await WebSocketClient.connect(url: url, configuration: config, logger: logger) { inbound, outbound, _ in
            var iterator = inbound.messages(maxSize: 1 << 24).makeAsyncIterator()
            var local = QueryResult()
            for (i, filter) in filters.enumerated() {
                let sub = "q\(i)"
                let eventPrefix = "[\"EVENT\",\"\(sub)\","
                let eose = "[\"EOSE\",\"\(sub)\"]"
                let closedPrefix = "[\"CLOSED\",\"\(sub)\","
                let start = DispatchTime.now().uptimeNanoseconds
                try await outbound.write(.text("[\"REQ\",\"\(sub)\",\(filter)]"))
                var count = 0
                loop: while let message = try await iterator.next() {
                    guard case .text(let s) = message else { continue }
                    if s.hasPrefix(eventPrefix) {
                        count += 1
                    } else if s == eose {
                        break loop
                    } else if s.hasPrefix(closedPrefix) {
                        local.closed += 1
                        break loop
                    }
                }
                local.latenciesMs.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
                local.events += count
                try await outbound.write(.text("[\"CLOSE\",\"\(sub)\"]"))
            }
            try await outbound.close(.normalClosure, reason: nil)
            result.withLock { $0 = local }
        }
        return result.withLock { $0 }
    }
}

/// Percentiles of a sample (nearest rank).
struct Percentiles: Sendable {
    let p50: Double
    let p95: Double
    let p99: Double

    init(_ values: [Double]) {
        let s = values.sorted()
        func rank(_ p: Double) -> Double {
            guard !s.isEmpty else { return .nan }
            return s[min(s.count - 1, max(0, Int((p * Double(s.count)).rounded(.up)) - 1))]
        }
        p50 = rank(0.50)
        p95 = rank(0.95)
        p99 = rank(0.99)
    }
}
