import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HyperCrypto
import NIOCore
import NostrRelay
import PeerProtocol
import Testing

@testable import RelayHost

/// Admin API calls through the router, signed like the CLI signs them.
struct AdminCaller {
    let client: any TestClientProtocol
    var secret = adminSecret
    var url = "http://127.0.0.1:4430/admin"

    func call(
        _ method: String, _ params: [String] = [], createdAt: Int64 = Int64(Date().timeIntervalSince1970),
        authorization: String? = nil, sentBody: [UInt8]? = nil
    ) async throws -> (status: Int, json: [String: Any]) {
        let body = AdminClient.body(method: method, params: params)
        let auth =
            try authorization
            ?? AdminClient(baseURL: "", secretKey: secret).authorization(
                url: url, body: body, createdAt: createdAt)
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[.authorization] = auth
        return try await client.execute(
            uri: "/admin", method: .post, headers: headers, body: ByteBuffer(bytes: sentBody ?? body)
        ) { r in
            (
                Int(r.status.code),
                (try? JSONSerialization.jsonObject(with: Data(buffer: r.body)) as? [String: Any]) ?? [:]
            )
        }
    }
}

@Suite("RelayHost: NIP-98 admin API", .timeLimit(.minutes(2)))
struct AdminAPITests {
    @Test("auth: good, missing, wrong key, stale, replayed and tampered payload")
    func auth() async throws {
        let gw = try await TestGateway.make()
        try await gw.application().test(.router) { client in
            let admin = AdminCaller(client: client)
            let good = try await admin.call("stats")
            #expect(good.status == 200)
            #expect((good.json["result"] as? [String: Any])?["relayKey"] as? String == gw.log!.key.hex)

            let missing = try await client.execute(uri: "/admin", method: .post, body: ByteBuffer(string: "{}")) { r in
                r
            }
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate] == "Nostr")

            var stranger = admin
            stranger.secret = strangerSecret
            let wrong = try await stranger.call("stats")
            #expect(wrong.status == 403)
            #expect((wrong.json["error"] as? String)?.contains("not an admin key") == true)

            let stale = try await admin.call("stats", createdAt: Int64(Date().timeIntervalSince1970) - 120)
            #expect(stale.status == 401)
            #expect((stale.json["error"] as? String)?.contains("stale") == true)

            let body = AdminClient.body(method: "stats", params: [])
            let auth = try AdminClient(baseURL: "", secretKey: adminSecret).authorization(
                url: admin.url, body: body, createdAt: Int64(Date().timeIntervalSince1970) - 5)
            #expect(try await admin.call("stats", authorization: auth).status == 200)
            let replay = try await admin.call("stats", authorization: auth)
            #expect(replay.status == 401)
            #expect((replay.json["error"] as? String)?.contains("replayed") == true)

            // Signed for one body, sent with another.
            let signedFor = AdminClient.body(method: "stats", params: [])
            let tamperedAuth = try AdminClient(baseURL: "", secretKey: adminSecret).authorization(
                url: admin.url, body: signedFor)
            let tampered = try await admin.call(
                "revoke", authorization: tamperedAuth, sentBody: AdminClient.body(method: "revoke", params: ["00"]))
            #expect(tampered.status == 401)
            #expect((tampered.json["error"] as? String)?.contains("tampered payload") == true)

            // NIP-86 on the relay URL itself.
            let rpcBody = AdminClient.body(method: "supportedmethods", params: [])
            let rpcAuth = try AdminClient(baseURL: "", secretKey: adminSecret).authorization(
                url: "http://127.0.0.1:4430", body: rpcBody)
            let rpc = try await client.execute(
                uri: "/", method: .post,
                headers: [.contentType: "application/nostr+json+rpc", .authorization: rpcAuth],
                body: ByteBuffer(bytes: rpcBody)
            ) { r in (r.status, String(buffer: r.body)) }
            #expect(rpc.0 == .ok)
            #expect(rpc.1.contains("banpubkey"))

            // A signature over another URL.
            var elsewhere = admin
            elsewhere.url = "http://evil.example/admin"
            #expect(try await elsewhere.call("stats").status == 401)

            // An edited event (signature no longer matches).
            let json = String(decoding: Data(base64Encoded: String(auth.dropFirst(6)))!, as: UTF8.self)
            let edited = json.replacingOccurrences(of: "\"kind\":27235", with: "\"kind\":27236")
            let forged = try await admin.call(
                "stats", authorization: "Nostr " + Data(edited.utf8).base64EncodedString())
            #expect(forged.status == 401)
        }
        let audit = gw.auditRecords().filter { $0["event"] as? String == "admin" }
        #expect(audit.count >= 8)
        await gw.shutdown()
    }

    @Test(
        "NIP-86 moderation methods change what the relay accepts and announces; peers, queue and control verbs answer")
    func methods() async throws {
        let gw = try await TestGateway.make()
        let banned = [UInt8](repeating: 0x33, count: 32)
        let bannedKey = Schnorr.publicKey(secretKey: banned)!.hex
        let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
        try await peer.connect(gw.address)
        _ = try await peer.register(timestamp: gw.clock.nowMilliseconds())
        try await gw.application().test(.router) { client in
            let admin = AdminCaller(client: client)
            #expect((try await admin.call("supportedmethods").json["result"] as? [String])?.contains("revoke") == true)
            #expect(try await admin.call("banpubkey", [bannedKey, "spam"]).status == 200)
            let list = try await admin.call("listbannedpubkeys")
            #expect((list.json["result"] as? [[String: Any]])?.first?["pubkey"] as? String == bannedKey)
            #expect(try await admin.call("banpubkey", ["nothex"]).status == 400)
            #expect(try await admin.call("changerelayname", ["Renamed relay"]).status == 200)
            #expect(try await admin.call("nosuchmethod").status == 400)

            let peers = try await admin.call("peers")
            let rows = try #require((peers.json["result"] as? [String: Any])?["peers"] as? [[String: Any]])
            #expect(rows.first?["peerKey"] as? String == peer.key.publicKey.hex)
            #expect(rows.first?["registered"] as? Bool == true)
            let queue = try await admin.call("queue")
            #expect((queue.json["result"] as? [String: Any])?["queued"] is [Any])
            #expect(try await admin.call("pause-replication", ["upgrade"]).status == 200)
            #expect(gw.host.replicationPaused == "upgrade")
            #expect(try await admin.call("resume-replication").status == 200)
            #expect(try await admin.call("revoke", [Ed25519KeyPair.generate().publicKey.hex]).status == 404)
            let revoked = try await admin.call("revoke", [peer.key.publicKey.hex, "bye"])
            #expect(revoked.status == 200)
            #expect((revoked.json["result"] as? [String: Any])?["channelsNotified"] as? Int == 1)
        }
        // The ban applies to the write path; the name to NIP-11.
        let event = try NostrEvent.signed(
            secretKey: banned, createdAt: Int64(Date().timeIntervalSince1970), kind: 1, content: "x")
        let decision = ModeratedWritePolicy(base: OpenWritePolicy(), host: gw.host).decide(
            event, context: WriteContext(remoteAddress: "t", authenticatedPubkeys: []))
        #expect(decision == .reject(message: "blocked: this pubkey is banned (spam)"))
        #expect(gw.host.frontend(relay: gw.relay).informationDocument().contains(#""name":"Renamed relay""#))
        // Moderation persists.
        #expect(try gw.host.store.moderation().bannedPubkeys[bannedKey] == "spam")
        await peer.shutdown()
        await gw.shutdown()
    }
}
