import CompactEncoding

extension Proof {
    /// `decodeDataMessage(_:)` for a message that starts at `bytes[offset]` (a transport frame with its header in
    /// front), so the message is not copied out of the frame first. Only the block value is copied.
    public static func decodeDataMessage(_ bytes: [UInt8], from offset: Int) throws -> (request: UInt64, proof: Proof) {
        guard offset >= 0, offset <= bytes.count else { throw HyperLogError.malformed("data: offset out of range") }
        do {
            var r = CompactReader(bytes, start: offset)
            let flags = try r.uint()
            let request = try r.uint()
            var p = Proof(fork: try r.uint())
            if flags & 1 != 0 {
                p.block = Block(index: try r.uint(), value: try r.buffer(), nodes: try r.array(of: TreeNode.self))
            }
            if flags & 2 != 0 { p.hash = Hash(index: try r.uint(), nodes: try r.array(of: TreeNode.self)) }
            if flags & 4 != 0 { p.seek = Seek(bytes: try r.uint(), nodes: try r.array(of: TreeNode.self)) }
            if flags & 8 != 0 {
                p.upgrade = Upgrade(
                    start: try r.uint(), length: try r.uint(), nodes: try r.array(of: TreeNode.self),
                    additionalNodes: try r.array(of: TreeNode.self), signature: try r.buffer())
            }
            if flags & 16 != 0 { p.manifest = try Manifest(from: &r) }
            guard r.isAtEnd else { throw CompactDecodingError.invalid("\(r.remaining) trailing bytes") }
            return (request, p)
        } catch let e as CompactDecodingError {
            throw HyperLogError.malformed("data: \(e)")
        }
    }
}
