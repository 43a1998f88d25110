import Foundation
import NostrRelay

/// The pre-signed load: `count` regular events from `authors` keys over the last 30 days, each with a `t` tag.
struct Dataset: Sendable {
    let events: [NostrEvent]
    let frames: [String]
    let authors: [String]
    let topics: [String]
    let firstCreatedAt: Int64
    let lastCreatedAt: Int64

    static let kinds = [1, 1, 1, 1, 1, 1, 1, 7, 7, 6]

    static func make(count: Int, authors authorCount: Int, topics topicCount: Int, seed: UInt64) -> Dataset {
        var rng = SplitMix(seed: seed)
        let secrets: [[UInt8]] = (0..<authorCount).map { _ in
            (0..<32).map { _ in UInt8.random(in: 1...255, using: &rng) }
        }
        let pubkeys = secrets.map { Schnorr.publicKey(secretKey: $0)!.hex }
        let topics = (0..<topicCount).map { "topic\($0)" }
        let now = Int64(Date().timeIntervalSince1970) - 60
        let span: Int64 = 30 * 86_400
        let first = now - span
        let words = ["nostr", "relay", "gateway", "swift", "log", "merkle", "peer", "event", "query", "index", "fast"]
        struct Spec: Sendable {
            let author: Int
            let createdAt: Int64
            let kind: Int
            let tags: [[String]]
            let content: String
        }
        var specs: [Spec] = []
        specs.reserveCapacity(count)
        for i in 0..<count {
            let author = Int(rng.next() % UInt64(authorCount))
            let createdAt = first + Int64(i) * span / Int64(max(count, 1))
            let kind = kinds[Int(rng.next() % UInt64(kinds.count))]
            var tags = [["t", topics[Int(rng.next() % UInt64(topicCount))]]]
            if kind != 1 { tags.append(["p", pubkeys[Int(rng.next() % UInt64(authorCount))]]) }
            let n = 10 + Int(rng.next() % 30)
            let content = (0..<n).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ")
            specs.append(
                Spec(author: author, createdAt: createdAt, kind: kind, tags: tags, content: content + " #\(i)"))
        }
        // Sign on every core.
        let chunks = ProcessInfo.processInfo.activeProcessorCount
        let specList = specs
        let box = ResultBox(count: count)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            var i = c
            while i < count {
                let s = specList[i]
                let e = try! NostrEvent.signed(
                    secretKey: secrets[s.author], createdAt: s.createdAt, kind: s.kind, tags: s.tags, content: s.content
                )
                box.set(i, e)
                i += chunks
            }
        }
        let events = box.values()
        return Dataset(
            events: events, frames: events.map { "[\"EVENT\",\($0.json)]" }, authors: pubkeys, topics: topics,
            firstCreatedAt: first, lastCreatedAt: first + span)
    }
}

/// Collects results written from several threads at distinct indices.
final class ResultBox: @unchecked Sendable {
    // Invariant: each index is written by exactly one thread, and `values()` is read after all writers joined.
    private var storage: [NostrEvent?]
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ e: NostrEvent) { storage[i] = e }
    func values() -> [NostrEvent] { storage.map { $0! } }
}

/// Deterministic generator for reproducible datasets.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
