import Foundation
import HyperCrypto
import LMDBKit
import PeerProtocol
import Testing

let gatewayKeyPair = try! Ed25519KeyPair(seed: [UInt8](repeating: 1, count: 32))
let otherKeyPair = try! Ed25519KeyPair(seed: [UInt8](repeating: 2, count: 32))

func frame(
    _ sequence: UInt64, type: String = "token-revoked", payload: [UInt8] = Array(#"{"a":1}"#.utf8),
    keyPair: Ed25519KeyPair = gatewayKeyPair
) throws -> ControlFrame {
    try ControlFrame.sign(
        type: type, payload: payload, sequence: sequence, timestamp: 1_767_225_600_000, keyPair: keyPair)
}

func tempDirectory(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
}

@Suite("Control frame wire format")
struct ControlFrameCodecTests {
    @Test("a signed frame encodes to the documented layout and decodes back to itself")
    func roundTrip() throws {
        let f = try frame(42, payload: [1, 2, 3])
        let bytes = f.encoded()
        #expect(bytes.count == ControlFrame.minimumSize - 1 + "token-revoked".utf8.count + 3)
        #expect(Array(bytes[0..<4]) == Array("HTCF".utf8))
        #expect(bytes[4] == 1)
        #expect(Int(bytes[5]) == "token-revoked".utf8.count)
        let afterType = 6 + Int(bytes[5])
        #expect(Array(bytes[afterType..<afterType + 32]) == gatewayKeyPair.publicKey)
        #expect(bytes[afterType + 32] == 42)  // sequence, little-endian
        let decoded = try ControlFrame.decode(bytes)
        #expect(decoded == f)
        #expect(decoded.hasValidSignature)
        #expect(decoded.encoded() == bytes)
    }

    @Test("the signature covers every byte: flipping any single byte breaks it or the parse")
    func everyByteIsSigned() throws {
        let bytes = try frame(7).encoded()
        for i in 0..<bytes.count {
            var copy = bytes
            copy[i] ^= 0x01
            if let f = try? ControlFrame.decode(copy) {
                #expect(!f.hasValidSignature, "byte \(i) is not covered by the signature")
            }
        }
    }

    @Test("the signature is domain-separated: signing the bare body does not produce a valid frame")
    func domainSeparation() throws {
        let f = try frame(9)
        let body = Array(f.encoded().dropLast(64))
        let forged = ControlFrame.init(unsafeFrom: f, signature: gatewayKeyPair.sign(body))
        #expect(!forged.hasValidSignature)
    }

    @Test("malformed inputs give precise decoding errors")
    func malformed() throws {
        let good = try frame(1, type: "reassign", payload: [9, 9]).encoded()
        #expect(throws: ControlFrameDecodingError.truncated(needed: ControlFrame.minimumSize, got: 3)) {
            try ControlFrame.decode([1, 2, 3])
        }
        var badMagic = good
        badMagic[0] = UInt8(ascii: "X")
        #expect(throws: ControlFrameDecodingError.badMagic) { try ControlFrame.decode(badMagic) }
        var badVersion = good
        badVersion[4] = 2
        #expect(throws: ControlFrameDecodingError.unsupportedVersion(2)) { try ControlFrame.decode(badVersion) }
        var zeroType = good
        zeroType[5] = 0
        #expect(throws: ControlFrameDecodingError.badTypeLength(0)) { try ControlFrame.decode(zeroType) }
        var longType = good
        longType[5] = 65
        #expect(throws: ControlFrameDecodingError.badTypeLength(65)) { try ControlFrame.decode(longType) }
        var upperType = good
        upperType[6] = UInt8(ascii: "R")
        #expect(throws: ControlFrameDecodingError.badTypeCharacters) { try ControlFrame.decode(upperType) }
        #expect(throws: ControlFrameDecodingError.trailingBytes(1)) { try ControlFrame.decode(good + [0]) }
        #expect(throws: ControlFrameDecodingError.self) { try ControlFrame.decode(Array(good.dropLast())) }
        // Payload length field claiming more than the limit.
        var huge = good
        let lenAt = 6 + 8 + 32 + 16
        huge.replaceSubrange(lenAt..<lenAt + 4, with: [0xff, 0xff, 0xff, 0x7f])
        #expect(throws: ControlFrameDecodingError.payloadTooLarge(0x7fff_ffff)) { try ControlFrame.decode(huge) }
        // Payload length field claiming more than what is there (but under the limit).
        var short = good
        short.replaceSubrange(lenAt..<lenAt + 4, with: [0x00, 0x01, 0x00, 0x00])
        #expect(throws: ControlFrameDecodingError.self) { try ControlFrame.decode(short) }
    }

    @Test("signing refuses out-of-bounds types and payloads")
    func signingBounds() {
        #expect(throws: ControlFrameDecodingError.badTypeCharacters) { try frame(1, type: "Token Revoked") }
        #expect(throws: ControlFrameDecodingError.badTypeLength(0)) { try frame(1, type: "") }
        #expect(throws: ControlFrameDecodingError.payloadTooLarge(ControlFrame.maxPayloadSize + 1)) {
            try frame(1, payload: [UInt8](repeating: 0, count: ControlFrame.maxPayloadSize + 1))
        }
    }

    @Test("random garbage never crashes the decoder (bounded property run)")
    func garbage() {
        var rng = SplitMix(seed: 0x5eed)
        let valid = try! frame(3).encoded()
        for i in 0..<2000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                bytes = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes = valid
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next())
                }
            }
            if let f = try? ControlFrame.decode(bytes) { #expect(f.encoded() == bytes) }
        }
    }
}

