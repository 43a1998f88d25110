import HyperCrypto
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A peer in the swarm: listens for and dials TCP connections, runs the secret-stream handshake and protomux on each,
/// enforces per-peer limits, and keeps wanted peers connected with jittered exponential back-off.
public final class SwarmNode: Sendable {
    /// Called on the connection's event loop as soon as it is established, before any channel frame is processed:
    /// the place to attach protocols (`conn.mux.onRemoteOpen = ...`, open channels).
    public typealias ConnectionHandler = @Sendable (SwarmConnection) -> Void

    /// Outbound buffering per connection before we stop reading from that peer.
    static let waterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 1 << 20, high: 8 << 20)
    /// Receive buffers grow to 1 MiB: a bulk transfer reads many 64 KiB blocks per syscall and per loop tick, so the
    /// replication code sees them together (one batch verify and store).
    static let recvAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 1 << 20)

    public let keyPair: Ed25519KeyPair
    public let config: SwarmConfiguration
    public let logger: Logger
    private let group: EventLoopGroup
    private let onConnection: ConnectionHandler

    private struct State {
        var connections: [[UInt8]: [SwarmConnection]] = [:]
        var server: Channel?
        var listenAddress: PeerAddress?
        var maintained: [PeerAddress: Task<Void, Never>] = [:]
        var topics: [[UInt8]: Task<Void, Never>] = [:]
        var closed = false
    }

    private let state = NIOLockedValueBox(State())

    public init(
        keyPair: Ed25519KeyPair = .generate(), config: SwarmConfiguration = SwarmConfiguration(),
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "hypertuna.swarm"), onConnection: @escaping ConnectionHandler = { _ in }
    ) {
        self.keyPair = keyPair
        self.config = config
        self.group = group
        self.logger = logger
        self.onConnection = onConnection
    }

    /// Our public key.
    public var publicKey: [UInt8] { keyPair.publicKey }

    /// Established connections, all peers.
    public var connections: [SwarmConnection] { state.withLockedValue { $0.connections.values.flatMap { $0 } } }

    /// Established connections to one peer.
    public func connections(to publicKey: [UInt8]) -> [SwarmConnection] {
        state.withLockedValue { $0.connections[publicKey] ?? [] }
    }

    /// The address we listen on, once listening.
    public var listenAddress: PeerAddress? { state.withLockedValue { $0.listenAddress } }

    // MARK: pipeline

    private func configure(
        _ channel: Channel, isInitiator: Bool, expected: [UInt8]?, established: EventLoopPromise<SwarmConnection>?
    ) throws {
        let node = self
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(ByteToMessageHandler(FrameDecoderHandler(maxFrameSize: config.maxFrameSize)))
        try sync.addHandler(
            SecretStreamHandler(isInitiator: isInitiator, keyPair: keyPair, config: config, logger: logger))
        try sync.addHandler(
            MuxHandler(
                isInitiator: isInitiator, config: config, logger: logger,
                onEstablished: { conn in
                    if let refusal = node.admit(conn, expected: expected) {
                        conn.failure = refusal
                        node.logger.notice(
                            "refusing connection", metadata: ["reason": "\(refusal)", "peer": "\(conn)"])
                        established?.fail(refusal)
                        return false
                    }
                    node.onConnection(conn)
                    established?.succeed(conn)
                    return true
                },
                onClosed: { conn in node.remove(conn) }))
        if let established {
            channel.closeFuture.whenComplete { _ in established.fail(SwarmTransportError.closed) }
        }
    }

    /// Registers a connection unless it breaks a limit; returns the refusal reason otherwise.
    private func admit(_ conn: SwarmConnection, expected: [UInt8]?) -> SwarmTransportError? {
        if let expected, expected != conn.remotePublicKey {
            return .unexpectedPeer(expected: expected.hex, got: conn.remotePublicKey.hex)
        }
        return state.withLockedValue { s in
            if s.closed { return .closed }
            let existing = s.connections[conn.remotePublicKey] ?? []
            guard existing.count < config.maxConnectionsPerPeer else {
                return .tooManyConnections(
                    peer: String(conn.remotePublicKey.hex.prefix(16)), limit: config.maxConnectionsPerPeer)
            }
            s.connections[conn.remotePublicKey, default: []].append(conn)
            return nil
        }
    }

    private func remove(_ conn: SwarmConnection) {
        state.withLockedValue { s in
            s.connections[conn.remotePublicKey]?.removeAll { $0 === conn }
            if s.connections[conn.remotePublicKey]?.isEmpty == true { s.connections[conn.remotePublicKey] = nil }
        }
    }

    // MARK: listening and dialling

    /// Starts accepting connections; returns the bound address (port 0 picks a free port).
    @discardableResult
    public func listen(host: String = "127.0.0.1", port: Int = 0) async throws -> PeerAddress {
        let node = self
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: Self.waterMark)
            .childChannelOption(.recvAllocator, value: Self.recvAllocator)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try node.configure(channel, isInitiator: false, expected: nil, established: nil)
                }
            }
            .bind(host: host, port: port).get()
        let address = PeerAddress(host: host, port: server.localAddress?.port ?? port, publicKey: publicKey)
        let closed = state.withLockedValue { s in
            if s.closed { return true }
            s.server = server
            s.listenAddress = address
            return false
        }
        if closed {
            try? await server.close()
            throw SwarmTransportError.closed
        }
        return address
    }

    /// Dials `address` once and returns the established connection (after the handshake).
    public func connect(to address: PeerAddress) async throws -> SwarmConnection {
        let node = self
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: Self.waterMark)
            .channelOption(.recvAllocator, value: Self.recvAllocator)
            .connectTimeout(config.handshakeTimeout)
            .connect(host: address.host, port: address.port).get()
        let promise = channel.eventLoop.makePromise(of: SwarmConnection.self)
        do {
            try await channel.eventLoop.submit {
                try node.configure(channel, isInitiator: true, expected: address.publicKey, established: promise)
                channel.pipeline.fireChannelActive()
            }.get()
        } catch {
            // The channel closed before its handlers were added: nobody else completes the promise.
            promise.fail(error)
            channel.close(promise: nil)
            throw error
        }
        return try await promise.futureResult.get()
    }

    /// Keeps a connection to `address` open: dials, and when the connection drops or a dial fails, waits a jittered
    /// exponential back-off and dials again, until `stopMaintaining` or `shutdown`.
    public func maintain(_ address: PeerAddress) {
        state.withLockedValue { s in
            guard !s.closed, s.maintained[address] == nil else { return }
            s.maintained[address] = Task { [self] in await self.maintainLoop(address) }
        }
    }

    /// Stops reconnecting to `address` (existing connections stay open).
    public func stopMaintaining(_ address: PeerAddress) {
        state.withLockedValue { s in s.maintained.removeValue(forKey: address) }?.cancel()
    }

    private func maintainLoop(_ address: PeerAddress) async {
        var attempt = 0
        while !Task.isCancelled && !state.withLockedValue({ $0.closed }) {
            if let pk = address.publicKey, let existing = connections(to: pk).first {
                attempt = 0
                try? await existing.closeFuture.get()
            } else {
                do {
                    let conn = try await connect(to: address)
                    attempt = 0
                    try? await conn.closeFuture.get()
                } catch {
                    logger.debug("dial failed", metadata: ["peer": "\(address)", "error": "\(error)"])
                }
            }
            if Task.isCancelled || state.withLockedValue({ $0.closed }) { break }
            let delay = config.backoff.delay(attempt: attempt)
            attempt += 1
            try? await Task.sleep(for: .milliseconds(Int(delay * 1000)))
        }
    }

    /// Joins a 32-byte topic: announces our listening address and keeps connected to the peers discovery returns,
    /// looking up again every `refresh`. Of two peers that know each other's keys only the smaller key dials.
    public func join(topic: [UInt8], discovery: any Discovery, refresh: Duration = .seconds(5)) async throws {
        guard topic.count == 32 else { throw DiscoveryError.invalidTopic(topic.count) }
        if let me = listenAddress { try await discovery.announce(topic: topic, address: me) }
        let myKey = publicKey
        let task = Task { [self] in
            while !Task.isCancelled {
                if let peers = try? await discovery.lookup(topic: topic) {
                    for p in peers where p.publicKey != myKey {
                        if let pk = p.publicKey, pk.lexicographicallyPrecedes(myKey) { continue }
                        maintain(p)
                    }
                }
                if let me = listenAddress { try? await discovery.announce(topic: topic, address: me) }
                try? await Task.sleep(for: refresh)
            }
        }
        let old = state.withLockedValue { s -> Task<Void, Never>? in
            let o = s.topics[topic]
            s.topics[topic] = task
            return o
        }
        old?.cancel()
    }

    /// Leaves a topic (stops looking up and announcing; connections stay).
    public func leave(topic: [UInt8], discovery: any Discovery) async {
        state.withLockedValue { s in s.topics.removeValue(forKey: topic) }?.cancel()
        await discovery.leave(topic: topic, publicKey: publicKey)
    }

    /// Closes the listener and every connection and stops all reconnect loops.
    public func shutdown() async {
        let (server, tasks, conns) = state.withLockedValue { s in
            s.closed = true
            let t = Array(s.maintained.values) + Array(s.topics.values)
            s.maintained = [:]
            s.topics = [:]
            return (s.server, t, s.connections.values.flatMap { $0 })
        }
        for t in tasks { t.cancel() }
        for c in conns { c.close() }
        for c in conns { try? await c.closeFuture.get() }
        try? await server?.close()
    }
}
