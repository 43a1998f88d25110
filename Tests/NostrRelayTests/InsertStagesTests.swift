import HyperTree
import Testing

@testable import NostrRelay

@Suite("Per-stage timings of a group commit")
struct InsertStagesTests {
    @Test(
        "an insert reports its events, store reads, operations and, over a HyperTree, the tree commit",
        arguments: Backend.allCases)
    func stagesOfOneInsert(_ backend: Backend) async throws {
        let store = backend.make()
        // Load the (empty) deletion filter first: before it is loaded every event also reads its deletion marker.
        _ = await store.warmUp()
        #expect(store.lastInsertStages == nil)
        let note = NostrEvent.make()
        let profile = NostrEvent.make(key: 2, kind: 0, content: "{}")
        _ = try await store.insert([note, note, profile])
        let s = try #require(store.lastInsertStages)
        #expect(s.events == 3)
        // note: body; its duplicate is answered by the batch's pending writes; profile: body, deleted address,
        // replaceable pointer. The deletion filter is empty, so no deletion-marker read.
        #expect(s.lookupCount == 4)
        #expect(s.lookups <= s.checks)
        #expect(s.operations > 2)
        #expect(s.apply > .zero)
        if backend == .hypertree {
            let tree = try #require(s.tree)
            #expect(tree.blocks == s.operations)  // only new keys: one block per put
            #expect(tree.operations + tree.encode + tree.append + tree.cacheWarm <= s.apply)
        } else {
            #expect(s.tree == nil)
        }
        // A refused-only group writes nothing and still reports its reads.
        _ = try await store.insert([note])
        let again = try #require(store.lastInsertStages)
        #expect(again.events == 1 && again.lookupCount == 1 && again.operations == 0 && again.apply == .zero)
    }
}
