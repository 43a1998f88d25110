import HyperTree
import TestSupport
import Testing

/// An independent, deliberately plain protobuf encoder of Hyperbee's Node message (fields in number order, packed
/// repeated uint64, absent fields omitted): the oracle for the one-pass encoder of the write path.
enum ReferenceNodeEncoder {
    static func varint(_ v: UInt64, into out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func field(_ number: UInt64, _ payload: [UInt8], into out: inout [UInt8]) {
        varint(number << 3 | 2, into: &out)
        varint(UInt64(payload.count), into: &out)
        out += payload
    }

    static func packed(_ values: [UInt64]) -> [UInt8] {
        var out: [UInt8] = []
        for v in values { varint(v, into: &out) }
        return out
    }

    static func encode(_ m: NodeMessage) -> [UInt8] {
        var index: [UInt8] = []
        for l in m.levels {
            var level: [UInt8] = []
            if !l.keys.isEmpty { field(1, packed(l.keys), into: &level) }
            if !l.children.isEmpty { field(2, packed(l.children), into: &level) }
            field(1, level, into: &index)
        }
        var out: [UInt8] = []
        field(1, index, into: &out)
        field(2, m.key, into: &out)
        if let v = m.value { field(3, v, into: &out) }
        if let link = m.link {
            out.append(4 << 3)
            out.append(link ? 1 : 0)
        }
        return out
    }
}

@Suite("Node block encoder: one-pass encoding equals a plain protobuf encoding")
struct EncoderTests {
    @Test("varint boundaries in key seqs, child pointers, key and value lengths")
    func boundaries() throws {
        let edges: [UInt64] = [0, 1, 127, 128, 255, 16383, 16384, 2_097_151, 2_097_152, 1 << 35, UInt64.max]
        for (i, e) in edges.enumerated() {
            let key = [UInt8](repeating: UInt8(i), count: [0, 1, 127, 128, 300, 16384][i % 6])
            let value: [UInt8]? = i % 3 == 0 ? nil : [UInt8](repeating: 7, count: [0, 127, 128, 20000][i % 4])
            let levels = [
                IndexLevel(keys: [e, 3, e], children: [e, 0, 5, 1, 9, e, 1, 2]),
                IndexLevel(keys: [], children: []),
                IndexLevel(keys: [e], children: []),
            ]
            for link in [nil, true, false] as [Bool?] {
                let m = NodeMessage(levels: levels, key: key, value: value, link: link)
                let bytes = m.encoded()
                #expect(bytes == ReferenceNodeEncoder.encode(m), "edge \(e), link \(String(describing: link))")
                #expect(try NodeMessage.decode(bytes, seq: 1) == m)
            }
        }
    }

    @Test("every block of a 20,000-block tree built by batches with deletes re-encodes to its exact bytes")
    func largeTree() async throws {
        let log = MemoryTreeLog()
        let tree = HyperTree(log: log)
        var g = SeededGenerator(seed: 44)
        var written: [[UInt8]] = []
        // Seqs pass 16,384 (3-byte varints); keys up to 200 bytes and values up to 400 (2-byte lengths).
        while log.length < 20_000 {
            try await tree.batch { batch in
                for _ in 0..<Int.random(in: 1...600, using: &g) {
                    if !written.isEmpty, Int.random(in: 0..<10, using: &g) == 0 {
                        try await batch.del(written.randomElement(using: &g)!)
                        continue
                    }
                    let n = UInt64.random(in: 0..<1_000_000, using: &g)
                    let key = Array("k\(n)".utf8) + [UInt8](repeating: 0x61, count: Int(n % 190))
                    let value: [UInt8]? = n % 7 == 0 ? nil : [UInt8](repeating: UInt8(n & 0xFF), count: Int(n % 400))
                    try await batch.put(key, value)
                    written.append(key)
                }
            }
        }
        let blocks = log.allBlocks
        var multiByteSeqs = 0
        for seq in 1..<blocks.count {
            let m = try NodeMessage.decode(blocks[seq], seq: UInt64(seq))
            #expect(ReferenceNodeEncoder.encode(m) == blocks[seq], "block \(seq)")
            if m.levels.contains(where: { $0.keys.contains { $0 >= 16384 } }) { multiByteSeqs += 1 }
        }
        #expect(multiByteSeqs > 0)
        // And the tree still reads back what the last writes left.
        let last = try #require(written.last)
        let entry = try await tree.get(last)
        #expect(entry == nil || entry?.key == last)
    }
}
