import CompactEncoding

/// The persisted state of a log (meta `header`), rewritten in the same transaction as every change.
struct LogHeader: Sendable, Equatable, CompactCodable {
    var mode: SigningMode
    var key: [UInt8]
    var manifest: Manifest
    /// False for a replica opened from a bare key that has not yet seen its manifest.
    var manifestKnown: Bool
    var fork: UInt64 = 0
    var length: UInt64 = 0
    var byteLength: UInt64 = 0
    var signature: [UInt8] = []
    var contiguousLength: UInt64 = 0

    init(identity: LogIdentity, manifestKnown: Bool) {
        mode = identity.mode
        key = identity.key
        manifest = identity.manifest
        self.manifestKnown = manifestKnown
    }

    var identity: LogIdentity {
        mode == .compat
            ? LogIdentity(publicKey: manifest.signers[0].publicKey, mode: .compat) : LogIdentity(manifest: manifest)
    }

    func encode(to w: inout CompactWriter) {
        w.uint(UInt64(1))  // header version
        w.uint(UInt64((mode == .compat ? 1 : 0) | (manifestKnown ? 2 : 0)))
        w.fixed32(key)
        manifest.encode(to: &w)
        w.uint(fork)
        w.uint(length)
        w.uint(byteLength)
        w.buffer(signature)
        w.uint(contiguousLength)
    }

    init(from r: inout CompactReader) throws {
        let v = try r.uint()
        guard v == 1 else { throw CompactDecodingError.invalid("unknown header version \(v)") }
        let flags = try r.uint()
        mode = flags & 1 != 0 ? .compat : .manifest
        manifestKnown = flags & 2 != 0
        key = try r.fixed32()
        manifest = try Manifest(from: &r)
        fork = try r.uint()
        length = try r.uint()
        byteLength = try r.uint()
        signature = try r.buffer()
        contiguousLength = try r.uint()
        guard !manifest.signers.isEmpty else { throw CompactDecodingError.invalid("manifest without signers") }
    }
}

/// A change to a log, delivered to `HyperLog.events()` subscribers.
public enum LogEvent: Sendable, Equatable {
    /// The log grew (local append, or a verified upgrade on a replica).
    case appended(length: UInt64, byteLength: UInt64)
    /// The log was truncated to `length`; its fork id is now `fork`.
    case truncated(length: UInt64, fork: UInt64)
    /// A replica stored a verified remote block.
    case downloaded(index: UInt64)
    /// Blocks in [start, end) were cleared locally.
    case cleared(start: UInt64, end: UInt64)
}
