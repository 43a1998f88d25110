import Foundation
import HyperCrypto
import LMDBKit
import TestSupport
import Testing

@testable import HyperLog

func temporaryDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "hyperlog-\(name)-\(UInt64.random(in: 0...UInt64.max))"
    try? FileManager.default.removeItem(atPath: path)
    return path
}

@Suite("LMDB storage and log behaviour")
struct StorageTests {
    @Test("a log survives close and reopen with the same length, tree, signature and blocks")
    func reopen() throws {
        let dir = temporaryDirectory("reopen")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let kp = try Ed25519KeyPair(seed: [UInt8](repeating: 3, count: 32))
        var treeHash: [UInt8] = []
        do {
            let store = try LMDBLogStore(path: dir)
            let log = try HyperLog.create(in: try store.open(name: "relay"), keyPair: kp)
            try log.append(blocks(0..<100))
            try log.truncate(to: 90)
            try log.append(blocks(200..<205))
            try log.clear(3..<5)
            treeHash = log.treeHash
            store.close()
        }
        let store = try LMDBLogStore(path: dir)
        defer { store.close() }
        let log = try HyperLog.open(try store.open(name: "relay"))
        #expect(log.isWritable && log.length == 95 && log.fork == 1 && log.treeHash == treeHash)
        #expect(log.contiguousLength == 3 && !log.has(3) && log.has(5))
        #expect(try log.get(90) == Array("block-200".utf8))
        #expect(try log.verify() == 93)
        #expect(log.identity.verify(signature: log.signature, treeHash: treeHash, length: 95, fork: 1))
    }

    @Test("several logs share one environment without seeing each other's data")
    func severalLogs() throws {
        let dir = temporaryDirectory("multi")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try LMDBLogStore(path: dir)
        defer { store.close() }
        let a = try HyperLog.create(in: try store.open(name: "a"), keyPair: .generate())
        let b = try HyperLog.create(in: try store.open(name: "b"), keyPair: .generate(), mode: .compat)
        try a.append(blocks(0..<10, prefix: "a"))
        try b.append(blocks(0..<3, prefix: "b"))
        try a.truncate(to: 0)
        #expect(try store.logNames() == ["a", "b"])
        #expect(a.length == 0 && b.length == 3)
        #expect(try b.get(2) == Array("b-2".utf8))
        #expect(try b.verify() == 3)
        // Appending to a log whose keys no longer sort last in the store falls back from MDB_APPEND.
        try a.append(blocks(0..<5, prefix: "a2"))
        try b.append(blocks(3..<6, prefix: "b"))
        #expect(try a.get(4) == Array("a2-4".utf8) && a.length == 5)
        #expect(try b.get(5) == Array("b-5".utf8) && b.length == 6)
        #expect(try a.verify() == 5 && b.verify() == 6)
        // A replica of b in the same store, filled from b.
        let r = try HyperLog.replica(in: try store.open(name: "b-copy"), key: b.key)
        try r.apply(
            try b.proof(
                for: ProofRequest(fork: 0, block: .init(index: 1, nodes: 0), upgrade: .init(start: 0, length: 3))))
        #expect(try r.get(1) == Array("b-1".utf8))
    }

