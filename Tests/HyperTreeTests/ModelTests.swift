import HyperTree
import TestSupport
import Testing

/// A sorted-dictionary model of the tree.
struct Model {
    var map: [[UInt8]: [UInt8]] = [:]

    func sortedKeys() -> [[UInt8]] { map.keys.sorted { $0.lexicographicallyPrecedes($1) } }

    func range(_ o: RangeOptions) -> [([UInt8], [UInt8])] {
        var keys = sortedKeys().filter { o.contains($0) }
        if o.reverse { keys.reverse() }
        if let l = o.limit { keys = Array(keys.prefix(l)) }
        return keys.map { ($0, map[$0]!) }
    }
}

@Suite("Model-based: random put/del/batch/checkout against a sorted dictionary")
struct ModelTests {
    static func randomKey(_ g: inout SeededGenerator, space: Int) -> [UInt8] {
        // Short keys with shared prefixes and variable lengths stress ordering (e.g. "k1" < "k10" < "k2").
        let n = Int.random(in: 0..<space, using: &g)
        return Array("k\(n)".utf8)
    }

    static func randomRange(_ g: inout SeededGenerator, model: Model, space: Int) -> RangeOptions {
        var o = RangeOptions()
        let keys = model.sortedKeys()
        func pick() -> [UInt8] {
            // Half the time a bound equal to an existing key.
            if !keys.isEmpty && Bool.random(using: &g) { return keys.randomElement(using: &g)! }
            return randomKey(&g, space: space)
        }
        switch Int.random(in: 0..<4, using: &g) {
        case 0: o.gt = pick()
        case 1: o.gte = pick()
        default: break
        }
        switch Int.random(in: 0..<4, using: &g) {
        case 0: o.lt = pick()
        case 1: o.lte = pick()
        default: break
        }
        o.reverse = Bool.random(using: &g)
        if Int.random(in: 0..<3, using: &g) == 0 { o.limit = Int.random(in: 0..<20, using: &g) }
        return o
    }

    func check(_ tree: HyperTree, _ model: Model, _ g: inout SeededGenerator, space: Int, ranges: Int) async throws {
        for _ in 0..<ranges {
            let o = Self.randomRange(&g, model: model, space: space)
            let got = try await tree.range(o).collect().map { ($0.key, $0.value ?? []) }
            let want = model.range(o)
            #expect(got.map { $0.0 } == want.map { $0.0 }, "range \(o)")
            #expect(got.map { $0.1 } == want.map { $0.1 }, "range values \(o)")
        }
        for _ in 0..<20 {
            let k = Self.randomKey(&g, space: space)
            #expect(try await tree.get(k)?.value == model.map[k], "get \(str(k)!)")
        }
    }

    @Test("random operations agree with the model at every checkpoint and at old checkouts", arguments: [1, 2, 3, 4])
    func randomOps(seed: UInt64) async throws {
        var g = SeededGenerator(seed: seed)
        let space = seed % 2 == 0 ? 60 : 400
        let tree = HyperTree(log: MemoryTreeLog())
        var model = Model()
        var history: [(UInt64, Model)] = []
        for step in 0..<300 {
            let roll = Int.random(in: 0..<10, using: &g)
            if roll < 5 {
                let k = Self.randomKey(&g, space: space)
                let v = Array("v\(step)".utf8)
                try await tree.put(k, v)
                model.map[k] = v
            } else if roll < 8 {
                let k = Self.randomKey(&g, space: space)
                let wrote = try await tree.del(k)
                #expect(wrote == (model.map[k] != nil))
                model.map[k] = nil
            } else {
                let ops = Int.random(in: 1..<40, using: &g)
                try await tree.batch { batch in
                    for i in 0..<ops {
                        let k = Self.randomKey(&g, space: space)
                        if Int.random(in: 0..<3, using: &g) == 0 {
                            try await batch.del(k)
                            model.map[k] = nil
                        } else {
                            let v = Array("b\(step).\(i)".utf8)
                            try await batch.put(k, v)
                            model.map[k] = v
                        }
                        // Reads inside the batch see its own writes.
                        #expect(try await batch.get(k)?.value == model.map[k])
                    }
                }
            }
            history.append((tree.version, model))
            if step % 25 == 0 { try await check(tree, model, &g, space: Int(space), ranges: 8) }
        }
        try await check(tree, model, &g, space: Int(space), ranges: 40)
        // Old versions still read exactly as they were.
        for _ in 0..<10 {
            let (version, old) = history.randomElement(using: &g)!
            let co = try tree.checkout(version)
            try await check(co, old, &g, space: Int(space), ranges: 4)
        }
    }

    @Test("a tree emptied by deletes and refilled stays consistent")
    func emptyAndRefill() async throws {
        let tree = HyperTree(log: MemoryTreeLog())
        var g = SeededGenerator(seed: 99)
        var keys = (0..<200).map { Array("key\($0)".utf8) }
        for k in keys { try await tree.put(k, k) }
        keys.shuffle(using: &g)
        for (i, k) in keys.enumerated() {
            #expect(try await tree.del(k))
            if i % 37 == 0 { #expect(try await tree.range().collect().count == keys.count - i - 1) }
        }
        #expect(try await tree.range().collect().isEmpty)
        #expect(try await tree.get(keys[0]) == nil)
        try await tree.put(b("again"), b("1"))
        #expect(strings(try await tree.range().collect()) == ["again"])
    }
}
