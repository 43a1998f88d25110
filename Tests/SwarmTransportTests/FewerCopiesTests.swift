import CompactEncoding
import HyperCrypto
import HyperLog
import Testing

@testable import SwarmTransport

@Suite("the copy-saving paths produce and read exactly the bytes of the plain paths")
struct FewerCopiesTests {
    @Test("a channel message sent as header + payload equals the concatenated frame")
    func outputMessageSameBytes() throws {
        var plainFrames: [[UInt8]] = []
        var splitFrames: [[UInt8]] = []
        let plain = Protomux { plainFrames.append($0) }
        let split = Protomux { splitFrames.append($0) }
        split.outputMessage = { header, payload in splitFrames.append(header + payload) }
        let payloads: [[UInt8]] = [[], [1, 2, 3], randomBytes(70_000)]
        for mux in [plain, split] {
            let ch = try #require(mux.open(protocol: Wire.protocolName, id: randomBytes(32)))
            for (k, p) in payloads.enumerated() { ch.send(type: UInt64(k * 100), p) }
            // Corked messages still go through the batch frame, identical on both.
            mux.cork()
            ch.send(type: 1, [9, 9])
            ch.send(type: 2, [8])
            mux.uncork()
        }
        #expect(plainFrames.count == 1 + payloads.count + 1)
        // The open frames differ only by the random id; the messages and the batch must match byte for byte.
        #expect(Array(plainFrames.dropFirst()) == Array(splitFrames.dropFirst()))
    }

    @Test("a data message decoded in place inside a frame equals the copied decode; bad offsets throw")
    func decodeInPlace() throws {
        let writer = try HyperLog.create(in: MemoryLogStorage(), keyPair: .generate())
        _ = try writer.append((0..<5).map { _ in randomBytes(1000) })
        let proof = try writer.proof(
            for: ProofRequest(
                fork: 0, block: .init(index: 3, nodes: 2), upgrade: .init(start: 0, length: 5), manifest: true))
        let message = proof.encodeDataMessage(request: 42)
        let frame: [UInt8] = [1, 3] + message
        let (id, decoded) = try Proof.decodeDataMessage(frame, from: 2)
        let (id2, copied) = try Proof.decodeDataMessage(message)
        #expect(id == 42 && id2 == 42)
        #expect(decoded == copied)
        #expect(decoded == proof)
        #expect(throws: (any Error).self) { try Proof.decodeDataMessage(frame, from: frame.count + 1) }
        #expect(throws: (any Error).self) { try Proof.decodeDataMessage(Array(frame.dropLast()), from: 2) }
    }
}
