import HyperCrypto
import Logging

/// One websocket connection to a `Relay`. The server calls `receive` for each inbound text frame (in order)
/// and `disconnected` when the socket goes. `RelayOutbound.send`/`close` must not call back into this object
/// synchronously.
public final class RelayConnection: Sendable {
    /// One open subscription. `buffered` is non-nil until EOSE: live events that land while the stored ones
    /// are being read wait there, so nothing is lost and nothing is sent twice.
    struct Subscription {
        var filters: [Filter]
        var generation: UInt64
        var buffered: [NostrEvent]?
    }

    struct State {
        var subscriptions: [String: Subscription] = [:]
        var authenticated: Set<String> = []
        var closed = false
        var nextGeneration: UInt64 = 0
    }

    let relay: Relay
    public let remoteAddress: String
    let outbound: any RelayOutbound
    /// The NIP-42 challenge of this connection.
    public let challenge: String
    let state = Locked(State())

    init(relay: Relay, remoteAddress: String, outbound: any RelayOutbound) {
        self.relay = relay
        self.remoteAddress = remoteAddress
        self.outbound = outbound
        self.challenge = randomBytes(16).hex
    }

    func start() {
        if relay.configuration.auth != .disabled { send(RelayMessage.auth(challenge)) }
    }

    /// Public keys this connection has authenticated as (NIP-42).
    public var authenticatedPubkeys: Set<String> { state.withLock { $0.authenticated } }

    /// Open subscription ids.
    public var subscriptionIDs: Set<String> { state.withLock { Set($0.subscriptions.keys) } }

    /// Whether the connection was dropped or disconnected.
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// The socket is gone: drop its subscriptions.
    public func disconnected() {
        state.withLock { s in
            s.closed = true
            s.subscriptions.removeAll()
        }
        relay.forget(self)
    }

    func closeForShutdown() {
        let wasOpen = state.withLock { s -> Bool in
            defer {
                s.closed = true
                s.subscriptions.removeAll()
            }
            return !s.closed
        }
        if wasOpen { outbound.close(code: 1001, reason: "relay shutting down") }
    }

    // MARK: Sending

    /// Sends one frame; a full outbound buffer drops the connection. Returns false if the frame was not sent.
    @discardableResult
    func send(_ frame: String) -> Bool {
        let open = state.withLock { !$0.closed }
        guard open else { return false }
        if outbound.send(frame) { return true }
        dropSlowReader()
        return false
    }

    /// Sends frames while the caller holds the state lock (keeps per-subscription order). Returns false when
    /// the outbound refused a frame; the caller must then call `dropSlowReader()` after releasing the lock.
    private func sendLocked(_ frame: String, _ s: inout State) -> Bool {
        guard !s.closed else { return false }
        if outbound.send(frame) { return true }
        s.closed = true
        s.subscriptions.removeAll()
        return false
    }

    private func dropSlowReader() {
        state.withLock { s in
            s.closed = true
            s.subscriptions.removeAll()
        }
        relay.forget(self)
        relay.logger.info("dropping slow reader", metadata: ["remote": "\(remoteAddress)"])
        outbound.close(code: 1008, reason: "slow reader: outbound buffer full")
    }

    /// Pushes newly stored (or ephemeral) events to matching subscriptions.
    func deliver(_ events: [NostrEvent]) {
        let bufferBound = relay.configuration.maxOutboundFrames
        let refused = state.withLock { s -> Bool in
            guard !s.closed, !s.subscriptions.isEmpty else { return false }
            for (id, sub) in s.subscriptions {
                for e in events where sub.filters.contains(where: { $0.matches(e) }) {
                    if sub.buffered != nil {
                        // Live events waiting for EOSE are bounded like the outbound buffer they will go to.
                        if (s.subscriptions[id]?.buffered?.count ?? 0) >= bufferBound {
                            s.closed = true
                            s.subscriptions.removeAll()
                            return true
                        }
                        s.subscriptions[id]?.buffered?.append(e)
                    } else if !sendLocked(RelayMessage.event(id, e), &s) {
                        return true
                    }
                }
            }
            return false
        }
        if refused { dropSlowReader() }
    }

    // MARK: Receiving

