import Foundation
import HyperCrypto
import HyperLog
import HyperTree
import Testing

@testable import SwarmTransport

// Swift <-> JavaScript replication over real sockets: a Swift SwarmNode (secret-stream + protomux + hypercore/alpha)
// on one side, the real hypercore 10.38.2 / hyperbee 2.21.3 / @hyperswarm/secret-stream 6.9.1 on the other
// (Tests/interop/peer.js). Skipped, with one line saying why, where node or ../shared/js-holepunch is absent.

/// The Swift nodes of one test; `withNodes` shuts them all down at its end, also when it fails.
private final class Nodes: @unchecked Sendable {
    private var nodes: [SwarmNode] = []  // touched only by the test's task

    /// A node replicating everything in `hub`.
    func make(_ hub: ReplicationHub) -> SwarmNode {
        let n = SwarmNode(config: SwarmConfiguration()) { conn in hub.attach(conn) }
        nodes.append(n)
        return n
    }

    func shutdown() async {
        for n in nodes.reversed() { await n.shutdown() }
        nodes = []
    }
}

private func withNodes<T>(_ body: (Nodes) async throws -> T) async throws -> T {
    let nodes = Nodes()
    do {
        let result = try await body(nodes)
        await nodes.shutdown()
        return result
    } catch {
        await nodes.shutdown()
        throw error
    }
}

private func swiftWriter(_ count: Int, mode: SigningMode, seed: UInt8 = 1, prefix: String = "swift-block-") throws
    -> HyperLog
{
    let log = try HyperLog.create(
        in: MemoryLogStorage(), keyPair: try Ed25519KeyPair(seed: [UInt8](repeating: seed, count: 32)), mode: mode)
    var start = 0
    while start < count {
        let end = min(start + 10_000, count)
        _ = try log.append((start..<end).map { Array("\(prefix)\($0)".utf8) })
        start = end
    }
    return log
}

/// Polls `condition` every 10 ms for at most `timeout`.
private func eventually(timeout: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

private func localhost(_ port: Int) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: port) }

@Suite(
    "JavaScript Hypercore interop (hypercore 10.38.2, hyperbee 2.21.3, secret-stream 6.9.1)", .serialized,
    .enabled(if: JSPeer.available, "\(JSPeer.unavailableReason ?? "")"), .timeLimit(.minutes(5)))
struct InteropTests {
    @Test(
        "Swift writer -> JS reader: key only, update, sparse get, full download with audit, live appends",
        arguments: [SigningMode.compat, .manifest])
    func swiftWriterJSReader(mode: SigningMode) async throws {
        try await withNodes { nodes in
            let writer = try swiftWriter(300, mode: mode)
            let hub = ReplicationHub()
            let rep = hub.add(writer)
            let n = nodes.make(hub)
            let address = try await n.listen()
            try await withJSPeers(["js-reader"]) { js in
                let reader = js[0]
                try await reader.call("open", ["key": writer.key.hex])
                try await reader.call("connect", ["port": address.port])
                let updated = try await reader.call("update")
                #expect(updated.int("length") == 300)
                // A manifest-mode log is verified through the manifest the writer sent (the reader knew only the key):
                // the JS reader leaves compat mode only when it got the manifest with its first upgrade.
                #expect(updated.bool("compat") == (mode == .compat))
                #expect(try await reader.call("get", ["index": 123]).string("value") == "swift-block-123")
                let all = try await reader.call("download", ["start": 0, "end": 300])
                #expect((all["values"] as? [String]) == (0..<300).map { "swift-block-\($0)" })
                // hypercore's audit re-hashes every stored block and tree node; nothing needs correcting.
                let audit = try await reader.call("audit")
                #expect(audit.int("blocks") == 0 && audit.int("tree") == 0)
                // Live: the reader hears of appends without asking.
                _ = try writer.append([Array("live-0".utf8), Array("live-1".utf8)])
                #expect(try await reader.call("waitLength", ["length": 302]).int("length") == 302)
                #expect(try await reader.call("get", ["index": 301]).string("value") == "live-1")
                #expect(rep.peerCount == 1)
            }
        }
    }

