import CompactEncoding
import TestSupport
import Testing

@Suite("compact-encoding against compact-encoding.json")
struct CompactEncodingVectorTests {
    let v: [String: Any]
    init() throws { v = try #require(try Vectors.load("compact-encoding")["vectors"] as? [String: Any]) }

    func cases(_ name: String) throws -> [[String: Any]] {
        let c = try #require(v[name] as? [[String: Any]], "missing vector group \(name)")
        #expect(!c.isEmpty)
        return c
    }

    func number(_ any: Any?) throws -> UInt64 {
        if let s = any as? String { return try #require(UInt64(s)) }
        if let i = any as? Int, i >= 0 { return UInt64(i) }
        let d = try #require(any as? Double)
        return try #require(UInt64(exactly: d))
    }

    @Test("uint boundaries encode and decode byte-exact")
    func uint() throws {
        for c in try cases("uint") {
            let value = try number(c["value"])
            var w = CompactWriter()
            w.uint(value)
            #expect(w.bytes == hex(c["hex"]))
            var r = CompactReader(hex(c["hex"]))
            #expect(try r.uint() == value)
            #expect(r.isAtEnd)
        }
    }

    @Test("fixed-width integers are little-endian")
    func fixedWidth() throws {
        for c in try cases("uint8") {
            var w = CompactWriter()
            w.uint8(UInt8(try number(c["value"])))
            #expect(w.bytes == hex(c["hex"]))
        }
        for c in try cases("uint16") {
            var w = CompactWriter()
            w.uint16(UInt16(try number(c["value"])))
            #expect(w.bytes == hex(c["hex"]))
            var r = CompactReader(w.bytes)
            #expect(UInt64(try r.uint16()) == (try number(c["value"])))
        }
        for c in try cases("uint24") {
            var w = CompactWriter()
            w.uint24(UInt32(try number(c["value"])))
            #expect(w.bytes == hex(c["hex"]))
            var r = CompactReader(w.bytes)
            #expect(UInt64(try r.uint24()) == (try number(c["value"])))
        }
        for c in try cases("uint32") {
            var w = CompactWriter()
            w.uint32(UInt32(try number(c["value"])))
            #expect(w.bytes == hex(c["hex"]))
            var r = CompactReader(w.bytes)
            #expect(UInt64(try r.uint32()) == (try number(c["value"])))
        }
        for c in try cases("uint64") {
            var w = CompactWriter()
            w.uint64(try number(c["value"]))
            #expect(w.bytes == hex(c["hex"]))
            var r = CompactReader(w.bytes)
            #expect(try r.uint64() == (try number(c["value"])))
        }
    }

    @Test("signed integers use zig-zag")
    func int() throws {
        for c in try cases("int") {
            let value = Int64(try #require(c["value"] as? Int))
            var w = CompactWriter()
            w.int(value)
            #expect(w.bytes == hex(c["hex"]), "int \(value)")
            var r = CompactReader(w.bytes)
            #expect(try r.int() == value)
        }
    }

    @Test("bool, buffer, raw, fixed32, string")
    func scalars() throws {
        for c in try cases("bool") {
            var w = CompactWriter()
            w.bool(try #require(c["value"] as? Bool))
            #expect(w.bytes == hex(c["hex"]))
        }
        var nullBuffer = CompactWriter()
        nullBuffer.buffer(nil as [UInt8]?)
        #expect(nullBuffer.bytes == hex(v["bufferNull"]))
        for c in try cases("buffer") {
            var w = CompactWriter()
            w.buffer(hex(c["value"]))
            #expect(w.bytes == hex(c["hex"]))
            var r = CompactReader(w.bytes)
            #expect(try r.buffer() == hex(c["value"]))
        }
        for c in try cases("raw") {
            var w = CompactWriter()
            w.raw(hex(c["value"]))
            #expect(w.bytes == hex(c["hex"]))
        }
        for c in try cases("fixed32") {
            var w = CompactWriter()
            w.fixed32(hex(c["value"]))
            #expect(w.bytes == hex(c["hex"]))
        }
        for c in try cases("string") {
            let s = try #require(c["value"] as? String)
            var w = CompactWriter()
            w.string(s)
            #expect(w.bytes == hex(c["hex"]))
            var r = CompactReader(w.bytes)
            #expect(try r.string() == s)
        }
    }

    @Test("arrays of uint, string and uint32")
    func arrays() throws {
        for c in try cases("arrayOfUint") {
            let values = try #require(c["value"] as? [Int]).map { UInt64($0) }
            var w = CompactWriter()
            w.uintArray(values)
            #expect(w.bytes == hex(c["hex"]))
            var r = CompactReader(w.bytes)
            #expect(try r.uintArray() == values)
        }
        for c in try cases("arrayOfString") {
            let values = try #require(c["value"] as? [String])
            var w = CompactWriter()
            w.stringArray(values)
            #expect(w.bytes == hex(c["hex"]))
            var r = CompactReader(w.bytes)
            #expect(try r.stringArray() == values)
        }
        for c in try cases("uint32array") {
            let values = try #require(c["value"] as? [Int]).map { UInt32($0) }
            var w = CompactWriter()
            w.uint32Array(values)
            #expect(w.bytes == hex(c["hex"]))
            var r = CompactReader(w.bytes)
            #expect(try r.uint32Array() == values)
        }
    }

    @Test("truncated and malformed input gives typed errors, never a crash")
    func malformed() {
        var r = CompactReader([0xfd, 0x01])
        #expect(throws: CompactDecodingError.self) { try r.uint() }
        var r2 = CompactReader([0x05, 0x61])
        #expect(throws: CompactDecodingError.self) { try r2.buffer() }
        var r3 = CompactReader([0x02, 0xc3, 0x28])
        #expect(throws: CompactDecodingError.invalid("string is not valid UTF-8")) { try r3.string() }
        var r4 = CompactReader([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
        #expect(throws: CompactDecodingError.self) { try r4.uintArray() }
        var r5 = CompactReader([0x02])
        #expect(throws: CompactDecodingError.invalid("bool byte 2")) { try r5.bool() }
    }
}
