import HyperTree
import TestSupport
import Testing

@Suite("Bad input: corrupt blocks and forged pointers give typed errors, never a crash or a loop")
struct BadInputTests {
    static let header = TreeHeader().encoded()

    static func node(_ levels: [IndexLevel], key: String, value: String? = "v") -> [UInt8] {
        NodeMessage(levels: levels, key: Array(key.utf8), value: value.map { Array($0.utf8) }).encoded()
    }

    /// Runs get, a forward and a reverse range and a diff, on the complete log and on a sparse replica of it (whose
    /// reads prefetch node keys and children); each must either succeed or throw a TreeError.
    static func exercise(_ blocks: [[UInt8]]) async -> [TreeError] {
        var errors: [TreeError] = []
        for sparse in [false, true] {
            let log = MemoryTreeLog(blocks: blocks)
            errors += await exercise(HyperTree(log: sparse ? SparseTreeLog(source: log) : log))
        }
        return errors
    }

    static func exercise(_ tree: HyperTree) async -> [TreeError] {
        var errors: [TreeError] = []
        func run(_ body: () async throws -> Void) async {
            do { try await body() } catch let e as TreeError { errors.append(e) } catch {
                Issue.record("untyped error \(error)")
            }
        }
        await run { _ = try await tree.get(Array("a".utf8)) }
        await run { _ = try await tree.range().collect() }
        await run { _ = try await tree.range(RangeOptions(gte: Array("b".utf8), reverse: true)).collect() }
        await run { _ = try await tree.diff(from: 1, to: tree.version) }
        return errors
    }

    @Test("garbage, truncated and overlong encodings are corruptBlock errors")
    func corruptEncodings() async throws {
        let cases: [[UInt8]] = [
            [0xFF],  // truncated varint tag
            [0x0A, 0x10, 0x01],  // length runs past the end
            [0x0A, 0x00],  // index but no key
            [0x12, 0x01, 0x61],  // key but no index
            [0x0A, 0x03, 0x0A, 0x01, 0x80, 0x12, 0x01, 0x61],  // truncated packed varint inside the index
            [0x0A, 0x04, 0x0A, 0x02, 0x12, 0x01, 0x12, 0x01, 0x61],  // odd child pointer values
            [0x0B, 0x12, 0x01, 0x61],  // unsupported wire type 3
            Array(repeating: 0xFF, count: 11) + [0x01],  // varint longer than 10 bytes
        ]
        for c in cases {
            let errors = await Self.exercise([Self.header, c])
            #expect(
                errors.count == 8, "4 operations on the complete and on a sparse log: every operation fails on \(c.hex)"
            )
            for e in errors {
                guard case .corruptBlock = e else {
                    Issue.record("expected corruptBlock, got \(e)")
                    continue
                }
            }
        }
    }

    @Test("children count must match keys count")
    func childCountMismatch() async throws {
        let bad = Self.node([IndexLevel(keys: [1, 1], children: [1, 1, 1, 1])], key: "a")
        let errors = await Self.exercise([Self.header, bad])
        #expect(errors.count == 8)  // 4 operations, on the complete and on a sparse log
        #expect(errors.allSatisfy { if case .corruptBlock = $0 { return true } else { return false } })
    }

    @Test("pointers beyond the version, to the header, forward, or past the levels are badPointer errors")
    func outOfRangePointers() async throws {
        let leaf = Self.node([IndexLevel(keys: [1], children: [])], key: "a")
        let cases: [[[UInt8]]] = [
            [Self.header, leaf, Self.node([IndexLevel(keys: [2], children: [99, 0, 1, 0])], key: "m")],
            [Self.header, leaf, Self.node([IndexLevel(keys: [2], children: [1, 7, 1, 0])], key: "m")],
            [Self.header, leaf, Self.node([IndexLevel(keys: [0], children: [])], key: "m")],
            [Self.header, Self.node([IndexLevel(keys: [2], children: [])], key: "m")],
            [Self.header, leaf, Self.node([IndexLevel(keys: [2], children: [0, 0, 1, 0])], key: "m")],
        ]
        for blocks in cases {
            let errors = await Self.exercise(blocks)
            #expect(!errors.isEmpty)
            for e in errors {
                switch e {
                case .badPointer, .corruptBlock: break
                default: Issue.record("unexpected \(e)")
                }
            }
        }
    }

    @Test("a node that points at itself is stopped by the depth bound")
    func selfLoop() async throws {
        // Root at seq 1 whose both children are itself (seq 1, offset 0).
        let loop = Self.node([IndexLevel(keys: [1], children: [1, 0, 1, 0])], key: "m")
        let errors = await Self.exercise([Self.header, loop])
        #expect(errors.count == 8)  // 4 operations, on the complete and on a sparse log
        for e in errors {
            switch e {
            case .tooDeep, .badPointer: break
            default: Issue.record("unexpected \(e)")
            }
        }
        // Writing on top of a looping tree fails cleanly too.
        let tree = HyperTree(log: MemoryTreeLog(blocks: [Self.header, loop]))
        await #expect(throws: TreeError.self) { try await tree.put(Array("a".utf8), nil) }
    }

    @Test("a mid-batch version has no root and says so")
    func midBatch() async throws {
        let log = MemoryTreeLog()
        let tree = HyperTree(log: log)
        try await tree.apply((0..<5).map { .put(key: Array("k\($0)".utf8), value: nil) })
        #expect(log.length == 6)
        let mid = try tree.checkout(3)
        await #expect(throws: TreeError.noRootAt(version: 3)) { _ = try await mid.get(Array("k1".utf8)) }
        #expect(throws: TreeError.versionOutOfRange(requested: 9, length: 6)) { _ = try tree.checkout(9) }
    }

    @Test("a non-hyperbee header is rejected")
    func badHeader() async throws {
        let tree = HyperTree(log: MemoryTreeLog(blocks: [TreeHeader(protocolName: "other").encoded()]))
        await #expect(throws: TreeError.notAHyperbee(reason: "protocol is \"other\"")) { _ = try await tree.header() }
        let junk = HyperTree(log: MemoryTreeLog(blocks: [[0x0A, 0x09]]))
        await #expect(throws: TreeError.self) { _ = try await junk.header() }
    }

    @Test("random byte flips in a real tree's blocks never crash")
    func fuzz() async throws {
        let log = MemoryTreeLog()
        let tree = HyperTree(log: log)
        try await tree.apply((0..<120).map { .put(key: Array("key\($0)".utf8), value: Array("v\($0)".utf8)) })
        for i in 0..<40 { try await tree.put(Array("key\(i * 3)".utf8), Array("w".utf8)) }
        let clean = log.allBlocks
        var g = SeededGenerator(seed: 5)
        for _ in 0..<200 {
            var blocks = clean
            for _ in 0..<Int.random(in: 1...3, using: &g) {
                let s = Int.random(in: 1..<blocks.count, using: &g)
                guard !blocks[s].isEmpty else { continue }
                let p = Int.random(in: 0..<blocks[s].count, using: &g)
                blocks[s][p] = UInt8.random(in: 0...255, using: &g)
            }
            _ = await Self.exercise(blocks)  // records an issue on any non-TreeError; a crash fails the run
        }
    }
}
