import HyperLog
import NIOConcurrencyHelpers

/// Replicates several logs over every connection of a node (the relay log, a drive's logs...), one
/// `hypercore/alpha` channel per log, and accepts channels the remote opens for logs we hold.
///
/// Use `hub.attach` as (or inside) the node's connection handler.
public final class ReplicationHub: Sendable {
    private let replicators = NIOLockedValueBox<[[UInt8]: Replicator]>([:])
    private let connections = NIOLockedValueBox<[ObjectIdentifier: SwarmConnection]>([:])

    public init() {}

    /// Starts replicating `log` on every current and future connection.
    @discardableResult
    public func add(
        _ log: HyperLog, live: Bool = true, maxInflightPerPeer: Int = 64, requestTimeout: Duration = .seconds(10),
        verifyOffLoop: Bool = true
    ) -> Replicator {
        let r = Replicator(
            log: log, live: live, maxInflightPerPeer: maxInflightPerPeer, requestTimeout: requestTimeout,
            verifyOffLoop: verifyOffLoop)
        replicators.withLockedValue { $0[log.discoveryKey] = r }
        for c in connections.withLockedValue({ Array($0.values) }) { r.attach(c) }
        return r
    }

    /// The replicator of the log with this discovery key.
    public func replicator(for discoveryKey: [UInt8]) -> Replicator? {
        replicators.withLockedValue { $0[discoveryKey] }
    }

    /// Stops replicating a log.
    public func remove(discoveryKey: [UInt8]) {
        replicators.withLockedValue { $0.removeValue(forKey: discoveryKey) }?.stop()
    }

    /// Attaches every log to a new connection (call on the connection's event loop, e.g. from the node's handler).
    public func attach(_ conn: SwarmConnection) {
        let id = ObjectIdentifier(conn)
        connections.withLockedValue { $0[id] = conn }
        conn.closeFuture.whenComplete { [weak self] _ in self?.connections.withLockedValue { $0[id] = nil } }
        // Weak: the mux (owned by the connection) keeps this closure.
        conn.mux.onRemoteOpen = { [weak self, weak conn] key in
            guard let self, let conn, key.protocol == Wire.protocolName, let id = key.id,
                let r = self.replicator(for: id)
            else { return }
            r.attachOnLoop(conn)
        }
        for r in replicators.withLockedValue({ Array($0.values) }) { r.attach(conn) }
    }

    /// Stops every replicator.
    public func stop() {
        for r in replicators.withLockedValue({ Array($0.values) }) { r.stop() }
    }
}
