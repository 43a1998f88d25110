import Dispatcher
import Foundation
import HyperCrypto
import NostrRelay
import PeerProtocol
import TokenService

/// Why an admin request was refused: 401 (missing, malformed, stale, replayed or tampered authorization) or 403
/// (a valid signature by a key that is not an admin, or no admin key configured).
public struct AdminAuthFailure: Error, Equatable, CustomStringConvertible {
    public let status: Int
    public let reason: String
    public var description: String { "\(status): \(reason)" }
}

/// The admin API (NIP-86 over HTTP `POST /admin`, or `POST /` with `Content-Type: application/nostr+json+rpc`),
/// guarded by NIP-98: `Authorization: Nostr <base64 of a kind-27235 event>` signed by a key of
/// `GATEWAY_RELAY_ADMIN_PUBLIC_KEY`, with tags `u` (the request URL), `method` (POST) and `payload` (SHA-256 hex of
/// the body), `created_at` within 60 s of the gateway's clock, each event id usable once.
///
/// Body `{"method": NAME, "params": [...]}`; answer `{"result": ..., "error": null}` or `{"error": TEXT}`.
extension RelayHost {
    /// Seconds an authorization event is valid around `created_at`.
    public static let adminWindowSeconds: UInt64 = 60

    /// Methods: NIP-86 ones that map onto this relay, then the gateway's own.
    public static let adminMethods = [
        "supportedmethods", "banpubkey", "allowpubkey", "listbannedpubkeys", "listallowedpubkeys", "banevent",
        "allowevent", "listbannedevents", "changerelayname", "changerelaydescription", "stats", "queue", "peers",
        "revoke", "pause-replication", "resume-replication", "liftquarantine",
    ]

