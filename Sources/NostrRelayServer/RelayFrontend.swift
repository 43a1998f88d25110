/// What the websocket server needs from a relay engine. `NostrRelay.Relay` conforms (see RelayEngineGlue.swift);
/// tests use small fakes.
public protocol RelayFrontend: Sendable {
    /// Starts a session for one websocket connection; the engine writes to it through `outbound`.
    func openSession(remoteAddress: String, outbound: ConnectionOutbound) -> any RelaySession
    /// The NIP-11 relay information document as JSON text.
    func informationDocument() -> String
    /// Flushes and closes the store; called once at graceful shutdown after the listener stopped.
    func shutdown() async throws
}

/// One websocket connection as seen by the engine.
public protocol RelaySession: Sendable {
    /// One inbound text frame.
    func receive(_ text: String) async
    /// The connection is gone; drop its subscriptions.
    func disconnected()
}
