/// Flat in-order tree index math (the `flat-tree` layout Hypercore uses): leaves sit at even indices
/// (`2 * block`), a parent at depth `d` covers `2^d` leaves, and every node of a log lives at one `UInt64` index.
public enum FlatTree {
    /// Index of the node at `depth` and `offset` (position among nodes of that depth).
    @inline(__always) public static func index(depth: UInt64, offset: UInt64) -> UInt64 {
        (offset << (depth + 1)) | ((1 << depth) - 1)
    }

    /// Depth of a node: 0 for leaves.
    @inline(__always) public static func depth(_ index: UInt64) -> UInt64 {
        UInt64((~index).trailingZeroBitCount)
    }

    /// Position of a node among the nodes of its depth.
    @inline(__always) public static func offset(_ index: UInt64) -> UInt64 {
        if index & 1 == 0 { return index / 2 }
        return index >> (depth(index) + 1)
    }

    /// Parent of a node.
    @inline(__always) public static func parent(_ index: UInt64) -> UInt64 {
        let d = depth(index)
        return Self.index(depth: d + 1, offset: offset(index) >> 1)
    }

    /// The other child of this node's parent.
    @inline(__always) public static func sibling(_ index: UInt64) -> UInt64 {
        let d = depth(index)
        return Self.index(depth: d, offset: offset(index) ^ 1)
    }

    /// Left and right child of a parent; nil for a leaf.
    public static func children(_ index: UInt64) -> (left: UInt64, right: UInt64)? {
        if index & 1 == 0 { return nil }
        let d = depth(index)
        let o = offset(index) * 2
        return (Self.index(depth: d - 1, offset: o), Self.index(depth: d - 1, offset: o + 1))
    }

    /// Leftmost leaf index under a node.
    @inline(__always) public static func leftSpan(_ index: UInt64) -> UInt64 {
        if index & 1 == 0 { return index }
        return offset(index) * (2 << depth(index))
    }

    /// Rightmost leaf index under a node.
    @inline(__always) public static func rightSpan(_ index: UInt64) -> UInt64 {
        if index & 1 == 0 { return index }
        return (offset(index) + 1) * (2 << depth(index)) - 2
    }

    /// Number of leaves (blocks) under a node.
    @inline(__always) public static func countLeaves(_ index: UInt64) -> UInt64 { 1 << depth(index) }

    /// Number of nodes in the subtree rooted at a node (itself included).
    @inline(__always) public static func count(_ index: UInt64) -> UInt64 { (2 << depth(index)) - 1 }

    /// Whether `other` lies inside the span of `index`.
    @inline(__always) public static func contains(_ index: UInt64, _ other: UInt64) -> Bool {
        leftSpan(index) <= other && other <= rightSpan(index)
    }

    /// The roots of a tree whose leaves are all indices below `head` (an even index: `2 * length`).
    public static func fullRoots(_ head: UInt64) -> [UInt64] {
        precondition(head & 1 == 0, "fullRoots needs an even index")
        var result: [UInt64] = []
        var remaining = head / 2
        var offset: UInt64 = 0
        var factor: UInt64 = 1
        while remaining > 0 {
            while factor * 2 <= remaining { factor *= 2 }
            result.append(offset + factor - 1)
            offset += 2 * factor
            remaining -= factor
            factor = 1
        }
        return result
    }

    /// A walking cursor over the tree (mirrors flat-tree's iterator: index, offset and factor = 2 * leaves).
    public struct Iterator: Sendable {
        public private(set) var index: UInt64 = 0
        public private(set) var offset: UInt64 = 0
        /// Twice the number of leaves under the current node.
        public private(set) var factor: UInt64 = 2

        public init(_ index: UInt64) { seek(index) }

        /// Moves to `index`.
        public mutating func seek(_ index: UInt64) {
            self.index = index
            if index & 1 == 1 {
                offset = FlatTree.offset(index)
                factor = 2 << FlatTree.depth(index)
            } else {
                offset = index / 2
                factor = 2
            }
        }

        public var isLeft: Bool { offset & 1 == 0 }
        public var isRight: Bool { !isLeft }
        public var leftSpan: UInt64 { index + 1 - factor / 2 }
        public var rightSpan: UInt64 { index + factor / 2 - 1 }

        /// Whether `other` is inside the current node's span.
        public func contains(_ other: UInt64) -> Bool {
            if other > index { return other < index + factor / 2 }
            if other < index { return other + factor / 2 > index }
            return true
        }

        @discardableResult public mutating func next() -> UInt64 {
            offset += 1
            index += factor
            return index
        }

        @discardableResult public mutating func prev() -> UInt64 {
            if offset == 0 { return index }
            offset -= 1
            index -= factor
            return index
        }

        @discardableResult public mutating func sibling() -> UInt64 { isLeft ? next() : prev() }

        @discardableResult public mutating func parent() -> UInt64 {
            if offset & 1 == 1 {
                index -= factor / 2
                offset = (offset - 1) / 2
            } else {
                index += factor / 2
                offset /= 2
            }
            factor *= 2
            return index
        }

        @discardableResult public mutating func leftChild() -> UInt64 {
            if factor == 2 { return index }
            factor /= 2
            index -= factor / 2
            offset *= 2
            return index
        }

        @discardableResult public mutating func rightChild() -> UInt64 {
            if factor == 2 { return index }
            factor /= 2
            index += factor / 2
            offset = 2 * offset + 1
            return index
        }

        /// Moves to the first leaf after the current subtree.
        @discardableResult public mutating func nextTree() -> UInt64 {
            index = index + factor / 2 + 1
            offset = index / 2
            factor = 2
            return index
        }

        /// From a leaf that starts a subtree, climbs to the largest full root below `head`; false when done.
        public mutating func fullRoot(_ head: UInt64) -> Bool {
            if head <= index || index & 1 == 1 { return false }
            while head > index + factor + factor / 2 {
                index += factor / 2
                factor *= 2
                offset /= 2
            }
            return true
        }
    }
}