    /// Checks a NIP-98 authorization for `method` on one of `urls` with `body`; returns the admin pubkey.
    public func verifyAdminAuthorization(
        _ authorization: String?, method: String, urls: [String], body: [UInt8]
    ) throws(AdminAuthFailure) -> String {
        func fail(_ status: Int, _ reason: String) -> AdminAuthFailure {
            metrics.admin(method: "auth", result: "\(status)")
            return AdminAuthFailure(status: status, reason: reason)
        }
        guard !adminPubkeys.isEmpty else {
            throw fail(403, "the admin API is disabled: set GATEWAY_RELAY_ADMIN_PUBLIC_KEY")
        }
        guard let authorization, authorization.hasPrefix("Nostr ") else {
            throw fail(401, "missing Authorization: Nostr <base64 kind-27235 event> (NIP-98)")
        }
        let encoded = authorization.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8) else {
            throw fail(401, "the Authorization event is not base64 JSON")
        }
        let event: NostrEvent
        do { event = try NostrEvent.parse(json: text) } catch {
            throw fail(401, "the Authorization event is malformed: \(error.message)")
        }
        do { try event.verify() } catch {
            throw fail(401, "the Authorization event does not verify (\(error.message)): tampered or forged")
        }
        guard event.kind == 27235 else {
            throw fail(401, "the Authorization event must be kind 27235, got \(event.kind)")
        }
        let now = clock.nowSeconds()
        let created = UInt64(max(0, event.createdAt))
        let distance = created > now ? created - now : now - created
        guard distance <= Self.adminWindowSeconds else {
            throw fail(
                401,
                "stale Authorization event: created_at \(created) is more than \(Self.adminWindowSeconds) s from now (\(now))"
            )
        }
        guard let u = event.firstTagValue("u"), urls.contains(u) else {
            throw fail(
                401, "the Authorization u tag does not name this URL (expected one of \(urls.joined(separator: ", ")))")
        }
        guard event.firstTagValue("method")?.uppercased() == method.uppercased() else {
            throw fail(401, "the Authorization method tag must be \(method)")
        }
        let payload = event.firstTagValue("payload")
        if !body.isEmpty || payload != nil {
            guard payload?.lowercased() == SHA256.hash(body).hex else {
                throw fail(401, "the Authorization payload tag is not the SHA-256 of the body: tampered payload")
            }
        }
        guard adminPubkeys.contains(event.pubkey) else {
            throw fail(403, "pubkey \(event.pubkey) is not an admin key of this gateway")
        }
        let fresh =
            (try? store.useNonce("nip98:" + event.id, expiresAt: now + 2 * Self.adminWindowSeconds + 1, now: now))
            ?? false
        guard fresh else { throw fail(401, "this Authorization event was already used: replayed") }
        return event.pubkey
    }

    /// Runs one admin call; returns the HTTP status and the JSON answer.
    public func adminCall(body: [UInt8], admin: String) async -> (status: Int, body: String) {
        guard case .object(let o)? = try? JSONReader.parse(body), let method = o["method"]?.stringValue else {
            return (400, Self.adminError(#"body must be {"method": NAME, "params": [...]}"#))
        }
        let params: [String] = (o["params"]?.arrayValue ?? []).map { v in
            switch v {
            case .string(let s): return s
            case .integer(let i): return String(i)
            case .double(let d): return String(d)
            case .bool(let b): return String(b)
            default: return ""
            }
        }
        let (status, answer) = await runAdmin(method.lowercased(), params)
        metrics.admin(
            method: Self.adminMethods.contains(method.lowercased()) ? method.lowercased() : "unknown",
            result: "\(status)")
        audit.record(
            "admin",
            [
                "method": .string(method), "admin": .string(admin), "result": .int(Int64(status)),
                "params": .string(params.joined(separator: " ").prefix(256).description),
            ])
        return (status, answer)
    }

    private func runAdmin(_ method: String, _ p: [String]) async -> (Int, String) {
        func param(_ i: Int) -> String? { i < p.count && !p[i].isEmpty ? p[i] : nil }
        func hexParam(_ i: Int, _ what: String) -> Result<String, AdminCallError> {
            guard let v = param(i)?.lowercased(), NostrEvent.isLowerHex(v, length: 64) else {
                return .failure(AdminCallError(400, "params[\(i)] must be the \(what) as 64 hex characters"))
            }
            return .success(v)
        }
        do {
            switch method {
            case "supportedmethods":
                return (200, Self.adminResult(Self.adminMethods))
            case "banpubkey", "allowpubkey":
                let key = try hexParam(0, "pubkey").get()
                let reason = param(1) ?? ""
                _ = moderation.update { m in
                    if method == "banpubkey" {
                        m.bannedPubkeys[key] = reason
                        m.allowedPubkeys[key] = nil
                    } else {
                        m.allowedPubkeys[key] = reason
                        m.bannedPubkeys[key] = nil
                    }
                }
                try store.setModeration(moderation.current)
                return (200, Self.adminResult(true))
            case "listbannedpubkeys", "listallowedpubkeys":
                let m = moderation.current
                let list = method == "listbannedpubkeys" ? m.bannedPubkeys : m.allowedPubkeys
                return (
                    200,
                    Self.adminResult(
                        list.sorted { $0.key < $1.key }.map { PubkeyEntry(pubkey: $0.key, reason: $0.value) })
                )
            case "banevent", "allowevent":
                let id = try hexParam(0, "event id").get()
                _ = moderation.update { m in m.bannedEvents[id] = method == "banevent" ? (param(1) ?? "") : nil }
                try store.setModeration(moderation.current)
                return (200, Self.adminResult(true))
            case "listbannedevents":
                return (
                    200,
                    Self.adminResult(
                        moderation.current.bannedEvents.sorted { $0.key < $1.key }.map {
                            EventEntry(id: $0.key, reason: $0.value)
                        })
                )
            case "changerelayname", "changerelaydescription":
                guard let text = param(0), text.utf8.count <= 1024 else {
                    return (400, Self.adminError("params[0] must be the new text (1...1024 bytes)"))
                }
                _ = moderation.update { m in
                    if method == "changerelayname" { m.relayName = text } else { m.relayDescription = text }
                }
                try store.setModeration(moderation.current)
                return (200, Self.adminResult(true))
            case "stats":
                return (200, Self.adminResult(stats()))
            case "queue":
                return (200, Self.adminResult(dispatcher.snapshot()))
            case "peers":
                return (200, Self.adminResult(PeerList(peers: peerSummaries())))
            case "revoke":
                let key = try hexParam(0, "peer swarm key").get()
                do {
                    return (
                        200,
                        Self.adminResult(
                            try revoke(peer: [UInt8](hex: key)!, reason: param(1) ?? "revoked by an operator"))
                    )
                } catch TokenError.unknownToken {
                    return (404, Self.adminError("no token was issued to peer \(key)"))
                }
            case "pause-replication":
                return (
                    200,
                    Self.adminResult(
                        ControlAnswer(frameSequence: try pauseReplication(reason: param(0) ?? "paused by an operator")))
                )
            case "resume-replication":
                return (
                    200,
                    Self.adminResult(
                        ControlAnswer(
                            frameSequence: try resumeReplication(reason: param(0) ?? "resumed by an operator")))
                )
            case "liftquarantine":
                let key = try hexParam(0, "peer swarm key").get()
                guard let log else { throw PeerPlaneError.relayNotHosted }
                try tokens.liftQuarantine(peer: [UInt8](hex: key)!, relay: log.key)
                return (200, Self.adminResult(true))
            default:
                return (400, Self.adminError("unknown method \(method); see supportedmethods"))
            }
        } catch let e as AdminCallError {
            return (e.status, Self.adminError(e.message))
        } catch PeerPlaneError.relayNotHosted {
            return (409, Self.adminError(PeerPlaneError.relayNotHosted.description))
        } catch {
            return (500, Self.adminError("\(error)"))
        }
    }

    static func adminResult<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let result = (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        return #"{"error":null,"result":"# + result + "}"
    }

    static func adminError(_ message: String) -> String {
        #"{"error":"# + AuditLog.quote(message) + "}"
    }
}

struct AdminCallError: Error {
    let status: Int
    let message: String
    init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
}

struct PubkeyEntry: Codable, Equatable {
    var pubkey: String
    var reason: String
}

struct EventEntry: Codable, Equatable {
    var id: String
    var reason: String
}

struct PeerList: Codable, Equatable {
    var peers: [PeerSummary]
}

struct ControlAnswer: Codable, Equatable {
    var frameSequence: UInt64
}
