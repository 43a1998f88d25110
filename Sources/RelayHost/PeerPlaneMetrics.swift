import CoreMetrics
import Foundation
import Synchronization

/// The peer plane's metrics (swift-metrics, served on /metrics by the gateway's Prometheus registry):
/// - `gateway_active_peers` (gauge, deployed name): registered peers with an open channel
/// - `gateway_swarm_connections` (gauge): swarm connections, registered or not
/// - `gateway_dispatcher_queue_depth` (gauge): jobs waiting in the dispatcher's queue
/// - `gateway_peer_replication_lag_blocks{peer}` (gauge): blocks between the gateway's log length and the length
///   the peer last reported
/// - `gateway_peer_registrations_total{result,reason}` (counter)
/// - `gateway_relay_websocket_errors_total{stage}` (counter, deployed name; stages `upgrade_token`,
///   `token_revoked`, `relay_disabled`, beside the front's `receive`)
/// - `gateway_relay_append_duration` (timer): one group commit into the relay log (`TimedEventStore`)
/// - `gateway_admin_requests_total{method,result}` (counter)
/// Token counts are TokenService's `gateway_relay_token_{issues,refresh,revocations}_total`.
final class PeerPlaneMetrics: Sendable {
    let activePeers = Gauge(label: "gateway_active_peers")
    let swarmConnections = Gauge(label: "gateway_swarm_connections")
    let queueDepth = Gauge(label: "gateway_dispatcher_queue_depth")
    private let lagGauges = Mutex<[String: Gauge]>([:])

    func replicationLag(peer: String, blocks: Int64) {
        let g = lagGauges.withLock { m -> Gauge in
            if let g = m[peer] { return g }
            let g = Gauge(label: "gateway_peer_replication_lag_blocks", dimensions: [("peer", String(peer.prefix(16)))])
            m[peer] = g
            return g
        }
        g.record(blocks)
    }

    func registrations(result: String, reason: String) {
        Counter(label: "gateway_peer_registrations_total", dimensions: [("result", result), ("reason", reason)])
            .increment()
    }

    func websocketErrors(stage: String, by n: Int = 1) {
        guard n > 0 else { return }
        Counter(label: "gateway_relay_websocket_errors_total", dimensions: [("stage", stage)]).increment(by: Int64(n))
    }

    func admin(method: String, result: String) {
        Counter(label: "gateway_admin_requests_total", dimensions: [("method", method), ("result", result)]).increment()
    }
}
