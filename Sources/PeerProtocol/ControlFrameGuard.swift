import Foundation
import HyperCrypto
import LMDBKit

/// Remembers, per gateway key, the highest control-frame sequence accepted. Implementations must make
/// `advance` atomic (check and store in one step) and, for the persistent one, durable before returning.
public protocol ControlFrameSequenceStore: Sendable {
    /// Highest sequence accepted from `gatewayKey`, or nil if none yet.
    func highestSequence(gatewayKey: [UInt8]) throws -> UInt64?
    /// Stores `sequence` if it is strictly above the stored one (or none is stored); returns the previous
    /// highest and whether it advanced.
    func advance(gatewayKey: [UInt8], to sequence: UInt64) throws -> (advanced: Bool, previous: UInt64?)
}

/// Why a receiver refused a control frame.
public enum ControlFrameRejection: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(ControlFrameDecodingError)
    case unknownGatewayKey(String)
    case badSignature
    case replayed(sequence: UInt64, highestSeen: UInt64)

    /// Short machine-readable reason (for logs and metrics).
    public var reason: String {
        switch self {
        case .malformed: return "malformed"
        case .unknownGatewayKey: return "unknown_gateway_key"
        case .badSignature: return "bad_signature"
        case .replayed: return "replayed"
        }
    }

    public var description: String {
        switch self {
        case .malformed(let e): return "control frame rejected: \(e)"
        case .unknownGatewayKey(let k): return "control frame rejected: gateway key \(k) is not trusted"
        case .badSignature: return "control frame rejected: signature does not verify"
        case .replayed(let s, let h):
            return "control frame rejected: sequence \(s) is not above the highest seen (\(h)); replay or reordering"
        }
    }
}

/// Receiver-side guard: accepts a frame only if it parses, comes from a trusted gateway key, carries a valid
/// signature and a sequence strictly above every sequence accepted before from that gateway (remembered in
/// `store`, so a restart does not reopen the replay window).
public struct ControlFrameGuard: Sendable {
    /// Gateway public keys whose frames are accepted.
    public let trustedGatewayKeys: Set<[UInt8]>
    private let store: any ControlFrameSequenceStore

    public init(trustedGatewayKeys: Set<[UInt8]>, store: any ControlFrameSequenceStore) {
        self.trustedGatewayKeys = trustedGatewayKeys
        self.store = store
    }

    /// Parses and checks wire bytes; on success the sequence is recorded before the frame is returned.
    public func accept(_ bytes: [UInt8]) throws -> ControlFrame {
        let frame: ControlFrame
        do {
            frame = try ControlFrame.decode(bytes)
        } catch {
            throw ControlFrameRejection.malformed(error)
        }
        return try accept(frame)
    }

    /// Checks an already-parsed frame; on success the sequence is recorded.
    public func accept(_ frame: ControlFrame) throws -> ControlFrame {
        guard trustedGatewayKeys.contains(frame.gatewayKey) else {
            throw ControlFrameRejection.unknownGatewayKey(frame.gatewayKey.hex)
        }
        guard frame.hasValidSignature else { throw ControlFrameRejection.badSignature }
        let result = try store.advance(gatewayKey: frame.gatewayKey, to: frame.sequence)
        guard result.advanced else {
            throw ControlFrameRejection.replayed(sequence: frame.sequence, highestSeen: result.previous ?? 0)
        }
        return frame
    }
}

/// In-memory sequence store (tests, ephemeral receivers).
public final class InMemoryControlFrameSequenceStore: ControlFrameSequenceStore, @unchecked Sendable {
    // Invariant: `highest` is only touched while `lock` is held.
    private let lock = NSLock()
    private var highest: [[UInt8]: UInt64] = [:]

    public init() {}

    public func highestSequence(gatewayKey: [UInt8]) throws -> UInt64? {
        lock.withLock { highest[gatewayKey] }
    }

    public func advance(gatewayKey: [UInt8], to sequence: UInt64) throws -> (advanced: Bool, previous: UInt64?) {
        lock.withLock {
            let previous = highest[gatewayKey]
            if let p = previous, sequence <= p { return (false, p) }
            highest[gatewayKey] = sequence
            return (true, previous)
        }
    }
}

/// LMDB sequence store: one entry per gateway key (32-byte key -> u64 little-endian) in the named database
/// `control-frame-highest`, committed durably before a frame is accepted.
public final class LMDBControlFrameSequenceStore: ControlFrameSequenceStore, Sendable {
    private let env: LMDBEnvironment
    private let db: LMDBDatabase

    /// Uses (creating if needed) the `control-frame-highest` database in `environment`.
    public init(environment: LMDBEnvironment) throws {
        env = environment
        db = try environment.database(named: "control-frame-highest")
    }

    public func highestSequence(gatewayKey: [UInt8]) throws -> UInt64? {
        try env.read { txn in try txn.get(db, key: gatewayKey).flatMap(Self.decodeU64) }
    }

    public func advance(gatewayKey: [UInt8], to sequence: UInt64) throws -> (advanced: Bool, previous: UInt64?) {
        try env.write { txn in
            let previous = try txn.get(db, key: gatewayKey).flatMap(Self.decodeU64)
            if let p = previous, sequence <= p { return (false, p) }
            try txn.put(db, key: gatewayKey, value: Self.encodeU64(sequence))
            return (true, previous)
        }
    }

    static func encodeU64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    static func decodeU64(_ b: [UInt8]) -> UInt64? {
        guard b.count == 8 else { return nil }
        return b.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}