    /// Handles one inbound text frame (EVENT, REQ, CLOSE, AUTH, COUNT); replies go to the outbound.
    /// An EVENT returns once it is verified and queued; its OK follows the store commit.
    public func receive(_ text: String) async {
        guard !isClosed else { return }
        let config = relay.configuration
        guard text.utf8.count <= config.maxMessageBytes else {
            send(RelayMessage.notice("error: message too large (max \(config.maxMessageBytes) bytes)"))
            return
        }
        let frame: JSONValue
        do { frame = try JSONReader.parse(text) } catch {
            send(RelayMessage.notice("error: invalid JSON: \(error)"))
            return
        }
        guard case .array(let items) = frame, let type = items.first?.stringValue else {
            send(RelayMessage.notice("error: a message must be a JSON array starting with its type"))
            return
        }
        relay.requestCounter.increment()
        switch type {
        case "EVENT": await handleEvent(items)
        case "REQ": await handleRequest(items, counting: false)
        case "COUNT": await handleRequest(items, counting: true)
        case "CLOSE": handleClose(items)
        case "AUTH": handleAuth(items)
        default: send(RelayMessage.notice("error: unknown message type \(JSONWriter.quoted(type))"))
        }
    }

    private func reject(_ id: String, _ message: String) {
        relay.count(RelayMessage.prefix(message))
        send(RelayMessage.ok(id, false, message))
    }

