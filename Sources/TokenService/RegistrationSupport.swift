import HyperCrypto
import PeerProtocol

extension RelayAssignment {
    /// The registration reply's `hyperbee` object with the token fields taken from `policy`, so the reply always
    /// advertises the policy the service actually enforces.
    public init(
        hyperbeeKey: [UInt8], discoveryKey: [UInt8], replicationTopic: [UInt8], websocketUrl: String,
        tokenPolicy policy: TokenPolicy, dispatcher: DispatcherPolicy
    ) {
        self.init(
            hyperbeeKey: hyperbeeKey.hex, discoveryKey: discoveryKey.hex, replicationTopic: replicationTopic.hex,
            websocketUrl: websocketUrl, defaultTokenTtl: Int(policy.ttlSeconds),
            tokenRefreshWindowSeconds: Int(policy.refreshWindowSeconds),
            tokenQuarantineThreshold: policy.quarantineThreshold, dispatcher: dispatcher)
    }
}
