import Foundation
import HyperCrypto
import PeerProtocol

/// Signs control frames with the gateway key and the next persisted sequence number.
public struct ControlFrameSigner: Sendable {
    private let keyPair: Ed25519KeyPair
    private let counter: any ControlFrameSequenceCounter
    private let clock: any TokenClock

    public init(keyPair: Ed25519KeyPair, counter: any ControlFrameSequenceCounter, clock: any TokenClock) {
        self.keyPair = keyPair
        self.counter = counter
        self.clock = clock
    }

    /// Validates and encodes `payload` (JSON), takes the next sequence (persisted first, so a crash can skip a
    /// number but never reuse one) and signs.
    public func sign<P: PeerPayload>(_ type: ControlFrameType, payload: P) throws -> ControlFrame {
        let body = Array(try PayloadCodec.encode(payload))
        let sequence = try counter.nextControlFrameSequence()
        return try ControlFrame.sign(
            type: type.rawValue, payload: body, sequence: sequence, timestamp: clock.nowMilliseconds(),
            keyPair: keyPair)
    }
}