    @Test(
        "JS writer -> Swift reader: key only, update, sparse get, full download, verify, live appends",
        arguments: [true, false])
    func jsWriterSwiftReader(compat: Bool) async throws {
        try await withNodes { nodes in
            try await withJSPeers(["js-writer"]) { js in
                let writer = js[0]
                let created = try await writer.call("create", ["compat": compat, "blocks": 300])
                #expect(created.bool("compat") == compat)
                let key = try #require(created.string("key").flatMap { [UInt8](hex: $0) })
                let port = try #require(try await writer.call("listen").int("port"))
                let log = try HyperLog.replica(in: MemoryLogStorage(), key: key)
                let hub = ReplicationHub()
                let rep = hub.add(log, requestTimeout: .seconds(10))
                let n = nodes.make(hub)
                _ = try await n.connect(to: localhost(port))
                #expect(await eventually { rep.peerCount == 1 })
                #expect(try await rep.update() == 300)
                #expect(log.identity.mode == (compat ? .compat : .manifest))
                #expect(try await rep.get(7) == Array("js-block-7".utf8))
                try await rep.download(0..<300)
                for i in [0, 150, 299] { #expect(try log.get(UInt64(i)) == Array("js-block-\(i)".utf8)) }
                #expect(try log.verify() == 300)
                try await writer.call("append", ["values": ["js-live-0", "js-live-1"]])
                #expect(await eventually { log.length == 302 })
                #expect(try await rep.get(301) == Array("js-live-1".utf8))
            }
        }
    }

    @Test("Hyperbee both ways: JS reads a Swift HyperTree, Swift reads a JS Hyperbee sparsely")
    func hyperbeeBothWays() async throws {
        try await withNodes { nodes in
            // Swift writes, JS reads.
            let log = try HyperLog.create(
                in: MemoryLogStorage(), keyPair: try Ed25519KeyPair(seed: [UInt8](repeating: 4, count: 32)))
            let tree = HyperTree(log: HyperLogSource(log))
            let keys = (0..<200).map { String(format: "key-%04d", $0) }
            try await tree.batch { b in
                for k in keys { try await b.put(Array(k.utf8), Array("value-of-\(k)".utf8)) }
            }
            _ = try await tree.del(Array("key-0100".utf8))
            let hub = ReplicationHub()
            hub.add(log)
            let n = nodes.make(hub)
            let address = try await n.listen()
            try await withJSPeers(["js-bee-reader", "js-bee-writer"]) { js in
                let reader = js[0]
                try await reader.call("open", ["key": log.key.hex])
                try await reader.call("connect", ["port": address.port])
                #expect(try await reader.call("update").int("length") == Int(log.length))
                try await reader.call("beeOpen")
                let got = try await reader.call("beeGet", ["keys": ["key-0000", "key-0100", "key-0199", "nope"]])
                #expect(
                    (got["values"] as? [Any])?.map { $0 as? String } == [
                        "value-of-key-0000", nil, "value-of-key-0199", nil,
                    ])
                let range = try await reader.call("beeRange", ["gte": "key-0095", "lt": "key-0105"])
                let expected = (95..<105).filter { $0 != 100 }.map { String(format: "key-%04d", $0) }
                #expect((range["entries"] as? [[String]])?.map { $0[0] } == expected)
                let reverse = try await reader.call("beeRange", ["reverse": true, "limit": 3])
                #expect((reverse["entries"] as? [[String]])?.map { $0[0] } == ["key-0199", "key-0198", "key-0197"])

                // JS writes, Swift reads sparsely.
                let writer = js[1]
                let created = try await writer.call("create", ["compat": false])
                try await writer.call("beeOpen")
                let jsKeys = (0..<300).map { String(format: "js-%04d", $0) }
                try await writer.call("beePut", ["entries": jsKeys.map { [$0, "v-\($0)"] }])
                try await writer.call("beeDel", ["key": "js-0042"])
                let key = try #require(created.string("key").flatMap { [UInt8](hex: $0) })
                let port = try #require(try await writer.call("listen").int("port"))
                let replica = try HyperLog.replica(in: MemoryLogStorage(), key: key)
                let rHub = ReplicationHub()
                let rep = rHub.add(replica)
                let rn = nodes.make(rHub)
                _ = try await rn.connect(to: localhost(port))
                #expect(await eventually { rep.peerCount == 1 })
                _ = try await rep.update()
                let remoteTree = HyperTree(log: HyperLogSource(replica, remote: rep))
                #expect(try await remoteTree.get(Array("js-0123".utf8))?.value == Array("v-js-0123".utf8))
                #expect(try await remoteTree.get(Array("js-0042".utf8)) == nil)
                let entries = try await remoteTree.range(
                    RangeOptions(gte: Array("js-0040".utf8), lt: Array("js-0045".utf8))
                ).collect()
                #expect(
                    entries.map { String(decoding: $0.key, as: UTF8.self) } == [
                        "js-0040", "js-0041", "js-0043", "js-0044",
                    ])
                let last = try await remoteTree.range(RangeOptions(reverse: true, limit: 2)).collect()
                #expect(last.map { String(decoding: $0.key, as: UTF8.self) } == ["js-0299", "js-0298"])
                // Sparse: the reader fetched only the blocks those reads touched.
                #expect(replica.bitfield.count(0, replica.length) < replica.length / 2)
                #expect(try replica.verify() == replica.bitfield.count(0, replica.length))
            }
        }
    }

    @Test(
        "a JS peer that sends a tampered block, node or signature is refused and dropped",
        arguments: ["block", "node", "signature"])
    func tamperedPeerIsDropped(mode: String) async throws {
        try await withNodes { nodes in
            try await withJSPeers(["js-liar"]) { js in
                let liar = js[0]
                let created = try await liar.call("create", ["compat": false, "blocks": 64])
                try await liar.call("tamper", ["mode": mode])
                let key = try #require(created.string("key").flatMap { [UInt8](hex: $0) })
                let port = try #require(try await liar.call("listen").int("port"))
                let log = try HyperLog.replica(in: MemoryLogStorage(), key: key)
                let hub = ReplicationHub()
                let rep = hub.add(log, live: false, requestTimeout: .seconds(5))
                let n = nodes.make(hub)
                _ = try await n.connect(to: localhost(port))
                #expect(await eventually { rep.peerCount == 1 })
                if mode == "signature" {
                    // The upgrade carries the forged signature: nothing is stored.
                    _ = try? await rep.update()
                    #expect(log.length == 0)
                } else {
                    #expect(try await rep.update() == 64)
                    await #expect(throws: (any Error).self) { try await rep.get(40) }
                    #expect(!log.has(40))
                }
                // Dropped: our side closed the connection, and the JavaScript peer saw it close.
                #expect(await eventually { rep.peerCount == 0 })
                #expect(try await liar.call("waitClosed", ["timeout": 10_000]).int("closed") == 1)
            }
        }
    }

    @Test("hypercore 11 trailing fields from a JS peer: noData reason, sync extra field, want any; nobody is dropped")
    func hypercore11TrailingFields() async throws {
        try await withNodes { nodes in
            try await withJSPeers(["js-hc11-writer", "js-hc11-reader"]) { js in
                // A holder that sends noData with a reason and syncs with an extra, unknown field.
                let writer = js[0]
                try await writer.call("hc11", ["reason": 1, "syncExtra": 7])
                let created = try await writer.call("create", ["compat": false, "blocks": 20])
                let key = try #require(created.string("key").flatMap { [UInt8](hex: $0) })
                let port = try #require(try await writer.call("listen").int("port"))
                let log = try HyperLog.replica(in: MemoryLogStorage(), key: key)
                let hub = ReplicationHub()
                let rep = hub.add(log, requestTimeout: .seconds(5))
                let n = nodes.make(hub)
                _ = try await n.connect(to: localhost(port))
                #expect(await eventually { rep.peerCount == 1 })
                #expect(try await rep.update() == 20)
                // A request on another fork: the JS peer has no proof and answers noData {request, flags 1, reason 1}.
                await #expect(throws: ReplicationError.self) {
                    _ = try await rep.forward(ProofRequest(fork: 99, block: .init(index: 3, nodes: 0)))
                }
                #expect(rep.peerCount == 1)
                #expect(try await rep.get(3) == Array("js-block-3".utf8))

                // A reader whose want carries the `any` flag, against a Swift sparse holder of one block.
                let source = try swiftWriter(3_000, mode: .manifest, seed: 6)
                let sourceHub = ReplicationHub()
                sourceHub.add(source)
                let sourceNode = nodes.make(sourceHub)
                let holder = try HyperLog.replica(in: MemoryLogStorage(), key: source.key)
                let holderHub = ReplicationHub()
                let holderRep = holderHub.add(holder)
                let holderNode = nodes.make(holderHub)
                _ = try await holderNode.connect(to: try await sourceNode.listen())
                #expect(await eventually { holder.length == 3_000 })
                _ = try await holderRep.get(1_234)
                let holderAddress = try await holderNode.listen()
                let reader = js[1]
                try await reader.call("hc11", ["any": true])
                try await reader.call("open", ["key": source.key.hex])
                try await reader.call("connect", ["port": holderAddress.port])
                #expect(try await reader.call("update").int("length") == 3_000)
                #expect(try await reader.call("get", ["index": 1_234]).string("value") == "swift-block-1234")
                let holderPeers = holderRep.state.withLockedValue { Array($0.peers.values) }
                #expect(holderPeers.map(\.wantState.wantsAnswered).reduce(0, +) >= 1)
                #expect(holderRep.peerCount == 2)
            }
        }
    }

    @Test("want / bitfield past 2,097,152 blocks, both ways: whole segments are described, far blocks are found")
    func wantBitfieldOnLargeLog() async throws {
        try await withNodes { nodes in
            // 2,100,000 one-byte-prefix blocks: the cheapest log that reaches into a second bitfield segment.
            let count = 2_100_000
            let far: [UInt64] = [1_000_000, 2_099_000]  // beyond the first 16 pages; in segment 1
            let started = ContinuousClock.now
            let writer = try swiftWriter(count, mode: .manifest, seed: 8, prefix: "")
            print("interop: built a \(count)-block log in \(ContinuousClock.now - started)")
            let wHub = ReplicationHub()
            wHub.add(writer)
            let wNode = nodes.make(wHub)
            let wAddress = try await wNode.listen()

            // Swift sparse holder -> JS reader.
            let holder = try HyperLog.replica(in: MemoryLogStorage(), key: writer.key)
            let hHub = ReplicationHub()
            let hRep = hHub.add(holder)
            let hNode = nodes.make(hHub)
            _ = try await hNode.connect(to: wAddress)
            #expect(await eventually { holder.length == UInt64(count) })
            for i in far + [3] { _ = try await hRep.get(i) }
            let hAddress = try await hNode.listen()
            try await withJSPeers(["js-far-reader", "js-far-holder"]) { js in
                let reader = js[0]
                try await reader.call("open", ["key": writer.key.hex])
                try await reader.call("connect", ["port": hAddress.port])
                #expect(try await reader.call("update").int("length") == count)
                for i in far {
                    #expect(try await reader.call("get", ["index": i, "timeout": 15_000]).string("value") == "\(i)")
                }
                let toReader = hRep.state.withLockedValue { Array($0.peers.values) }.filter {
                    $0.wantState.wantsAnswered > 0
                }
                #expect(toReader.count == 1)
                #expect(toReader.first.map(\.wantState.bitfieldsSent) == 2)  // one message per segment

                // JS sparse holder -> Swift reader (the reader wants whole segments, as JS readers do).
                let jsHolder = js[1]
                try await jsHolder.call("open", ["key": writer.key.hex])
                try await jsHolder.call("connect", ["port": wAddress.port])
                #expect(try await jsHolder.call("update").int("length") == count)
                for i in far { try await jsHolder.call("get", ["index": i]) }
                let jsPort = try #require(try await jsHolder.call("listen").int("port"))
                let reader2 = try HyperLog.replica(in: MemoryLogStorage(), key: writer.key)
                let rHub = ReplicationHub()
                let rRep = rHub.add(reader2, requestTimeout: .seconds(10))
                let rNode = nodes.make(rHub)
                _ = try await rNode.connect(to: localhost(jsPort))
                #expect(await eventually { rRep.peerCount == 1 })
                #expect(try await rRep.update() == UInt64(count))
                for i in far { #expect(try await rRep.get(i) == Array("\(i)".utf8)) }
                let peer = rRep.state.withLockedValue { Array($0.peers.values) }[0]
                #expect(peer.wantState.wantsSent == 2 && peer.wantState.answeredSegments == [0, 1])
            }
        }
    }
}
