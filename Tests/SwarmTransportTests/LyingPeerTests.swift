import CompactEncoding
import HyperCrypto
import HyperLog
import NIOCore
import TestSupport
import Testing

@testable import SwarmTransport

enum Lie: Sendable {
    case block, proofNode, upgradeNode, signature
}

/// A peer that serves `log` over hypercore/alpha but corrupts what `lie` says in every answer.
func lyingNode(serving log: HyperLog, lie: Lie) -> SwarmNode {
    SwarmNode { conn in
        let cap = Wire.capability(isInitiator: conn.isInitiator, key: log.key, handshakeHash: conn.handshakeHash)
        let open: (Protomux) -> Void = { mux in
            _ = mux.open(
                protocol: Wire.protocolName, id: log.discoveryKey,
                handshake: WireHandshake(capability: cap).compactEncoded,
                onOpen: { ch, _ in
                    ch.send(type: 0, SyncMessage(length: log.length, remoteLength: 0).compactEncoded)
                    ch.send(type: 8, RangeMessage(start: 0, length: log.length).compactEncoded)
                },
                onMessage: { ch, type, payload in
                    guard type == 1, let (id, req) = try? ProofRequest.decodeRequestMessage(payload),
                        var proof = try? log.proof(for: req)
                    else { return }
                    switch lie {
                    case .block:
                        if proof.block != nil { proof.block!.value[0] ^= 1 }
                    case .proofNode:
                        if proof.block != nil, !proof.block!.nodes.isEmpty { proof.block!.nodes[0].hash[0] ^= 1 }
                    case .upgradeNode:
                        if proof.upgrade != nil, !proof.upgrade!.nodes.isEmpty { proof.upgrade!.nodes[0].hash[0] ^= 1 }
                    case .signature:
                        if proof.upgrade != nil { proof.upgrade!.signature[0] ^= 1 }
                    }
                    ch.send(type: 3, proof.encodeDataMessage(request: id))
                })
        }
        open(conn.mux)
    }
}

@Suite("a lying peer is rejected and disconnected; the reader's log stays valid", .timeLimit(.minutes(1)))
struct LyingPeerTests {
    @Test(
        "tampered block, wrong proof node, wrong signature",
        arguments: [Lie.block, .proofNode, .upgradeNode, .signature])
    func lies(_ lie: Lie) async throws {
        let writer = try makeWriter(1_000)
        let reader = try makeReplica(of: writer)
        let liar = lyingNode(serving: writer, lie: lie)
        let rHub = ReplicationHub()
        let rep = rHub.add(reader, requestTimeout: .seconds(3))
        let r = replicatingNode(rHub)
        let conn = try await r.connect(to: try await liar.listen())

        if lie == .signature || lie == .upgradeNode {
            // The upgrade to the liar's length cannot verify: the reader stays empty and hangs up.
            #expect(await closes(conn))
            #expect(reader.length == 0)
        } else {
            #expect(await eventually { reader.length == 1_000 })  // upgrades are honest here
            await #expect(throws: (any Error).self) { _ = try await rep.get(777) }
            #expect(await closes(conn))
            #expect(!reader.has(777))
            #expect(reader.bitfield.count(0, 1_000) == 0)
        }
        #expect(conn.failure != nil)
        #expect(try reader.verify() == 0)

        // An honest peer still serves the same reader afterwards.
        let wHub = ReplicationHub()
        wHub.add(writer)
        let w = replicatingNode(wHub)
        _ = try await r.connect(to: try await w.listen())
        #expect(await eventually { rep.peerCount == 1 })
        #expect(try await rep.get(777) == Array("block-777".utf8))
        #expect(try reader.verify() == 1)
        await r.shutdown()
        await w.shutdown()
        await liar.shutdown()
    }
}

@Suite("replication capability", .timeLimit(.minutes(1)))
struct CapabilityTests {
    @Test("a peer presenting a capability not bound to this session is disconnected")
    func wrongCapability() async throws {
        let writer = try makeWriter(10)
        let reader = try makeReplica(of: writer)
        // The impostor knows the discovery key but not how to bind the capability to the handshake.
        let impostor = SwarmNode { conn in
            _ = conn.mux.open(
                protocol: Wire.protocolName, id: writer.discoveryKey,
                handshake: WireHandshake(capability: [UInt8](repeating: 0, count: 32)).compactEncoded,
                onOpen: { ch, _ in ch.send(type: 0, SyncMessage(length: 10, remoteLength: 0).compactEncoded) })
        }
        let rHub = ReplicationHub()
        rHub.add(reader)
        let r = replicatingNode(rHub)
        let conn = try await r.connect(to: try await impostor.listen())
        #expect(await closes(conn))
        #expect(reader.length == 0)
        await r.shutdown()
        await impostor.shutdown()
    }
}