/// Local deterministic generator (keeps this test target independent of TestSupport internals).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension ControlFrame {
    /// Same fields, different signature (for forgery tests).
    init(unsafeFrom f: ControlFrame, signature: [UInt8]) {
        var bytes = f.encoded()
        bytes.replaceSubrange(bytes.count - 64..<bytes.count, with: signature)
        self = try! ControlFrame.decode(bytes)
    }
}

@Suite("Control frame receiver guard")
struct ControlFrameGuardTests {
    @Test("accepts increasing sequences and rejects replays and older sequences")
    func replay() throws {
        let guardian = ControlFrameGuard(
            trustedGatewayKeys: [gatewayKeyPair.publicKey], store: InMemoryControlFrameSequenceStore())
        let f5 = try frame(5).encoded()
        #expect(try guardian.accept(f5).sequence == 5)
        #expect(throws: ControlFrameRejection.replayed(sequence: 5, highestSeen: 5)) { try guardian.accept(f5) }
        #expect(throws: ControlFrameRejection.replayed(sequence: 4, highestSeen: 5)) {
            try guardian.accept(try frame(4).encoded())
        }
        #expect(try guardian.accept(try frame(6).encoded()).sequence == 6)
        // Gaps are fine (a crashed gateway may skip numbers), going back is not.
        #expect(try guardian.accept(try frame(100).encoded()).sequence == 100)
    }

    @Test("rejects forged frames: bad signature, unknown gateway key, key swapped in")
    func forged() throws {
        let guardian = ControlFrameGuard(
            trustedGatewayKeys: [gatewayKeyPair.publicKey], store: InMemoryControlFrameSequenceStore())
        // Signed by a key nobody trusts.
        #expect(throws: ControlFrameRejection.unknownGatewayKey(otherKeyPair.publicKey.hex)) {
            try guardian.accept(try frame(1, keyPair: otherKeyPair).encoded())
        }
        // Claims the trusted gateway key but is signed by another key.
        let real = try frame(2)
        let forged = ControlFrame(unsafeFrom: real, signature: otherKeyPair.sign(real.signable))
        #expect(throws: ControlFrameRejection.badSignature) { try guardian.accept(forged.encoded()) }
        // Payload altered after signing.
        var tampered = real.encoded()
        tampered[tampered.count - 65] ^= 0xff
        #expect(throws: ControlFrameRejection.badSignature) { try guardian.accept(tampered) }
        // A rejected frame must not advance the sequence: the genuine frame 2 still passes.
        #expect(try guardian.accept(real.encoded()).sequence == 2)
        #expect(throws: ControlFrameRejection.malformed(.badMagic)) {
            try guardian.accept([UInt8](repeating: 0, count: ControlFrame.minimumSize))
        }
    }

    @Test("the highest sequence survives a restart (LMDB store)")
    func persistence() throws {
        let dir = tempDirectory("cf-guard")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f10 = try frame(10).encoded()
        do {
            let env = try LMDBEnvironment(path: dir)
            let guardian = ControlFrameGuard(
                trustedGatewayKeys: [gatewayKeyPair.publicKey],
                store: try LMDBControlFrameSequenceStore(environment: env))
            _ = try guardian.accept(f10)
            env.close()
        }
        let env = try LMDBEnvironment(path: dir)
        let store = try LMDBControlFrameSequenceStore(environment: env)
        #expect(try store.highestSequence(gatewayKey: gatewayKeyPair.publicKey) == 10)
        #expect(try store.highestSequence(gatewayKey: otherKeyPair.publicKey) == nil)
        let guardian = ControlFrameGuard(trustedGatewayKeys: [gatewayKeyPair.publicKey], store: store)
        #expect(throws: ControlFrameRejection.replayed(sequence: 10, highestSeen: 10)) { try guardian.accept(f10) }
        #expect(try guardian.accept(try frame(11).encoded()).sequence == 11)
    }

    @Test("sequences are tracked per gateway key")
    func perGateway() throws {
        let guardian = ControlFrameGuard(
            trustedGatewayKeys: [gatewayKeyPair.publicKey, otherKeyPair.publicKey],
            store: InMemoryControlFrameSequenceStore())
        _ = try guardian.accept(try frame(50).encoded())
        #expect(try guardian.accept(try frame(1, keyPair: otherKeyPair).encoded()).sequence == 1)
    }
}

@Suite("Control frame guard under concurrency")
struct ControlFrameGuardConcurrencyTests {
    @Test("the same frame delivered 8 times concurrently is accepted exactly once (LMDB store)")
    func concurrentReplay() throws {
        let dir = tempDirectory("cf-race")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let env = try LMDBEnvironment(path: dir)
        let guardian = ControlFrameGuard(
            trustedGatewayKeys: [gatewayKeyPair.publicKey], store: try LMDBControlFrameSequenceStore(environment: env))
        let bytes = try frame(77).encoded()
        let accepted = Counter()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            if (try? guardian.accept(bytes)) != nil { accepted.increment() }
        }
        #expect(accepted.value == 1)
    }
}

final class Counter: @unchecked Sendable {
    // Invariant: `count` only touched under `lock`.
    private let lock = NSLock()
    private var count = 0
    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