    private func handleEvent(_ items: [JSONValue]) async {
        guard items.count == 2 else {
            send(RelayMessage.notice("error: EVENT takes exactly one event"))
            return
        }
        let event: NostrEvent
        do { event = try NostrEvent.parse(items[1]) } catch {
            if let id = items[1].objectValue?["id"]?.stringValue, NostrEvent.isLowerHex(id, length: 64) {
                reject(id, error.message)
            } else {
                send(RelayMessage.notice("error: \(error.message)"))
            }
            return
        }
        let config = relay.configuration
        let now = relay.now
        if !relay.eventsPerIP.take(remoteAddress, now: relay.clock()) {
            return reject(event.id, "rate-limited: slow down, too many events from your address")
        }
        if event.tags.count > config.maxEventTags {
            return reject(event.id, "invalid: too many tags (max \(config.maxEventTags))")
        }
        if event.content.utf8.count > config.maxContentBytes {
            return reject(event.id, "invalid: content too long (max \(config.maxContentBytes) bytes)")
        }
        if let lower = config.createdAtLowerLimit, event.createdAt < now - lower {
            return reject(event.id, "invalid: created_at is too far in the past")
        }
        if let upper = config.createdAtUpperLimit, event.createdAt > now + upper {
            return reject(event.id, "invalid: created_at is too far in the future")
        }
        do { try event.verify() } catch { return reject(event.id, error.message) }
        if event.kind == 22_242 {
            return reject(event.id, "invalid: AUTH events are only accepted in AUTH messages")
        }
        let authenticated = authenticatedPubkeys
        if config.auth == .required && authenticated.isEmpty {
            return reject(event.id, "auth-required: authenticate to publish to this relay")
        }
        if !relay.eventsPerPubkey.take(event.pubkey, now: relay.clock()) {
            return reject(event.id, "rate-limited: slow down, too many events from this author")
        }
        if event.isProtected {
            if config.auth == .disabled {
                return reject(event.id, "blocked: protected events are not accepted by this relay")
            }
            if !authenticated.contains(event.pubkey) {
                return reject(
                    event.id,
                    authenticated.isEmpty
                        ? "auth-required: this event may only be published by its author"
                        : "restricted: this event may only be published by its author")
            }
        }
        let context = WriteContext(remoteAddress: remoteAddress, authenticatedPubkeys: authenticated)
        if case .reject(let message) = relay.policy.decide(event, context: context) {
            return reject(event.id, message)
        }
        if let expiration = event.expiration, expiration <= now {
            return reject(event.id, "invalid: event has expired")
        }
        if event.kindClass == .ephemeral {
            relay.count("ephemeral")
            relay.broadcast([event])
            send(RelayMessage.ok(event.id, true, ""))
            return
        }
        // Durable path: OK after the group commit. Past a backlog bound, wait for the commit (backpressure).
        let relay = self.relay
        let reply: @Sendable (InsertOutcome) -> Void = { [weak self] outcome in
            switch outcome {
            case .stored:
                relay.count("stored")
                self?.send(RelayMessage.ok(event.id, true, ""))
            case .rejected(let message):
                let prefix = RelayMessage.prefix(message)
                relay.count(prefix)
                // NIP-01: a duplicate is not a failure (the relay has it, or a newer version): `true`, so clients
                // that retry a publish stop retrying.
                self?.send(RelayMessage.ok(event.id, prefix == "duplicate", message))
            }
        }
        if relay.writer.backlog >= config.maxBatchSize * 4 {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                relay.submit(event) { outcome in
                    reply(outcome)
                    c.resume()
                }
            }
        } else {
            relay.submit(event, completion: reply)
        }
    }

    /// Reads `[TYPE, subscription id, filter...]`; answers CLOSED and returns nil on a refusal.
    private func parseRequest(_ items: [JSONValue], _ type: String) -> (String, [Filter])? {
        let config = relay.configuration
        guard items.count >= 2, let id = items[1].stringValue else {
            send(RelayMessage.notice("error: \(type) needs a subscription id string"))
            return nil
        }
        guard !id.isEmpty, id.count <= config.maxSubscriptionIdLength else {
            send(
                RelayMessage.closed(
                    id, "invalid: subscription id must be 1 to \(config.maxSubscriptionIdLength) characters"))
            return nil
        }
        guard items.count >= 3 else {
            send(RelayMessage.closed(id, "invalid: \(type) needs at least one filter"))
            return nil
        }
        guard items.count - 2 <= config.maxFilters else {
            send(RelayMessage.closed(id, "invalid: too many filters (max \(config.maxFilters))"))
            return nil
        }
        var filters: [Filter] = []
        for raw in items[2...] {
            do {
                var f = try Filter.parse(raw)
                f.limit = min(f.limit ?? config.defaultLimit, config.effectiveMaxLimit)
                filters.append(f)
            } catch {
                send(RelayMessage.closed(id, error.message))
                return nil
            }
        }
        if config.auth == .required && authenticatedPubkeys.isEmpty {
            send(RelayMessage.closed(id, "auth-required: authenticate to read from this relay"))
            return nil
        }
        if !relay.queriesPerIP.take(remoteAddress, now: relay.clock()) {
            send(RelayMessage.closed(id, "rate-limited: slow down, too many requests from your address"))
            return nil
        }
        return (id, filters)
    }

    private func handleRequest(_ items: [JSONValue], counting: Bool) async {
        guard let (id, filters) = parseRequest(items, counting ? "COUNT" : "REQ") else { return }
        let now = relay.now
        if counting {
            do {
                let n = try await relay.store.count(filters, now: now)
                send(RelayMessage.count(id, n))
            } catch {
                relay.logger.error("COUNT failed", metadata: ["error": "\(error)"])
                send(RelayMessage.closed(id, "error: could not count events"))
            }
            return
        }
        let maxSubscriptions = relay.configuration.maxSubscriptions
        let generation = state.withLock { s -> UInt64? in
            if s.closed { return nil }
            if s.subscriptions[id] == nil && s.subscriptions.count >= maxSubscriptions { return 0 }
            s.nextGeneration += 1
            s.subscriptions[id] = Subscription(filters: filters, generation: s.nextGeneration, buffered: [])
            return s.nextGeneration
        }
        guard let generation else { return }
        if generation == 0 {
            send(RelayMessage.closed(id, "blocked: too many open subscriptions (max \(maxSubscriptions))"))
            return
        }
        let stored: [NostrEvent]
        do {
            let context = QueryContext(
                connectionID: String(UInt(bitPattern: ObjectIdentifier(self).hashValue), radix: 16), subscriptionID: id,
                remoteAddress: remoteAddress)
            stored = try await relay.storedEvents(
                filters, limit: relay.configuration.effectiveMaxLimit, now: now, context: context)
        } catch {
            relay.logger.error("REQ failed", metadata: ["error": "\(error)"])
            let current = state.withLock { s -> Bool in
                guard s.subscriptions[id]?.generation == generation else { return false }
                s.subscriptions[id] = nil
                return true
            }
            if current { send(RelayMessage.closed(id, "error: could not query events")) }
            return
        }
        let refused = state.withLock { s -> Bool in
            // A CLOSE or a newer REQ with the same id may have replaced this subscription meanwhile.
            guard let sub = s.subscriptions[id], sub.generation == generation, !s.closed else { return false }
            var sent = Set<String>()
            for e in stored {
                sent.insert(e.id)
                if !sendLocked(RelayMessage.event(id, e), &s) { return true }
            }
            if !sendLocked(RelayMessage.eose(id), &s) { return true }
            for e in sub.buffered ?? [] where sent.insert(e.id).inserted {
                if !sendLocked(RelayMessage.event(id, e), &s) { return true }
            }
            s.subscriptions[id]?.buffered = nil
            return false
        }
        if refused { dropSlowReader() }
    }

    private func handleClose(_ items: [JSONValue]) {
        guard items.count == 2, let id = items[1].stringValue else {
            send(RelayMessage.notice("error: CLOSE takes exactly one subscription id"))
            return
        }
        // CLOSED is for subscriptions the relay ends itself (NIP-01); the client's own CLOSE gets no answer.
        state.withLock { _ = $0.subscriptions.removeValue(forKey: id) }
    }

    private func handleAuth(_ items: [JSONValue]) {
        guard relay.configuration.auth != .disabled else {
            send(RelayMessage.notice("error: this relay does not support AUTH"))
            return
        }
        guard items.count == 2 else {
            send(RelayMessage.notice("error: AUTH takes exactly one event"))
            return
        }
        let event: NostrEvent
        do { event = try NostrEvent.parse(items[1]) } catch {
            if let id = items[1].objectValue?["id"]?.stringValue, NostrEvent.isLowerHex(id, length: 64) {
                send(RelayMessage.ok(id, false, error.message))
            } else {
                send(RelayMessage.notice("error: \(error.message)"))
            }
            return
        }
        guard event.kind == 22_242 else {
            send(RelayMessage.ok(event.id, false, "invalid: AUTH event must be kind 22242"))
            return
        }
        guard abs(event.createdAt - relay.now) <= 600 else {
            send(RelayMessage.ok(event.id, false, "invalid: AUTH event created_at is not within 10 minutes"))
            return
        }
        guard event.firstTagValue("challenge") == challenge else {
            send(RelayMessage.ok(event.id, false, "invalid: AUTH challenge does not match"))
            return
        }
        guard let url = event.firstTagValue("relay"), Self.sameRelay(url, relay.configuration.relayURL) else {
            send(RelayMessage.ok(event.id, false, "invalid: AUTH relay tag does not name this relay"))
            return
        }
        do { try event.verify() } catch {
            send(RelayMessage.ok(event.id, false, error.message))
            return
        }
        state.withLock { _ = $0.authenticated.insert(event.pubkey) }
        send(RelayMessage.ok(event.id, true, ""))
    }

    /// Whether two relay URLs name the same relay: same websocket scheme family and the same host and port
    /// (case-insensitive, default ports filled in, path ignored as NIP-42 allows; `localhost`, `127.0.0.1` and
    /// `[::1]` are the same host).
    static func sameRelay(_ a: String, _ b: String) -> Bool {
        guard let x = authority(a), let y = authority(b) else { return false }
        return x == y
    }

    /// `host:port` of a ws:// or wss:// URL, normalised; nil for anything else.
    static func authority(_ url: String) -> String? {
        let t = url.trimmingCharacters(in: .whitespaces).lowercased()
        guard let sep = t.range(of: "://") else { return nil }
        let scheme = t[..<sep.lowerBound]
        let defaultPort: String
        switch scheme {
        case "ws": defaultPort = "80"
        case "wss": defaultPort = "443"
        default: return nil
        }
        var rest = t[sep.upperBound...]
        if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        var host = String(rest)
        var port = defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") { port = String(after.dropFirst()) }
            host = String(host[...close])
        } else if let colon = host.lastIndex(of: ":") {
            port = String(host[host.index(after: colon)...])
            host = String(host[..<colon])
        }
        guard !host.isEmpty, !port.isEmpty, port.allSatisfy(\.isNumber) else { return nil }
        if host == "localhost" || host == "127.0.0.1" || host == "[::1]" { host = "loopback" }
        return "\(scheme)://\(host):\(port)"
    }
}
