import HyperCrypto
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import TestSupport
import Testing

@testable import SwarmTransport

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

/// Waits (bounded) for a connection to close.
func closes(_ conn: SwarmConnection, within timeout: Duration = .seconds(5)) async -> Bool {
    await eventually(timeout: timeout) { !conn.isActive }
}

/// Waits (bounded) for a raw channel to close.
func closes(_ channel: Channel, within timeout: Duration = .seconds(5)) async -> Bool {
    await eventually(timeout: timeout) { !channel.isActive }
}

/// A node that accepts every remote-opened channel of `protocol` and echoes messages back with type + 1.
func echoNode(config: SwarmConfiguration = SwarmConfiguration(), protocol name: String = "echo") -> SwarmNode {
    SwarmNode(config: config) { conn in
        conn.mux.onRemoteOpen = { [unowned mux = conn.mux!] key in
            guard key.protocol == name else { return }
            _ = mux.open(
                protocol: key.protocol, id: key.id, handshake: Array("hi".utf8),
                onMessage: { ch, type, payload in ch.send(type: type + 1, payload) })
        }
    }
}

/// Opens a raw TCP connection (no handshake) for misbehaving-peer tests.
func rawClient(port: Int) async throws -> Channel {
    try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port).get()
}

@Suite("SwarmTransport over loopback TCP", .timeLimit(.minutes(1)))
struct TransportTests {
    @Test("two peers authenticate each other and exchange channel messages both ways")
    func twoPeers() async throws {
        let server = echoNode()
        let client = SwarmNode()
        let addr = try await server.listen()
        let conn = try await client.connect(to: addr)
        #expect(conn.remotePublicKey == server.publicKey)
        #expect(conn.handshakeHash.count == 64)
        #expect(await eventually { server.connections(to: client.publicKey).count == 1 })
        let serverSide = try #require(server.connections(to: client.publicKey).first)
        #expect(serverSide.handshakeHash == conn.handshakeHash)

        let stream = try await conn.openStream(protocol: "echo", id: [1, 2, 3], handshake: Array("hello".utf8))
        var it = stream.events.makeAsyncIterator()
        #expect(await it.next() == .opened(Array("hi".utf8)))
        let big = [UInt8]((0..<200_000).map { UInt8($0 % 251) })
        stream.send(type: 4, [9, 9])
        stream.send(type: 7, big)
        #expect(await it.next() == .message(type: 5, payload: [9, 9]))
        #expect(await it.next() == .message(type: 8, payload: big))
        stream.close()
        #expect(await it.next() == .closed(remote: false))
        await client.shutdown()
        await server.shutdown()
    }

    @Test("a peer that sends garbage is disconnected with a reason, and the node keeps serving")
    func garbage() async throws {
        let server = echoNode()
        let addr = try await server.listen()
        let raw = try await rawClient(port: addr.port)
        // A frame claiming 5 bytes of Noise message: not a valid handshake.
        try await raw.writeAndFlush(ByteBuffer(bytes: [5, 0, 0, 1, 2, 3, 4, 5]))
        #expect(await closes(raw))  // the server hung up
        let client = SwarmNode()
        let conn = try await client.connect(to: addr)
        #expect(conn.isActive)
        await client.shutdown()
        await server.shutdown()
    }

    @Test("a frame over the size limit ends the connection")
    func frameLimit() async throws {
        var config = SwarmConfiguration()
        config.maxFrameSize = 1024
        let server = echoNode(config: config)
        let addr = try await server.listen()
        let raw = try await rawClient(port: addr.port)
        try await raw.writeAndFlush(ByteBuffer(bytes: [0xff, 0xff, 0x7f]))
        #expect(await closes(raw))

        // Also after the handshake: an authenticated peer sending a too-large message is cut off.
        let client = SwarmNode()
        let conn = try await client.connect(to: addr)
        let stream = try await conn.openStream(protocol: "echo")
        var it = stream.events.makeAsyncIterator()
        _ = await it.next()
        stream.send(type: 0, [UInt8](repeating: 1, count: 4096))
        #expect(await closes(conn))
        await client.shutdown()
        await server.shutdown()
    }

