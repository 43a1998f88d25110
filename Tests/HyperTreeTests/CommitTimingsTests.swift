import Testing

@testable import HyperTree

@Suite("Commit timings")
struct CommitTimingsTests {
    @Test("a batch commit records its block count and stage durations; a batch that appends nothing keeps the last")
    func recordsLastCommit() async throws {
        let tree = HyperTree(log: MemoryTreeLog())
        #expect(tree.lastCommitTimings == nil)
        try await tree.apply((0..<5).map { .put(key: b("k\($0)"), value: b("v")) })
        let t = try #require(tree.lastCommitTimings)
        #expect(t.blocks == 5)
        #expect(t.operations >= .zero && t.encode >= .zero && t.append >= .zero && t.cacheWarm >= .zero)
        try await tree.apply([.del(key: b("absent"))])
        #expect(tree.lastCommitTimings == t)
        try await tree.put(b("k9"), b("v"))
        #expect(tree.lastCommitTimings?.blocks == 1)
    }
}
