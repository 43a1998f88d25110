import Foundation
import LMDBKit
import Testing

@Suite("LMDBEnvironment")
struct LMDBEnvironmentTests {
    func tempDir() -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("lmdbkit-\(UUID().uuidString)").path
        return p
    }

    @Test("put, get, delete and ordered scans in both directions")
    func basics() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = try LMDBEnvironment(path: dir)
        let db = try env.database(named: "t")
        try env.write { txn in
            for i in [5, 1, 3, 9, 7] { try txn.put(db, key: [UInt8(i)], value: [UInt8(i * 10)]) }
        }
        #expect(try env.read { try $0.get(db, key: [3]) } == [30])
        #expect(try env.read { try $0.get(db, key: [4]) } == nil)
        var fwd: [UInt8] = []
        try env.read { txn in
            try txn.scan(db, from: [4]) { k, _ in
                fwd.append(k[0])
                return true
            }
        }
        #expect(fwd == [5, 7, 9])
        var rev: [UInt8] = []
        try env.read { txn in
            try txn.scan(db, from: [6], reverse: true) { k, _ in
                rev.append(k[0])
                return true
            }
        }
        #expect(rev == [5, 3, 1])
        var revAll: [UInt8] = []
        try env.read { txn in
            try txn.scan(db, reverse: true) { k, _ in
                revAll.append(k[0])
                return revAll.count < 2
            }
        }
        #expect(revAll == [9, 7])
        #expect(try env.write { try $0.delete(db, key: [3]) })
        #expect(try !env.write { try $0.delete(db, key: [3]) })
        #expect(try env.write { try $0.deleteRange(db, from: [2], to: [8]) } == 2)
        var left: [UInt8] = []
        try env.read { txn in
            try txn.scan(db) { k, _ in
                left.append(k[0])
                return true
            }
        }
        #expect(left == [1, 9])
    }

    @Test("a throwing write aborts and leaves nothing behind")
    func abort() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = try LMDBEnvironment(path: dir)
        let db = try env.database(named: "t")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try env.write { txn in
                try txn.put(db, key: [1], value: [1])
                throw Boom()
            }
        }
        #expect(try env.read { try $0.get(db, key: [1]) } == nil)
    }

    @Test("the map grows on MDB_MAP_FULL instead of failing")
    func growth() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var opts = LMDBEnvironment.Options()
        opts.initialMapSize = 1 << 20
        let env = try LMDBEnvironment(path: dir, options: opts)
        let db = try env.database(named: "t")
        let value = [UInt8](repeating: 7, count: 64 * 1024)
        for i in 0..<64 {  // 4 MiB of values into a 1 MiB map
            try env.write { txn in try txn.put(db, key: Array("k\(i)".utf8), value: value) }
        }
        #expect(env.currentMapSize > 1 << 20)
        #expect(try env.read { try $0.get(db, key: Array("k63".utf8)) } == value)
    }

    @Test("an unwritable directory is a clear error")
    func unwritable() {
        #expect(throws: LMDBError.self) { try LMDBEnvironment(path: "/proc/hypertuna-not-allowed/x") }
    }

    @Test("data survives close and reopen")
    func reopen() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            let env = try LMDBEnvironment(path: dir)
            let db = try env.database(named: "t")
            try env.write { try $0.put(db, key: [1], value: [2]) }
            env.close()
        }
        let env = try LMDBEnvironment(path: dir)
        let db = try env.database(named: "t", create: false)
        #expect(try env.read { try $0.get(db, key: [1]) } == [2])
    }
}
