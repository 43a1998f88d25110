import CSodium

/// Incremental BLAKE2b (libsodium `crypto_generichash`), optionally keyed.
///
/// Outputs of 16...64 bytes; keys of 16...64 bytes. Hypercore uses 32-byte outputs everywhere.
public struct BLAKE2b: ~Copyable {
    // Owned, 64-byte aligned libsodium state (the C struct is over-aligned and imports as opaque).
    private let raw: UnsafeMutableRawPointer
    private var state: OpaquePointer { OpaquePointer(raw) }
    private let outputLength: Int

    /// Starts a hash with the given output length and optional key.
    public init(outputLength: Int = 32, key: [UInt8]? = nil) {
        Sodium.ensureReady()
        precondition(
            outputLength >= Int(crypto_generichash_BYTES_MIN) && outputLength <= Int(crypto_generichash_BYTES_MAX),
            "BLAKE2b output length out of range")
        self.outputLength = outputLength
        raw = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        if let key {
            precondition(key.count <= Int(crypto_generichash_KEYBYTES_MAX), "BLAKE2b key too long")
            key.withUnsafeBufferPointer { k in
                _ = crypto_generichash_init(state, k.baseAddress, k.count, outputLength)
            }
        } else {
            _ = crypto_generichash_init(state, nil, 0, outputLength)
        }
    }

    deinit { raw.deallocate() }

    /// Absorbs bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        _ = crypto_generichash_update(
            state, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
    }

    /// Absorbs bytes.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Absorbs one byte.
    public mutating func update(byte: UInt8) {
        withUnsafeBytes(of: byte) { update($0) }
    }

    /// Absorbs a little-endian unsigned 64-bit integer (Hypercore's `u64` in hash inputs).
    public mutating func update(uint64LE value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { update($0) }
    }

    /// Finishes the hash.
    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputLength)
        out.withUnsafeMutableBufferPointer { o in
            _ = crypto_generichash_final(state, o.baseAddress!, o.count)
        }
        return out
    }

    /// One-shot hash of several byte strings concatenated.
    public static func hash(_ parts: [UInt8]..., outputLength: Int = 32, key: [UInt8]? = nil) -> [UInt8] {
        var h = BLAKE2b(outputLength: outputLength, key: key)
        for p in parts { h.update(p) }
        return h.finalize()
    }
}
