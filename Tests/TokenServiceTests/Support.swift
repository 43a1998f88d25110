import Foundation
import HyperCrypto
import Logging
import MetricsTestKit
import TokenService

/// Captures log records for assertions.
final class LogRecorder: @unchecked Sendable {
    struct Record {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }
    // Invariant: `records` only touched under `lock`.
    private let lock = NSLock()
    private var records: [Record] = []

    func append(_ r: Record) { lock.withLock { records.append(r) } }
    var all: [Record] { lock.withLock { records } }
    func events(_ name: String) -> [Record] { all.filter { $0.metadata["event"] == name } }

    var logger: Logger {
        Logger(label: "test.tokens") { _ in RecordingHandler(recorder: self) }
    }
}

struct RecordingHandler: LogHandler {
    let recorder: LogRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var flat: [String: String] = [:]
        for (k, v) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { flat[k] = "\(v)" }
        recorder.append(.init(level: event.level, message: "\(event.message)", metadata: flat))
    }
}

/// A token service over an in-memory store and a manual clock, with captured logs and metrics.
struct Harness {
    let gateway = try! Ed25519KeyPair(seed: [UInt8](repeating: 0x11, count: 32))
    let peer = try! Ed25519KeyPair(seed: [UInt8](repeating: 0x22, count: 32)).publicKey
    let otherPeer = try! Ed25519KeyPair(seed: [UInt8](repeating: 0x33, count: 32)).publicKey
    let relay = [UInt8](repeating: 0xaa, count: 32)
    let otherRelay = [UInt8](repeating: 0xbb, count: 32)
    let clock = ManualClock()
    let logs = LogRecorder()
    let metrics = TestMetrics()
    let store: any TokenStore
    let service: TokenService

    init(store: any TokenStore = InMemoryTokenStore(), policy: TokenPolicy = .standard) {
        self.store = store
        service = TokenService(
            keyPair: gateway, store: store, policy: policy, clock: clock,
            audit: TokenAudit(logger: logs.logger, factory: metrics))
    }

    func counter(_ label: String, _ dims: [(String, String)] = []) -> Int64 {
        (try? metrics.expectCounter(label, dims).totalValue) ?? 0
    }
}

/// Builds a compact JWS with arbitrary header and claims JSON, signed by `keyPair`.
func craft(header: String, claims: String, keyPair: Ed25519KeyPair) -> String {
    EdDSAJWS.sign(protectedHeader: Array(header.utf8), payload: Array(claims.utf8), keyPair: keyPair)
}

func tempDirectory(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
}

/// Runs `body` expecting a `TokenError`; returns it (nil if nothing or something else was thrown).
func tokenError<T>(_ body: () throws -> T) -> TokenError? {
    do {
        _ = try body()
        return nil
    } catch let e as TokenError {
        return e
    } catch {
        return nil
    }
}
