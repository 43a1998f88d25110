import CompactEncoding
import HyperCrypto
import HyperLog
import TestSupport
import Testing

@testable import SwarmTransport

/// Two muxes joined by in-memory queues; every output frame is recorded.
final class MuxPair {
    var aOut: [[UInt8]] = []
    var bOut: [[UInt8]] = []
    var toA: [[UInt8]] = []
    var toB: [[UInt8]] = []
    var a: Protomux!
    var b: Protomux!

    init(maxChannels: Int = 256) {
        a = Protomux(maxChannels: maxChannels) { [unowned self] f in
            self.aOut.append(f)
            self.toB.append(f)
        }
        b = Protomux(maxChannels: maxChannels) { [unowned self] f in
            self.bOut.append(f)
            self.toA.append(f)
        }
    }

    /// Delivers queued frames until both queues are empty (bounded).
    func pump() throws {
        var rounds = 0
        while (!toA.isEmpty || !toB.isEmpty) && rounds < 1000 {
            rounds += 1
            if !toB.isEmpty { try b.receive(toB.removeFirst()) }
            if !toA.isEmpty { try a.receive(toA.removeFirst()) }
        }
    }
}

@Suite("protomux matches the JavaScript frames byte for byte")
struct ProtomuxVectorTests {
    func run(_ name: String, capA: [UInt8], capB: [UInt8]) throws {
        let v = try Vectors.load("protomux")
        let section = try #require(v[name] as? [String: Any])
        let id = hex(section["id"])
        let frames = try #require(section["frames"] as? [[String: Any]])
        let pair = MuxPair()
        var bGot: [(UInt64, [UInt8])] = []
        var bOpened: [UInt8]?
        var aOpened: [UInt8]?
        let hsA = WireHandshake(seeks: true, capability: capA).compactEncoded
        let hsB = WireHandshake(seeks: true, capability: capB).compactEncoded

        let chA = try #require(
            pair.a.open(protocol: Wire.protocolName, id: id, handshake: hsA, onOpen: { _, hs in aOpened = hs }))
        pair.b.onRemoteOpen = { key in
            _ = pair.b.open(
                protocol: key.protocol, id: key.id, handshake: hsB, onOpen: { _, hs in bOpened = hs },
                onMessage: { _, t, p in bGot.append((t, p)) })
        }
        try pair.pump()
        #expect(aOpened == hsB)
        #expect(bOpened == hsA)
        #expect(chA.isOpen)

        let sync = SyncMessage(
            length: 2, remoteLength: 0, canUpgrade: true, uploading: true, downloading: true, hasManifest: true)
        let req = ProofRequest(
            fork: 0, block: .init(index: 1, nodes: 0), upgrade: .init(start: 0, length: 2), manifest: true)
        chA.send(type: Wire.MessageType.sync.rawValue, sync.compactEncoded)
        chA.send(type: Wire.MessageType.request.rawValue, req.encodeRequestMessage(id: 1))
        pair.a.cork()
        chA.send(type: Wire.MessageType.sync.rawValue, sync.compactEncoded)
        chA.send(type: Wire.MessageType.request.rawValue, req.encodeRequestMessage(id: 1))
        pair.a.uncork()
        try pair.pump()
        chA.close()
        try pair.pump()

        var a = pair.aOut.makeIterator()
        var b = pair.bOut.makeIterator()
        for f in frames {
            let got = (f["from"] as? String) == "A" ? a.next() : b.next()
            #expect(got?.hex == hex(f["hex"]).hex)
        }
        #expect(a.next() == nil && b.next() == nil)

        // The receiver decoded the single and the batched messages alike.
        #expect(bGot.count == 4)
        for (k, m) in bGot.enumerated() {
            if k % 2 == 0 {
                #expect(m.0 == 0)
                #expect(try SyncMessage(compactEncoded: m.1) == sync)
            } else {
                #expect(m.0 == 1)
                let (id, decoded) = try ProofRequest.decodeRequestMessage(m.1)
                #expect(id == 1 && decoded == req)
            }
        }
    }

    @Test("zero capability: open, sync, request, corked batch, close")
    func zeroCapability() throws {
        try run("zeroCapability", capA: [UInt8](repeating: 0, count: 32), capB: [UInt8](repeating: 0, count: 32))
    }

    @Test("real capability derived from the handshake hash")
    func realCapability() throws {
        let v = try Vectors.load("protomux")
        let s = try #require(v["realCapability"] as? [String: Any])
        let key = hex(s["coreKey"])
        let hh = hex(s["handshakeHash"])
        let capA = Wire.capability(isInitiator: true, key: key, handshakeHash: hh)
        let capB = Wire.capability(isInitiator: false, key: key, handshakeHash: hh)
        #expect(capA.hex == hex(s["capabilityA_initiator"]).hex)
        #expect(capB.hex == hex(s["capabilityB_responder"]).hex)
        #expect(HypercoreCrypto.discoveryKey(key).hex == hex(s["id"]).hex)
        try run("realCapability", capA: capA, capB: capB)
    }

    @Test("standalone hypercore/alpha encodings")
    func standalone() throws {
        let v = try Vectors.load("protomux")
        let s = try #require(v["standaloneEncodings"] as? [String: Any])
        #expect(
            WireHandshake(seeks: true, capability: [UInt8](repeating: 0, count: 32)).compactEncoded.hex
                == hex(s["handshake_seeksTrue_capZero"]).hex)
        #expect(
            SyncMessage(length: 2, remoteLength: 0, hasManifest: true).compactEncoded.hex
                == hex(s["sync_fork0_len2_remote0_flags15"]).hex)
        let req = ProofRequest(
            fork: 0, block: .init(index: 1, nodes: 0), upgrade: .init(start: 0, length: 2), manifest: true)
        #expect(req.encodeRequestMessage(id: 1).hex == hex(s["request_id1_block1_upgrade0_2_manifest"]).hex)
    }
}

