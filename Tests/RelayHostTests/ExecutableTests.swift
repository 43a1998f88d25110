import Foundation
import HyperCrypto
import PeerProtocol
import PeerWire
import SwarmTransport
import Testing

@testable import RelayHost

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The built `hypertuna-gateway` beside the test bundle, if it was built.
func gatewayBinary() -> String? {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<3 {
        let candidate = dir.appendingPathComponent("hypertuna-gateway").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir = dir.deletingLastPathComponent()
    }
    let fallback = FileManager.default.currentDirectoryPath + "/.build/debug/hypertuna-gateway"
    return FileManager.default.isExecutableFile(atPath: fallback) ? fallback : nil
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Runs a command to completion (bounded), returning status and output.
func run(_ path: String, _ args: [String], timeout: TimeInterval = 60) throws -> (status: Int32, out: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { p.terminate() }
    p.waitUntilExit()
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (p.terminationStatus, out)
}

func httpGet(_ url: String) async -> (Int, Data)? {
    guard let u = URL(string: url) else { return nil }
    guard let (data, response) = try? await URLSession.shared.data(for: URLRequest(url: u, timeoutInterval: 2)) else {
        return nil
    }
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
}

@Suite("hypertuna-gateway executable: admin CLI and a swarm peer against a running gateway", .timeLimit(.minutes(3)))
struct ExecutableTests {
    @Test("admin verbs (table and --json), key file checks, and a peer revoked through the CLI")
    func cliAgainstRunningGateway() async throws {
        guard let binary = gatewayBinary() else {
            print("SKIPPED ExecutableTests: hypertuna-gateway is not built (swift build --product hypertuna-gateway)")
            return
        }
        let scratch = Scratch()
        let port = freePort()
        let logPath = scratch.path + "/gateway.log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let gateway = Process()
        gateway.executableURL = URL(fileURLWithPath: binary)
        gateway.arguments = ["serve"]
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GATEWAY_") }
        env["PORT"] = String(port)
        env["GATEWAY_HOST"] = "127.0.0.1"
        env["GATEWAY_RELAY_STORAGE"] = scratch.path + "/data"
        env["GATEWAY_SWARM_PORT"] = "0"
        env["GATEWAY_FEATURE_HYPERBEE_RELAY"] = "true"
        env["GATEWAY_RELAY_ADMIN_PUBLIC_KEY"] = adminPubkey
        gateway.environment = env
        let log = FileHandle(forWritingAtPath: logPath)!
        gateway.standardOutput = log
        gateway.standardError = log
        try gateway.run()
        defer {
            if gateway.isRunning {
                gateway.terminate()
                gateway.waitUntilExit()
            }
        }
        func logTail() -> String {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            return String(text.split(separator: "\n").suffix(30).joined(separator: "\n"))
        }
        let base = "http://127.0.0.1:\(port)"
        let healthy = await eventually(timeout: .seconds(30)) { await httpGet(base + "/health")?.0 == 200 }
        try #require(healthy, "gateway did not become healthy:\n\(logTail())")

        let keyFile = scratch.path + "/admin.key"
        FileManager.default.createFile(
            atPath: keyFile, contents: Data(adminSecret.hex.utf8), attributes: [.posixPermissions: 0o600])
        func admin(_ args: [String], key: String? = nil) throws -> (Int32, String) {
            try run(binary, ["admin"] + args + ["--url", base, "--key-file", key ?? keyFile])
        }
        let stats = try admin(["stats"])
        #expect(stats.0 == 0, "\(stats.1)\n\(logTail())")
        #expect(stats.1.contains("length: 0") && stats.1.contains("relayHosted: yes"))
        let json = try admin(["peers", "--json"])
        #expect(json.0 == 0)
        #expect(json.1.trimmingCharacters(in: .whitespacesAndNewlines) == #"{"peers":[]}"#)

        // A swarm peer registers against the running process, pinning the gateway key from the announcement.
        let announcement = try #require(await httpGet(base + "/gateway/announcement"))
        let a = try PayloadCodec.decode(DiscoveryAnnouncement.self, from: announcement.1)
        try a.verify(nowMilliseconds: UInt64(Date().timeIntervalSince1970 * 1000))
        let swarm = try #require(a.swarm)
        let peer = TestPeer(gatewayKey: [UInt8](hex: a.gatewayId)!)
        let channel = try await peer.connect(
            PeerAddress(host: swarm.host, port: swarm.port, publicKey: [UInt8](hex: swarm.swarmPublicKey)))
        let frames = channel.messages([.control])
        let reg = try await peer.register(timestamp: UInt64(Date().timeIntervalSince1970 * 1000))
        #expect(reg.statusCode == 200)
        let peers = try admin(["peers"])
        #expect(peers.1.contains(String(peer.key.publicKey.hex.prefix(16))))
        #expect(peers.1.contains("registered"))

        let paused = try admin(["pause-replication", "maintenance"])
        #expect(paused.0 == 0 && paused.1.contains("frameSequence"))
        #expect(try admin(["resume-replication"]).0 == 0)
        let banned = Ed25519KeyPair.generate().publicKey.hex
        #expect(try admin(["banpubkey", banned, "spam"]).0 == 0)
        #expect(try admin(["listbannedpubkeys"]).1.contains(banned))
        #expect(try admin(["queue"]).1.contains("queued: 0"))

        let revoked = try admin(["revoke", peer.key.publicKey.hex, "--reason", "cli test"])
        #expect(revoked.0 == 0, "\(revoked.1)")
        var it = frames.makeAsyncIterator()
        var types: [String] = []
        while let m = await it.next(), types.count < 3 {
            if case .control(let f) = m { types.append(try peer.frameGuard.accept(f.encoded()).type) }
        }
        #expect(types == ["pause-replication", "resume-replication", "token-revoked"])
        let afterRevoke = try admin(["peers"]).1
        #expect(afterRevoke.contains("revoked until"), "\(afterRevoke)")

        // Refusals: a key file others can read, a non-admin key, an unknown verb.
        let open = scratch.path + "/open.key"
        FileManager.default.createFile(
            atPath: open, contents: Data(adminSecret.hex.utf8), attributes: [.posixPermissions: 0o644])
        let loose = try admin(["stats"], key: open)
        #expect(loose.0 != 0 && loose.1.contains("chmod 600"))
        let strangerFile = scratch.path + "/stranger.key"
        FileManager.default.createFile(
            atPath: strangerFile, contents: Data(strangerSecret.hex.utf8), attributes: [.posixPermissions: 0o600])
        let stranger = try admin(["stats"], key: strangerFile)
        #expect(stranger.0 != 0 && stranger.1.contains("not an admin key"))
        #expect(try admin(["nosuchverb"]).0 != 0)

        // Metrics under their deployed names.
        let metrics = String(decoding: try #require(await httpGet(base + "/metrics")).1, as: UTF8.self)
        for name in [
            "gateway_active_peers", "gateway_relay_token_issues_total", "gateway_relay_token_revocations_total",
            "gateway_dispatcher_queue_depth", "gateway_swarm_connections", "gateway_peer_registrations_total",
            "gateway_admin_requests_total",
        ] {
            #expect(metrics.contains(name), "/metrics lacks \(name)")
        }

        // The audit log has the story.
        await peer.shutdown()
        gateway.terminate()
        gateway.waitUntilExit()
        let audit = (try? String(contentsOfFile: scratch.path + "/data/audit.log", encoding: .utf8)) ?? ""
        for event in ["registration", "token.issue", "token.revoke", "replication.pause", "admin"] {
            #expect(audit.contains(#""event":"\#(event)""#), "audit log lacks \(event)\n\(logTail())")
        }
        #expect(logTail().contains("closing peer sessions"))
    }
}
