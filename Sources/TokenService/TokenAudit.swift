import Logging
import Metrics

/// Structured audit records (swift-log metadata) and counters (swift-metrics) for token operations.
///
/// Log fields: `event` (`token.issue`, `token.refresh`, `token.revoke`, `token.rejected`, `token.quarantine`,
/// `token.quarantine-lifted`), `peer`, `relay`, `sequence`, `tokenId`, `expiresAt`, and for rejections `operation`
/// (`verify` or `refresh`), `reason` (a `TokenError.reason`) and `detail`.
/// Counters: `gateway_relay_token_issues_total`, `gateway_relay_token_refresh_total`,
/// `gateway_relay_token_revocations_total`, `gateway_relay_token_rejections_total{operation,reason}`,
/// `gateway_relay_token_quarantines_total`.
public struct TokenAudit: Sendable {
    public let logger: Logger
    private let factory: any MetricsFactory

    public static let issuesCounter = "gateway_relay_token_issues_total"
    public static let refreshCounter = "gateway_relay_token_refresh_total"
    public static let revocationsCounter = "gateway_relay_token_revocations_total"
    public static let rejectionsCounter = "gateway_relay_token_rejections_total"
    public static let quarantinesCounter = "gateway_relay_token_quarantines_total"

    /// `factory` defaults to the process-wide metrics backend.
    public init(logger: Logger = Logger(label: "hypertuna.tokens"), factory: (any MetricsFactory)? = nil) {
        self.logger = logger
        self.factory = factory ?? MetricsSystem.factory
    }

    func issued(_ s: TokenState) {
        logger.info("token issued", metadata: fields("token.issue", s))
        Counter(label: Self.issuesCounter, factory: factory).increment()
    }

    func refreshed(_ s: TokenState) {
        logger.info("token refreshed", metadata: fields("token.refresh", s))
        Counter(label: Self.refreshCounter, factory: factory).increment()
    }

    func revoked(_ r: RevocationRecord, frameSequence: UInt64) {
        logger.notice(
            "token revoked",
            metadata: [
                "event": "token.revoke", "peer": "\(r.peerKey)", "relay": "\(r.relayKey)", "sequence": "\(r.sequence)",
                "tokenId": "\(r.tokenId)", "expiresAt": "\(r.expiresAt)", "reason": "\(r.reason)",
                "frameSequence": "\(frameSequence)",
            ])
        Counter(label: Self.revocationsCounter, factory: factory).increment()
    }

    func rejected(operation: String, peer: String, relay: String, error: TokenError) {
        logger.warning(
            "token rejected",
            metadata: [
                "event": "token.rejected", "operation": "\(operation)", "peer": "\(peer)", "relay": "\(relay)",
                "reason": "\(error.reason)", "detail": "\(error.description)",
            ])
        Counter(
            label: Self.rejectionsCounter, dimensions: [("operation", operation), ("reason", error.reason)],
            factory: factory
        ).increment()
    }

    func quarantined(_ s: TokenState) {
        var m = fields("token.quarantine", s)
        m["failedRefreshes"] = "\(s.consecutiveFailedRefreshes)"
        logger.error("peer quarantined after consecutive failed refreshes", metadata: m)
        Counter(label: Self.quarantinesCounter, factory: factory).increment()
    }

    func quarantineLifted(_ s: TokenState) {
        logger.notice("peer quarantine lifted", metadata: fields("token.quarantine-lifted", s))
    }

    private func fields(_ event: String, _ s: TokenState) -> Logger.Metadata {
        [
            "event": "\(event)", "peer": "\(s.peerKey)", "relay": "\(s.relayKey)", "sequence": "\(s.sequence)",
            "tokenId": "\(s.tokenId)", "expiresAt": "\(s.expiresAt)",
        ]
    }
}