@Suite("protomux channel life cycle")
struct ProtomuxBehaviourTests {
    @Test("both sides opening the same protocol and id at once pair into one channel")
    func simultaneousOpen() throws {
        let pair = MuxPair()
        var opens = 0
        let ca = try #require(pair.a.open(protocol: "p", id: [1], handshake: [7], onOpen: { _, _ in opens += 1 }))
        let cb = try #require(pair.b.open(protocol: "p", id: [1], handshake: [8], onOpen: { _, _ in opens += 1 }))
        try pair.pump()
        #expect(opens == 2)
        #expect(ca.remoteHandshake == [8] && cb.remoteHandshake == [7])
        var got: [[UInt8]] = []
        cb.onMessage = { _, _, p in got.append(p) }
        ca.send(type: 3, [42])
        try pair.pump()
        #expect(got == [[42]])
        // A second channel with the same key is refused while unique.
        #expect(pair.a.open(protocol: "p", id: [1]) == nil)
    }

    @Test("an unclaimed open is rejected and the opener sees a remote close")
    func reject() throws {
        let pair = MuxPair()
        var closedRemotely: Bool?
        let ca = try #require(pair.a.open(protocol: "nobody", onClose: { _, remote in closedRemotely = remote }))
        try pair.pump()
        #expect(pair.bOut.first == [0, 2, 1])
        #expect(closedRemotely == true)
        #expect(ca.isClosed)
        // The id is free again: the next channel reuses local id 1.
        _ = pair.a.open(protocol: "again")
        #expect(pair.aOut.last?.prefix(3) == [0, 1, 1])
    }

    @Test("several channels over one mux stay separate; closing one leaves the other")
    func severalChannels() throws {
        let pair = MuxPair()
        var got: [String: [[UInt8]]] = [:]
        pair.b.onRemoteOpen = { key in
            _ = pair.b.open(
                protocol: key.protocol, id: key.id,
                onMessage: { ch, _, p in got[ch.key.description, default: []].append(p) })
        }
        let c1 = try #require(pair.a.open(protocol: Wire.protocolName, id: [UInt8](repeating: 1, count: 32)))
        let c2 = try #require(pair.a.open(protocol: Wire.protocolName, id: [UInt8](repeating: 2, count: 32)))
        try pair.pump()
        pair.a.cork()
        c1.send(type: 0, [1])
        c2.send(type: 0, [2])
        c1.send(type: 0, [3])
        pair.a.uncork()
        try pair.pump()
        c1.close()
        c2.send(type: 0, [4])
        #expect(c1.send(type: 0, [5]) == false)
        try pair.pump()
        let k1 = ChannelKey(protocol: Wire.protocolName, id: [UInt8](repeating: 1, count: 32)).description
        let k2 = ChannelKey(protocol: Wire.protocolName, id: [UInt8](repeating: 2, count: 32)).description
        #expect(got[k1] == [[1], [3]])
        #expect(got[k2] == [[2], [4]])
    }

    @Test("garbage frames raise typed errors instead of crashing")
    func garbage() throws {
        let mux = Protomux { _ in }
        #expect(throws: ProtomuxError.self) { try mux.receive([]) }
        #expect(throws: ProtomuxError.self) { try mux.receive([0, 1, 5]) }  // truncated open
        #expect(throws: ProtomuxError.self) { try mux.receive([0, 1, 9, 1, 0x61, 0]) }  // id out of sequence
        #expect(throws: ProtomuxError.self) { try mux.receive([0, 2, 4]) }  // reject for nothing
        #expect(throws: ProtomuxError.self) { try mux.receive([0, 0, 1, 0xff]) }  // truncated batch
        try mux.receive([7, 0, 1, 2])  // message for a channel that is not open: ignored
    }

    @Test("a remote that opens more channels than allowed is cut off")
    func channelLimit() throws {
        let pair = MuxPair(maxChannels: 2)
        pair.b.onRemoteOpen = { key in _ = pair.b.open(protocol: key.protocol, id: key.id) }
        let a = Protomux(maxChannels: 10) { f in pair.toB.append(f) }
        for i in 0..<3 { _ = a.open(protocol: "p\(i)") }
        #expect(throws: ProtomuxError.tooManyChannels(limit: 2)) {
            while !pair.toB.isEmpty { try pair.b.receive(pair.toB.removeFirst()) }
        }
    }
}
