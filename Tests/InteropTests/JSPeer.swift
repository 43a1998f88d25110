import Foundation
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// A real JavaScript Hypercore / Hyperbee peer (`Tests/interop/peer.js` on the Holepunch libraries in
/// `../shared/js-holepunch`), driven by JSON commands over its stdin/stdout.
///
/// Bounded: every call has a timeout, the process is stopped (SIGTERM, then SIGKILL) by `stop()`, and the script exits
/// by itself after ten idle minutes. Its stderr goes to a log file whose tail `withJSPeers` prints when a test fails.
final class JSPeer: @unchecked Sendable {
    // MARK: locating node and the JavaScript tree

    /// The repository root (this file is Tests/InteropTests/JSPeer.swift).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The Holepunch tree: `$HYPERTUNA_JS_HOLEPUNCH`, else `../shared/js-holepunch` beside the repository.
    static let jsTree: URL = {
        if let env = ProcessInfo.processInfo.environment["HYPERTUNA_JS_HOLEPUNCH"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return repoRoot.deletingLastPathComponent().appendingPathComponent("shared/js-holepunch")
    }()

    /// `$HYPERTUNA_NODE`, else `node` or `nodejs` on PATH.
    static let nodePath: String? = {
        let env = ProcessInfo.processInfo.environment
        if let n = env["HYPERTUNA_NODE"], !n.isEmpty {
            return FileManager.default.isExecutableFile(atPath: n) ? n : nil
        }
        for dir in (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            for name in ["node", "nodejs"] {
                let p = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: p) { return p }
            }
        }
        return nil
    }()

    static let script = repoRoot.appendingPathComponent("Tests/interop/peer.js")

    /// Why the suite cannot run here, or nil when node and the JavaScript tree are present.
    static let unavailableReason: String? = {
        let hypercore = jsTree.appendingPathComponent("node_modules/hypercore/package.json").path
        if !FileManager.default.fileExists(atPath: hypercore) {
            return "JavaScript Holepunch tree not found at \(jsTree.path) (set HYPERTUNA_JS_HOLEPUNCH)"
        }
        if nodePath == nil { return "node not found on PATH (apt-get install nodejs, or set HYPERTUNA_NODE)" }
        return nil
    }()

    static var available: Bool { unavailableReason == nil }

    // MARK: one peer process

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// A decoded reply (`ok` already checked).
    struct Reply: @unchecked Sendable {
        let fields: [String: Any]
        subscript(_ key: String) -> Any? { fields[key] }
        func int(_ key: String) -> Int? { (fields[key] as? NSNumber)?.intValue }
        func string(_ key: String) -> String? { fields[key] as? String }
        func bool(_ key: String) -> Bool? { (fields[key] as? NSNumber)?.boolValue }
    }

    let name: String
    let logURL: URL
    private let process = Process()
    private let stdinPipe = Pipe()
    private let stdoutPipe = Pipe()

    private struct Inbox {
        var buffer = Data()
        var replies: [Int: Data] = [:]
        var waiters: [Int: CheckedContinuation<Data, Error>] = [:]
        var nextID = 1
        var exited = false
    }
    private let inbox = NIOLockedValueBox(Inbox())

    init(name: String, scratch: URL) throws {
        guard let node = Self.nodePath else { throw Failure(description: "node not found") }
        self.name = name
        logURL = scratch.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: node)
        process.arguments = [Self.script.path]
        var env = ProcessInfo.processInfo.environment
        env["NODE_PATH"] = Self.jsTree.appendingPathComponent("node_modules").path
        process.environment = env
        process.currentDirectoryURL = scratch
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = try FileHandle(forWritingTo: logURL)
        process.terminationHandler = { [inbox] _ in
            let waiters = inbox.withLockedValue { box -> [CheckedContinuation<Data, Error>] in
                box.exited = true
                defer { box.waiters = [:] }
                return Array(box.waiters.values)
            }
            for w in waiters { w.resume(throwing: Failure(description: "JavaScript peer exited")) }
        }
        stdoutPipe.fileHandleForReading.readabilityHandler = { [inbox] handle in
            let chunk = handle.availableData
            var ready: [(CheckedContinuation<Data, Error>, Data)] = []
            inbox.withLockedValue { box in
                box.buffer.append(chunk)
                while let nl = box.buffer.firstIndex(of: 0x0A) {
                    let line = box.buffer[box.buffer.startIndex..<nl]
                    box.buffer.removeSubrange(box.buffer.startIndex...nl)
                    guard let obj = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                        let id = (obj["id"] as? NSNumber)?.intValue
                    else { continue }
                    if let w = box.waiters.removeValue(forKey: id) {
                        ready.append((w, Data(line)))
                    } else {
                        box.replies[id] = Data(line)
                    }
                }
            }
            for (w, line) in ready { w.resume(returning: line) }
        }
        try process.run()
    }

    /// Sends `op` with `args` and waits (at most `timeout`) for its reply; a reply with `ok: false` throws.
    @discardableResult
    func call(_ op: String, _ args: [String: Any] = [:], timeout: Duration = .seconds(60)) async throws -> Reply {
        let id = inbox.withLockedValue { box -> Int in
            defer { box.nextID += 1 }
            return box.nextID
        }
        var command = args
        command["op"] = op
        command["id"] = id
        var bytes = try JSONSerialization.data(withJSONObject: command)
        bytes.append(0x0A)
        try stdinPipe.fileHandleForWriting.write(contentsOf: bytes)
        let timer = Task { [inbox, name] in
            try await Task.sleep(for: timeout)
            let w = inbox.withLockedValue { $0.waiters.removeValue(forKey: id) }
            w?.resume(throwing: Failure(description: "\(name): \(op) timed out after \(timeout)"))
        }
        defer { timer.cancel() }
        let line: Data = try await withCheckedThrowingContinuation { c in
            let early = inbox.withLockedValue { box -> Result<Data, Error>? in
                if let line = box.replies.removeValue(forKey: id) { return .success(line) }
                if box.exited { return .failure(Failure(description: "\(name): JavaScript peer exited")) }
                box.waiters[id] = c
                return nil
            }
            if let early { c.resume(with: early) }
        }
        guard let obj = try JSONSerialization.jsonObject(with: line) as? [String: Any] else {
            throw Failure(description: "\(name): unreadable reply to \(op)")
        }
        guard (obj["ok"] as? NSNumber)?.boolValue == true else {
            throw Failure(description: "\(name): \(op) failed: \(obj["error"] ?? "?")")
        }
        return Reply(fields: obj)
    }

    /// Stops the process: SIGTERM, then SIGKILL if it has not exited within two seconds.
    func stop() async {
        stdoutPipe.fileHandleForReading.readabilityHandler = nil
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(2)
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// The last `lines` lines of the peer's stderr.
    func logTail(_ lines: Int = 40) -> String {
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}

/// Runs `body` with JavaScript peers started in a fresh scratch folder; stops them all at the end (also on failure)
/// and prints the tail of each peer's log when `body` throws.
func withJSPeers<T>(
    _ names: [String], _ body: ([JSPeer]) async throws -> T
) async throws -> T {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
        "hypertuna-interop-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    var peers: [JSPeer] = []
    do {
        for n in names { peers.append(try JSPeer(name: n, scratch: scratch)) }
        let result = try await body(peers)
        for p in peers { await p.stop() }
        try? FileManager.default.removeItem(at: scratch)
        return result
    } catch {
        for p in peers {
            await p.stop()
            print("---- \(p.name) log (\(p.logURL.path)), last lines ----\n\(p.logTail())\n----")
        }
        throw error
    }
}
