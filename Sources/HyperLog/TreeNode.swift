import CompactEncoding
import HyperCrypto

/// One Merkle tree node: a flat-tree index, the byte size of the blocks under it, and its 32-byte hash.
public struct TreeNode: Sendable, Hashable, CustomStringConvertible {
    public var index: UInt64
    public var size: UInt64
    public var hash: [UInt8]

    public init(index: UInt64, size: UInt64, hash: [UInt8]) {
        self.index = index
        self.size = size
        self.hash = hash
    }

    public var description: String { "node(\(index), size \(size), \(hash.hex.prefix(16)))" }

    /// The leaf node of block number `block`.
    public static func leaf(block: UInt64, data: [UInt8]) -> TreeNode {
        TreeNode(index: 2 * block, size: UInt64(data.count), hash: HypercoreCrypto.leafHash(data))
    }

    /// The parent of two sibling nodes (`left` has the lower index).
    public static func parent(_ left: TreeNode, _ right: TreeNode) -> TreeNode {
        TreeNode(
            index: FlatTree.parent(left.index), size: left.size + right.size,
            hash: HypercoreCrypto.parentHash(left, right))
    }

    /// Stored form: u64le size followed by the hash (40 bytes, as Hypercore stores tree nodes).
    var stored: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(40)
        withUnsafeBytes(of: size.littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: hash)
        return out
    }

    init?(index: UInt64, stored: UnsafeRawBufferPointer) {
        guard stored.count == 40 else { return nil }
        var s: UInt64 = 0
        for i in 0..<8 { s |= UInt64(stored[i]) << (8 * UInt64(i)) }
        self.init(index: index, size: s, hash: Array(stored[8..<40]))
    }
}

extension TreeNode: CompactCodable {
    /// Wire form (hypercore lib/messages.js `node`): uint index, uint size, fixed32 hash.
    public func encode(to writer: inout CompactWriter) {
        writer.uint(index)
        writer.uint(size)
        writer.fixed32(hash)
    }

    public init(from reader: inout CompactReader) throws {
        index = try reader.uint()
        size = try reader.uint()
        hash = try reader.fixed32()
    }
}
