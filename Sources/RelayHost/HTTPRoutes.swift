import Foundation
import HTTPTypes
import Hummingbird
import HyperCrypto
import NIOCore
import NostrRelayServer
import SwarmTransport

/// The peer plane's HTTP endpoints, installed beside the relay's (`RelayServer.makeApplication(routes:)`):
///
/// | request | answer |
/// |---|---|
/// | `GET /gateway/announcement` | the signed `DiscoveryAnnouncement` (JSON) |
/// | `POST /gateway/register` | body `RegistrationRequest`, signed with `SignedHTTPRequest` headers -> `RegistrationResponse` |
/// | `POST /token/refresh` | body `{"token":S}`, signed -> `IssuedToken` |
/// | `GET /rendezvous/:topic` | `{"peers":[{"host","port","publicKey"}]}` announced under a 64-hex topic |
/// | `POST /admin` | the admin API (NIP-98 + NIP-86 JSON), also `POST /` with `Content-Type: application/nostr+json+rpc` |
extension RelayHost {
    /// Largest request body read.
    static let maxHTTPBody = 256 * 1024

    /// Installs the routes (pass as `routes:` to `RelayServer.makeApplication`).
    public var routeInstaller: RouteInstaller {
        { [weak self] router in self?.install(on: router) }
    }

    func install(on router: Router<BasicRequestContext>) {
        router.get("/gateway/announcement") { [weak self] _, _ -> Response in
            guard let self else { return Self.json(503, #"{"error":"shutting down"}"#) }
            do {
                return Self.json(200, Self.encode(try self.signedAnnouncement()))
            } catch {
                return Self.refusal(error)
            }
        }
        for path in ["/gateway/register", "/token/refresh"] {
            router.post(RouterPath(path)) { [weak self] request, _ -> Response in
                guard let self else { return Self.json(503, #"{"error":"shutting down"}"#) }
                var request = request
                let body = Array(buffer: (try? await request.collectBody(upTo: Self.maxHTTPBody)) ?? ByteBuffer())
                do {
                    let answer = try self.signedHTTP(
                        method: "POST", path: path, body: body, headers: Self.lowercased(request.headers))
                    return Self.json(200, String(decoding: answer, as: UTF8.self))
                } catch {
                    return Self.refusal(error)
                }
            }
        }
        router.get("/rendezvous/:topic") { [weak self] _, context -> Response in
            guard let self, let hex = context.parameters.get("topic"), let topic = [UInt8](hex: hex), topic.count == 32
            else { return Self.json(400, #"{"error":"topic must be 64 hex characters"}"#) }
            let peers = (try? await self.directory.lookup(topic: topic)) ?? []
            let items = peers.map { p in
                #"{"host":\#(AuditLog.quote(p.host)),"port":\#(p.port),"publicKey":"\#(p.publicKey?.hex ?? "")"}"#
            }
            return Self.json(200, #"{"peers":["# + items.joined(separator: ",") + "]}")
        }
        router.post("/admin") { [weak self] request, _ -> Response in
            guard let self else { return Self.json(503, #"{"error":"shutting down"}"#) }
            return await self.adminHTTP(request)
        }
        router.post("/") { [weak self] request, _ -> Response in
            guard let self else { return Self.json(503, #"{"error":"shutting down"}"#) }
            let type = request.headers[.contentType]?.lowercased() ?? ""
            guard type.hasPrefix("application/nostr+json+rpc") else {
                return Self.json(
                    415, #"{"error":"POST / is the NIP-86 admin API: use Content-Type application/nostr+json+rpc"}"#)
            }
            return await self.adminHTTP(request)
        }
    }

    /// NIP-98 check, then the call.
    func adminHTTP(_ request: Request) async -> Response {
        var request = request
        let body = Array(buffer: (try? await request.collectBody(upTo: Self.maxHTTPBody)) ?? ByteBuffer())
        let admin: String
        do {
            admin = try verifyAdminAuthorization(
                request.headers[.authorization], method: "POST", urls: adminURLs(request), body: body)
        } catch {
            audit.record("admin", ["result": .int(Int64(error.status)), "reason": .string(error.reason)])
            var headers: HTTPFields = [.contentType: "application/json"]
            if error.status == 401 { headers[.wwwAuthenticate] = "Nostr" }
            return Response(
                status: .init(code: error.status), headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: Self.adminError(error.reason))))
        }
        let (status, answer) = await adminCall(body: body, admin: admin)
        return Self.json(status, answer)
    }

    /// The URLs an admin event's `u` tag may name: the public HTTP URL with the path, and the URL as the client
    /// addressed this server (its Host header).
    func adminURLs(_ request: Request) -> [String] {
        let path = request.uri.path
        var bases = [configuration.publicHTTPURL.trimmingSuffix("/")]
        if let host = request.head.authority { bases += ["http://\(host)", "https://\(host)"] }
        var urls = bases.map { $0 + path }
        // NIP-86 clients name the relay itself: its base URL without the slash, or its websocket URL.
        if path == "/" { urls += bases + [configuration.publicWebsocketURL, configuration.publicWebsocketURL + "/"] }
        return urls
    }

    static func lowercased(_ fields: HTTPFields) -> [String: String] {
        var out: [String: String] = [:]
        for f in fields { out[f.name.canonicalName.lowercased()] = f.value }
        return out
    }

    static func json(_ status: Int, _ body: String) -> Response {
        Response(
            status: .init(code: status), headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func refusal(_ error: any Error) -> Response {
        if let r = error as? PeerPlaneRefusal {
            return json(r.status, #"{"error":\#(AuditLog.quote(r.message)),"reason":\#(AuditLog.quote(r.reason))}"#)
        }
        return json(500, #"{"error":\#(AuditLog.quote("\(error)"))}"#)
    }

    static func encode<T: Encodable>(_ v: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(v)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

extension String {
    func trimmingSuffix(_ s: String) -> String { hasSuffix(s) ? String(dropLast(s.count)) : self }
}
