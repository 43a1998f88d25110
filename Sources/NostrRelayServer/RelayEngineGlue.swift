import NostrRelay

// The websocket front drives the NostrRelay engine through these conformances.

extension ConnectionOutbound: RelayOutbound {}

extension RelayConnection: RelaySession {}

extension Relay: RelayFrontend {
    public func openSession(remoteAddress: String, outbound: ConnectionOutbound) -> any RelaySession {
        connect(remoteAddress: remoteAddress, outbound: outbound)
    }

    public func informationDocument() -> String { informationJSON }
}