    @Test("connections beyond the per-peer limit are refused")
    func perPeerLimit() async throws {
        var config = SwarmConfiguration()
        config.maxConnectionsPerPeer = 1
        let server = echoNode(config: config)
        let addr = try await server.listen()
        let client = SwarmNode()
        let first = try await client.connect(to: addr)
        #expect(await eventually { server.connections(to: client.publicKey).count == 1 })
        // The server refuses the second connection after its handshake; the client sees it close.
        let second = try? await client.connect(to: addr)
        if let second { #expect(await closes(second)) }
        #expect(first.isActive)
        #expect(await eventually { server.connections(to: client.publicKey).count == 1 })
        await client.shutdown()
        await server.shutdown()
    }

    @Test("a dial that authenticates a different key than expected is refused")
    func unexpectedKey() async throws {
        let server = echoNode()
        var addr = try await server.listen()
        addr.publicKey = Ed25519KeyPair.generate().publicKey
        let client = SwarmNode()
        await #expect(throws: SwarmTransportError.self) { _ = try await client.connect(to: addr) }
        await client.shutdown()
        await server.shutdown()
    }

    @Test("a silent peer is dropped by the handshake timeout; keep-alives hold an idle connection open")
    func timers() async throws {
        var config = SwarmConfiguration()
        config.handshakeTimeout = .milliseconds(200)
        config.keepAliveInterval = .milliseconds(50)
        config.idleTimeout = .milliseconds(300)
        let server = echoNode(config: config)
        let addr = try await server.listen()
        let raw = try await rawClient(port: addr.port)
        let start = ContinuousClock.now
        #expect(await closes(raw))
        #expect(ContinuousClock.now - start < .seconds(3))

        let client = SwarmNode(config: config)
        let conn = try await client.connect(to: addr)
        try await Task.sleep(for: .milliseconds(900))  // three idle timeouts without application traffic
        #expect(conn.isActive)

        // A peer that sends no keep-alives is closed by the other side's idle timeout.
        var quiet = SwarmConfiguration()
        quiet.keepAliveInterval = nil
        quiet.idleTimeout = nil
        let silent = SwarmNode(config: quiet)
        let silentConn = try await silent.connect(to: addr)
        #expect(await closes(silentConn))
        #expect(await eventually { server.connections(to: silent.publicKey).isEmpty })
        await silent.shutdown()
        await client.shutdown()
        await server.shutdown()
    }

    @Test("a dropped connection is re-established with back-off")
    func reconnect() async throws {
        let server = echoNode()
        let addr = try await server.listen()
        var config = SwarmConfiguration()
        config.backoff = Backoff(base: 0.02, maximum: 0.2)
        let client = SwarmNode(config: config)
        client.maintain(addr)
        #expect(await eventually { client.connections(to: server.publicKey).count == 1 })
        let first = try #require(client.connections(to: server.publicKey).first)
        // The server drops it (once it has registered it too: the initiator finishes the handshake first).
        #expect(await eventually { server.connections.count == 1 })
        for c in server.connections { c.close() }
        #expect(await closes(first))
        #expect(
            await eventually {
                client.connections(to: server.publicKey).contains { $0 !== first && $0.isActive }
            })
        await client.shutdown()
        await server.shutdown()
    }

    @Test("three peers joining a topic through the rendezvous directory connect to each other")
    func rendezvous() async throws {
        let directory = RendezvousDirectory()
        let topic = BLAKE2b.hash(Array("relay".utf8))
        let nodes = [echoNode(), echoNode(), echoNode()]
        for n in nodes {
            try await n.listen()
            try await n.join(topic: topic, discovery: directory, refresh: .milliseconds(50))
        }
        #expect(
            await eventually {
                nodes.allSatisfy { n in nodes.allSatisfy { m in m === n || !n.connections(to: m.publicKey).isEmpty } }
            })
        // Only one connection per pair: the smaller key dials.
        for n in nodes { #expect(n.connections.count == 2) }
        #expect(try await directory.lookup(topic: topic).count == 3)
        await #expect(throws: DiscoveryError.invalidTopic(3)) { try await directory.lookup(topic: [1, 2, 3]) }
        for n in nodes { await n.shutdown() }
    }

    @Test("back-off grows exponentially, is capped, and jitters within bounds")
    func backoff() {
        let b = Backoff(base: 0.1, maximum: 2, jitter: 0.5)
        var rng = SeededGenerator(seed: 7)
        for attempt in 0..<12 {
            let ceiling = min(2, 0.1 * Double(1 << attempt))
            #expect(b.ceiling(attempt: attempt) == ceiling)
            let d = b.delay(attempt: attempt, using: &rng)
            #expect(d >= ceiling * 0.5 && d <= ceiling)
        }
        let delays = (0..<20).map { _ in b.delay(attempt: 3, using: &rng) }
        #expect(Set(delays).count > 1)
    }
}