    @Test("storage holding another log's key, unwritable directory, read-only misuse: typed errors")
    func errors() throws {
        let dir = temporaryDirectory("errors")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try LMDBLogStore(path: dir)
        defer { store.close() }
        let storage = try store.open(name: "x")
        let log = try HyperLog.create(in: storage, keyPair: .generate())
        try log.append(blocks(0..<2))
        #expect(throws: HyperLogError.self) { try HyperLog.create(in: storage, keyPair: .generate()) }
        do {
            _ = try HyperLog.replica(in: storage, key: [UInt8](repeating: 1, count: 32))
            Issue.record("expected keyMismatch")
        } catch let e as HyperLogError {
            guard case .keyMismatch = e else { throw e }
            #expect(e.description.contains("another log"))
        }
        #expect(throws: HyperLogError.noLog) { try HyperLog.open(try store.open(name: "empty")) }
        #expect(throws: HyperLogError.invalidArgument("key must be 32 bytes, got 3")) {
            try HyperLog.replica(in: MemoryLogStorage(), key: [1, 2, 3])
        }
        // A path below a regular file can never be a directory.
        let file = dir + "/plain-file"
        _ = FileManager.default.createFile(atPath: file, contents: Data([1]))
        do {
            _ = try LMDBLogStore(path: file + "/store")
            Issue.record("expected a storage error")
        } catch let e as HyperLogError {
            guard case .storage(let why) = e else { throw e }
            #expect(why.contains("cannot open log store"))
        }
        let replica = try HyperLog.replica(in: MemoryLogStorage(), key: log.key)
        #expect(throws: HyperLogError.notWritable) { try replica.append([1]) }
        #expect(throws: HyperLogError.notWritable) { try replica.truncate(to: 0) }
        #expect(throws: HyperLogError.outOfRange(index: 2, length: 2)) { try log.get(2) }
        #expect(throws: HyperLogError.outOfRange(index: 5, length: 2)) { try log.truncate(to: 5) }
        #expect(throws: HyperLogError.forkMismatch(expected: 0, got: 3)) {
            try log.proof(for: ProofRequest(fork: 3, block: .init(index: 0, nodes: 0)))
        }
        #expect(throws: HyperLogError.self) {
            try log.proof(for: ProofRequest(fork: 0, block: .init(index: 0, nodes: 40)))
        }
        #expect(throws: HyperLogError.unsupported("seek proofs")) {
            try log.proof(for: ProofRequest(fork: 0, seek: .init(bytes: 3)))
        }
        // A corrupt bitfield page or node page is reported, not trusted.
        let mem = MemoryLogStorage()
        let memLog = try HyperLog.create(in: mem, keyPair: .generate())
        try memLog.append(blocks(0..<3))
        var badBits = LogWriteBatch()
        badBits.put(.bitfield, [0, 0, 0, 0, 0, 0, 0, 0], [1, 2, 3])
        try mem.write(badBits)
        #expect(throws: HyperLogError.corrupt("bitfield page of 3 bytes")) { try HyperLog.open(mem) }
        var badNodes = LogWriteBatch()
        badNodes.put(.nodes, [0, 0, 0, 0, 0, 0, 0, 0], [9])
        try mem.write(badNodes)
        #expect(throws: HyperLogError.self) { try memLog.node(1) }
        #expect(throws: HyperLogError.self) { try memLog.verify() }
        // A corrupt header is reported, not trusted.
        var batch = LogWriteBatch()
        batch.put(.meta, Array("header".utf8), [1, 2, 3])
        try storage.write(batch)
        #expect(throws: HyperLogError.self) { try HyperLog.open(storage) }
    }

    @Test("clear(range) frees the LMDB pages of the cleared blocks and later appends reuse them")
    func clearFreesPages() throws {
        let dir = temporaryDirectory("clear")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try LMDBLogStore(path: dir, durable: false)
        defer { store.close() }
        let storage = try store.open(name: "big")
        let log = try HyperLog.create(in: storage, keyPair: .generate())
        let big = (0..<400).map { i in [UInt8](repeating: UInt8(i % 251), count: 8192) }
        for chunk in stride(from: 0, to: 400, by: 50) { try log.append(Array(big[chunk..<chunk + 50])) }
        let before = try storage.usage(.blocks)
        let lastPageBefore = try store.environment.info().lastPage
        #expect(before.entries == 400 && before.pages >= 400 * 2)
        try log.clear(0..<400)
        let after = try storage.usage(.blocks)
        #expect(after.entries == 0)
        #expect(after.pages <= 2, "blocks table still uses \(after.pages) pages after clear")
        #expect(try log.verify() == 0)
        // Freed pages go back to LMDB's free list: appending the same volume again barely grows the file.
        for chunk in stride(from: 0, to: 400, by: 50) { try log.append(Array(big[chunk..<chunk + 50])) }
        let lastPageAfter = try store.environment.info().lastPage
        #expect(
            lastPageAfter < lastPageBefore + lastPageBefore / 4,
            "pages not reused: last page \(lastPageBefore) -> \(lastPageAfter)")
        #expect(try log.get(799) == big[399])
    }

    @Test("a snapshot keeps its length while appends continue, and refuses blocks a truncation removed")
    func snapshots() throws {
        let log = try writer(10)
        let snap = log.snapshot()
        try log.append(blocks(10..<20))
        #expect(snap.length == 10 && log.length == 20)
        #expect(try snap.get(9) == Array("block-9".utf8))
        #expect(throws: HyperLogError.outOfRange(index: 10, length: 10)) { try snap.get(10) }
        #expect(log.identity.verify(signature: snap.signature, treeHash: snap.treeHash, length: 10, fork: 0))
        try log.truncate(to: 5)
        try log.append(blocks(100..<110))
        #expect(try snap.get(4) == Array("block-4".utf8))
        #expect(throws: HyperLogError.snapshotInvalidated(length: 10, truncatedTo: 5)) { try snap.get(7) }
    }

    @Test("append of a batch is atomic and signed once; empty batches change nothing")
    func appendBatch() throws {
        let log = try writer(0)
        #expect(try log.append([[UInt8]]()) == 0)
        #expect(log.signature.isEmpty)
        #expect(try log.append(blocks(0..<1000)) == 1000)
        #expect(try log.verify() == 1000)
        #expect(log.contiguousLength == 1000)
        #expect(log.bitfield.count(0, 2000) == 1000)
        try log.truncate(to: 0)
        #expect(log.length == 0 && log.byteLength == 0 && log.roots.isEmpty && log.fork == 1)
        #expect(try log.node(0) == nil)
    }

    @Test("a store opened with a tiny map grows it instead of failing when appends fill it")
    func mapGrows() throws {
        let dir = temporaryDirectory("grow")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try LMDBLogStore(path: dir, durable: false, initialMapSize: 1 << 20)
        defer { store.close() }
        let log = try HyperLog.create(in: try store.open(name: "grow"), keyPair: .generate())
        let chunk = (0..<100).map { i in [UInt8](repeating: UInt8(i), count: 10_000) }
        for _ in 0..<5 { try log.append(chunk) }
        #expect(log.length == 500 && store.environment.currentMapSize > 4 << 20)
        #expect(try log.verify() == 500)
    }

    @Test("concurrent appenders, readers and a replica on one LMDB log stay consistent")
    func concurrency() async throws {
        let dir = temporaryDirectory("concurrent")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try LMDBLogStore(path: dir, durable: false)
        defer { store.close() }
        let log = try HyperLog.create(in: try store.open(name: "c"), keyPair: .generate())
        let replica = try HyperLog.replica(in: try store.open(name: "c-replica"), key: log.key)
        let source = LocalProofSource(log)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for i in 0..<50 { try log.append([Array("w\(writer)-\(i)".utf8)]) }
                }
            }
            group.addTask {
                // Readers see only complete, verifiable prefixes.
                for _ in 0..<50 {
                    let snap = log.snapshot()
                    if snap.length > 0 { _ = try snap.get(snap.length - 1) }
                    if log.length > 0 { _ = try await replica.fetch(UInt64.random(in: 0..<log.length), from: source) }
                }
            }
            try await group.waitForAll()
        }
        #expect(log.length == 200)
        #expect(try log.verify() == 200)
        var seen = Set<String>()
        for i in UInt64(0)..<200 { seen.insert(String(decoding: try log.get(i), as: UTF8.self)) }
        #expect(seen.count == 200)
        try await replica.update(from: source)
        #expect(replica.treeHash == log.treeHash)
        #expect(try replica.verify() >= 1)
    }

    @Test("LMDBKit putAppending stores keys that sort last and refuses others without storing")
    func putAppending() throws {
        let dir = temporaryDirectory("append")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = try LMDBEnvironment(path: dir)
        defer { env.close() }
        let db = try env.database(named: "t")
        let results: [Bool] = try env.write { txn in
            try [[UInt8]([1]), [2], [2], [1, 5], [3]].map { k in
                try k.withUnsafeBytes { kb in
                    try [UInt8]([9]).withUnsafeBytes { try txn.putAppending(db, key: kb, value: $0) }
                }
            }
        }
        #expect(results == [true, true, false, false, true])
        #expect(try env.stat(db).ms_entries == 3)
        #expect(try env.read { try $0.get(db, key: [1, 5]) } == nil)
    }
}
