import Foundation
import HyperCrypto
import Logging

@testable import NostrRelay

/// An outbound that records frames; `capacity` frames fit before `send` reports a full buffer.
final class RecordingOutbound: RelayOutbound, @unchecked Sendable {
    private let lock = NSLock()
    private var _frames: [String] = []
    private var _closed: (code: UInt16, reason: String)?
    let capacity: Int

    init(capacity: Int = .max) { self.capacity = capacity }

    func send(_ text: String) -> Bool {
        lock.withLock {
            guard _frames.count < capacity else { return false }
            _frames.append(text)
            return true
        }
    }

    func close(code: UInt16, reason: String) { lock.withLock { _closed = (code, reason) } }

    var frames: [String] { lock.withLock { _frames } }
    var closed: (code: UInt16, reason: String)? { lock.withLock { _closed } }

    /// Frames parsed as JSON arrays.
    var messages: [[JSONValue]] { frames.compactMap { try? JSONReader.parse($0).arrayValue } }

    /// Messages of one type ("OK", "EVENT", ...).
    func messages(_ type: String) -> [[JSONValue]] { messages.filter { $0.first?.stringValue == type } }

    /// Frames received after the first `n`.
    func frames(after n: Int) -> [String] { Array(frames.dropFirst(n)) }

    func clear() { lock.withLock { _frames.removeAll() } }
}

/// A settable clock (Unix seconds).
final class ManualClock: Sendable {
    let value: Locked<Double>
    init(_ start: Double = 1_700_000_000) { value = Locked(start) }
    var now: Double { value.withLock { $0 } }
    func advance(_ seconds: Double) { value.withLock { $0 += seconds } }
}

/// Deterministic secret keys for tests.
enum Keys {
    static func secret(_ n: UInt8) -> [UInt8] { [UInt8](repeating: 0, count: 31) + [n] }
    static func pubkey(_ n: UInt8) -> String { Schnorr.publicKey(secretKey: secret(n))!.hex }
}

extension NostrEvent {
    /// A signed test event by key `n`.
    static func make(
        key n: UInt8 = 1, at createdAt: Int64 = 1_700_000_000, kind: Int = 1, tags: [[String]] = [],
        content: String = "hello"
    ) -> NostrEvent {
        try! NostrEvent.signed(
            secretKey: Keys.secret(n), createdAt: createdAt, kind: kind, tags: tags, content: content)
    }
}

/// A relay with an in-memory store, a manual clock and helpers to drive one or more connections.
struct Harness {
    let relay: Relay
    let clock: ManualClock
    let store: InMemoryEventStore

    init(
        _ configure: (inout RelayConfiguration) -> Void = { _ in },
        policy: any WritePolicy = OpenWritePolicy()
    ) {
        var config = RelayConfiguration(
            relayURL: "wss://relay.example.com/", eventsPerIP: .unlimited, eventsPerPubkey: .unlimited,
            queriesPerIP: .unlimited)
        configure(&config)
        let clock = ManualClock()
        let store = InMemoryEventStore()
        self.clock = clock
        self.store = store
        self.relay = Relay(
            configuration: config, store: store, policy: policy, logger: Logger(label: "test"),
            clock: { clock.now })
    }

    func connect(_ address: String = "127.0.0.1", capacity: Int = .max) -> (RelayConnection, RecordingOutbound) {
        let out = RecordingOutbound(capacity: capacity)
        return (relay.connect(remoteAddress: address, outbound: out), out)
    }

    /// Sends a frame and waits for any resulting store commit (and its OK).
    func send(_ connection: RelayConnection, _ text: String) async {
        await connection.receive(text)
        await relay.flush()
    }

    func publish(_ connection: RelayConnection, _ event: NostrEvent) async {
        await send(connection, "[\"EVENT\",\(event.json)]")
    }
}

/// The `["OK", id, accepted, message]` answers in `out`, as (id, accepted, message).
func oks(_ out: RecordingOutbound) -> [(id: String, accepted: Bool, message: String)] {
    out.messages("OK").compactMap { m in
        guard m.count == 4, let id = m[1].stringValue, case .bool(let b) = m[2], let msg = m[3].stringValue else {
            return nil
        }
        return (id, b, msg)
    }
}

/// Ids of the EVENT frames for subscription `sub`, in order.
func eventIDs(_ out: RecordingOutbound, _ sub: String) -> [String] {
    out.messages("EVENT").filter { $0[1].stringValue == sub }.compactMap { $0[2].objectValue?["id"]?.stringValue }
}
