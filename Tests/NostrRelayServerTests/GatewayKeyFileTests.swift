import Foundation
import Testing

@testable import NostrRelayServer

@Suite("Gateway key file")
struct GatewayKeyFileTests {
    func tempDir() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("gwkey-\(UUID().uuidString)/data").path
    }

    @Test("first start creates the directory and a 0600 key file; later starts load the same key")
    func createThenLoad() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        let first = try GatewayKeyFile.loadOrCreate(directory: dir)
        #expect(first.created)
        let path = (dir as NSString).appendingPathComponent(GatewayKeyFile.fileName)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        let second = try GatewayKeyFile.loadOrCreate(directory: dir)
        #expect(!second.created)
        #expect(second.keyPair == first.keyPair)
    }

    @Test("a key file readable by others or not a key is refused with a clear error")
    func refused() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        _ = try GatewayKeyFile.loadOrCreate(directory: dir)
        let path = (dir as NSString).appendingPathComponent(GatewayKeyFile.fileName)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: GatewayKeyFile.KeyFileError.self) { try GatewayKeyFile.loadOrCreate(directory: dir) }
        try "not a key".write(toFile: path, atomically: false, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        do {
            _ = try GatewayKeyFile.loadOrCreate(directory: dir)
            Issue.record("malformed key accepted")
        } catch {
            #expect("\(error)".contains("not 128 hex characters"))
        }
    }
}
