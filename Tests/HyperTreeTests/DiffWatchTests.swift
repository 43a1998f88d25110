import HyperTree
import TestSupport
import Testing

@Suite("Diff and watch")
struct DiffWatchTests {
    static func modelDiff(_ a: [[UInt8]: [UInt8]], _ b: [[UInt8]: [UInt8]]) -> [[UInt8]] {
        Set(a.keys).union(b.keys).filter { a[$0] != b[$0] }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    @Test("diff between random versions equals the model's difference", arguments: [1, 2, 3])
    func diffMatchesModel(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let tree = HyperTree(log: MemoryTreeLog())
        var model: [[UInt8]: [UInt8]] = [:]
        var versions: [(UInt64, [[UInt8]: [UInt8]])] = [(tree.version, model)]
        for step in 0..<60 {
            let ops = (0..<Int.random(in: 1..<30, using: &g)).map { _ -> TreeOperation in
                let k = b("k\(Int.random(in: 0..<300, using: &g))")
                return Int.random(in: 0..<4, using: &g) == 0 ? .del(key: k) : .put(key: k, value: b("v\(step)"))
            }
            try await tree.apply(ops)
            for op in ops {
                switch op {
                case .put(let k, let v): model[k] = v
                case .del(let k): model[k] = nil
                }
            }
            versions.append((tree.version, model))
        }
        for _ in 0..<15 {
            let (v1, m1) = versions.randomElement(using: &g)!
            let (v2, m2) = versions.randomElement(using: &g)!
            let d = try await tree.diff(from: v1, to: v2)
            #expect(d.map(\.key) == Self.modelDiff(m1, m2))
            for e in d {
                #expect(e.old?.value == m1[e.key])
                #expect(e.new?.value == m2[e.key])
            }
            // Restricted to a range.
            let r = RangeOptions(gte: b("k1"), lt: b("k2"))
            let dr = try await tree.diff(from: v1, to: v2, range: r)
            #expect(dr.map(\.key) == Self.modelDiff(m1, m2).filter { r.contains($0) })
        }
    }

    @Test("diff of one change in a large tree skips the unchanged subtrees")
    func diffSkips() async throws {
        let tree = HyperTree(log: MemoryTreeLog())
        try await tree.apply((0..<5000).map { .put(key: b("key\(100_000 + $0)"), value: b("v")) })
        let v1 = tree.version
        try await tree.put(b("key102500"), b("changed"))
        let trace = QueryTrace()
        let d = try await tree.diff(from: v1, to: tree.version, trace: trace)
        #expect(d.count == 1)
        #expect(d.first?.key == b("key102500"))
        #expect(d.first?.old?.value == b("v"))
        #expect(d.first?.new?.value == b("changed"))
        // Two root-to-leaf paths plus the keys bounding them: a few dozen blocks, not 5,000.
        #expect(trace.blocksTouched < 80)
        #expect(try await tree.diff(from: tree.version, to: tree.version).isEmpty)
    }

    @Test("watch yields only for changes inside its range")
    func watchRange() async throws {
        let tree = HyperTree(log: MemoryTreeLog())
        try await tree.put(b("a"), b("0"))
        let stream = tree.watch(RangeOptions(gte: b("m"), lt: b("n")))
        let consumer = Task { () -> [TreeWatchEvent] in
            var events: [TreeWatchEvent] = []
            for try await e in stream {
                events.append(e)
                if events.count == 2 { break }
            }
            return events
        }
        try await tree.put(b("b"), b("out of range"))
        try await tree.put(b("m1"), b("in"))
        try await tree.put(b("z"), b("out of range"))
        try await tree.apply([.put(key: b("m2"), value: b("in")), .del(key: b("m1"))])
        let timeout = Task {
            try await Task.sleep(for: .seconds(10))
            consumer.cancel()
        }
        let events = try await consumer.value
        timeout.cancel()
        #expect(events.count == 2)
        #expect(events.first?.changes.map(\.key) == [b("m1")])
        #expect(events.last?.changes.map(\.key) == [b("m1"), b("m2")])
        #expect(events.last?.changes.first?.new == nil)
    }
}
