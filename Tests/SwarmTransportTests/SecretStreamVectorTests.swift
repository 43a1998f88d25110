import HyperCrypto
import TestSupport
import Testing

@testable import SwarmTransport

@Suite("secret-stream matches the JavaScript transcript byte for byte")
struct SecretStreamVectorTests {
    struct Fixture {
        let v: [String: Any]
        let initiator: Ed25519KeyPair
        let responder: Ed25519KeyPair
        let rng: [[UInt8]]
        let transcript: [(dir: String, bytes: [UInt8])]

        init() throws {
            v = try Vectors.load("secret-stream")
            let i = try #require(v["initiator"] as? [String: Any])
            let r = try #require(v["responder"] as? [String: Any])
            initiator = try Ed25519KeyPair(seed: hex(i["seed"]))
            responder = try Ed25519KeyPair(seed: hex(r["seed"]))
            rng = try #require(v["rngCalls"] as? [[String: Any]]).map { hex($0["hex"]) }
            transcript = try #require(v["rawTranscript"] as? [[String: Any]]).map {
                (($0["dir"] as? String) ?? "", hex($0["hex"]))
            }
        }
    }

    @Test("replaying the recorded randomness reproduces every handshake and data frame")
    func fullTranscript() throws {
        let f = try Fixture()
        var a = SecretStream(isInitiator: true, keyPair: f.initiator, ephemeralSeed: f.rng[0], header: f.rng[2])
        var b = SecretStream(isInitiator: false, keyPair: f.responder, ephemeralSeed: f.rng[1], header: f.rng[4])
        var produced: [(String, [UInt8])] = []
        var aResult: NoiseResult?
        var bResult: NoiseResult?

        // Deliver frames alternately, the way two TCP ends would, and record every frame each side writes.
        var toB: [[UInt8]] = []
        var toA: [[UInt8]] = []
        func collect(_ events: [SecretStream.Event], from side: String, into queue: inout [[UInt8]]) {
            for e in events {
                switch e {
                case .send(let bytes):
                    produced.append((side, bytes))
                    queue.append(bytes)
                case .handshake(let r): if side == "initiator" { aResult = r } else { bResult = r }
                case .message: break
                }
            }
        }
        collect(try a.start(), from: "initiator", into: &toB)
        var rounds = 0
        while (!toA.isEmpty || !toB.isEmpty) && rounds < 20 {
            rounds += 1
            if !toB.isEmpty {
                let frame = toB.removeFirst()
                collect(try b.receive(frame: Array(frame[3...])), from: "responder", into: &toA)
            }
            if !toA.isEmpty {
                let frame = toA.removeFirst()
                collect(try a.receive(frame: Array(frame[3...])), from: "initiator", into: &toB)
            }
        }
        #expect(a.isEstablished && b.isEstablished)
        let hash = hex(f.v["handshakeHash"])
        #expect(aResult?.handshakeHash == hash)
        #expect(bResult?.handshakeHash == hash)
        #expect(aResult?.remotePublicKey == f.responder.publicKey)
        #expect(bResult?.remotePublicKey == f.initiator.publicKey)

        // Handshake frames (3 Noise messages + 2 id/header frames) equal the vector in content and direction.
        let handshakeFrames = f.transcript.prefix(5)
        #expect(produced.count == 5)
        for (expected, got) in zip(handshakeFrames, produced) {
            #expect(got.1.hex == expected.bytes.hex)
            #expect(expected.dir.hasPrefix(got.0))
        }

        // Data frames: seal the recorded plaintexts and compare; the peer decrypts them to the recorded bytes.
        let sent = try #require(f.v["plaintextSent"] as? [[String: Any]])
        let received = try #require(f.v["received"] as? [[String: Any]])
        for (k, msg) in sent.enumerated() {
            let text = Array(try #require(msg["text"] as? String).utf8)
            let fromInitiator = (msg["from"] as? String) == "initiator"
            let sealed = fromInitiator ? try a.seal(text) : try b.seal(text)
            #expect(sealed.hex == f.transcript[5 + k].bytes.hex)
            let events =
                fromInitiator ? try b.receive(frame: Array(sealed[3...])) : try a.receive(frame: Array(sealed[3...]))
            #expect(events == [.message(hex(received[k]["hex"]))])
        }
    }

    @Test("a tampered frame is rejected, never decrypted")
    func tamperedFrame() throws {
        let f = try Fixture()
        var a = SecretStream(isInitiator: true, keyPair: f.initiator, ephemeralSeed: f.rng[0], header: f.rng[2])
        var b = SecretStream(isInitiator: false, keyPair: f.responder, ephemeralSeed: f.rng[1], header: f.rng[4])
        for (k, frame) in f.transcript.prefix(5).enumerated() {
            let payload = Array(frame.bytes[3...])
            if frame.dir.hasPrefix("initiator") {
                if k == 0 { _ = try a.start() } else if k >= 2 { _ = try? a.receive(frame: []) }
                _ = try b.receive(frame: payload)
            } else {
                _ = try a.receive(frame: payload)
            }
        }
        var bad = Array(f.transcript[5].bytes[3...])
        bad[5] ^= 1
        #expect(throws: SecretStreamError.decryptionFailed) { try b.receive(frame: bad) }
    }

    @Test("a wrong remote stream id is refused")
    func wrongStreamID() throws {
        let f = try Fixture()
        var b = SecretStream(isInitiator: false, keyPair: f.responder, ephemeralSeed: f.rng[1], header: f.rng[4])
        _ = try b.receive(frame: Array(f.transcript[0].bytes[3...]))
        _ = try b.receive(frame: Array(f.transcript[2].bytes[3...]))
        var header = Array(f.transcript[3].bytes[3...])
        header[0] ^= 0xff
        #expect(throws: SecretStreamError.invalidStreamID) { try b.receive(frame: header) }
        #expect(throws: SecretStreamError.invalidHeaderLength(3)) {
            var c = SecretStream(isInitiator: false, keyPair: f.responder, ephemeralSeed: f.rng[1], header: f.rng[4])
            _ = try c.receive(frame: Array(f.transcript[0].bytes[3...]))
            _ = try c.receive(frame: Array(f.transcript[2].bytes[3...]))
            _ = try c.receive(frame: [1, 2, 3])
        }
    }

    @Test("garbage instead of a Noise message fails the handshake with a typed error")
    func garbageHandshake() throws {
        let f = try Fixture()
        var b = SecretStream(isInitiator: false, keyPair: f.responder)
        #expect(throws: SecretStreamError.self) { try b.receive(frame: [1, 2, 3]) }
        var a = SecretStream(isInitiator: true, keyPair: f.initiator)
        _ = try a.start()
        #expect(throws: SecretStreamError.self) { try a.receive(frame: [UInt8](repeating: 7, count: 96)) }
    }

    @Test("frame decoder splits a byte stream at any boundary and enforces the size limit")
    func frameDecoder() throws {
        var d = FrameDecoder(maxFrameSize: 100)
        let stream = FrameDecoder.frame([1, 2, 3]) + FrameDecoder.frame([]) + FrameDecoder.frame([9])
        var frames: [[UInt8]] = []
        for byte in stream {
            d.append([byte])
            while let fr = try d.next() { frames.append(fr) }
        }
        #expect(frames == [[1, 2, 3], [], [9]])
        d.append([0xff, 0xff, 0x00])
        #expect(throws: SecretStreamError.frameTooLarge(size: 0xffff, limit: 100)) { try d.next() }
    }
}
