import Foundation
import HyperCrypto
import PeerProtocol
import Testing
import TokenService

@Suite("Token lifecycle")
struct TokenLifecycleTests {
    @Test("issue: a per-peer EdDSA JWT carrying peer, relay, scope, iat, exp and sequence")
    func issue() throws {
        let h = Harness()
        let t = try h.service.issue(peer: h.peer, relay: h.relay)
        let now = h.clock.nowSeconds()
        #expect(t.sequence == 1 && t.issuedAt == now && t.expiresAt == now + 3600 && t.refreshAfter == now + 3300)
        let parts = t.token.split(separator: ".")
        #expect(parts.count == 3)
        let header =
            try JSONSerialization.jsonObject(with: Data(try #require(Base64URL.decode(parts[0])))) as! [String: Any]
        #expect(header["alg"] as? String == "EdDSA")
        #expect(header["typ"] as? String == "JWT")
        #expect(header["kid"] as? String == EdDSAKey.thumbprint(h.gateway.publicKey))
        let claims = try h.service.verify(t.token, peer: h.peer, relay: h.relay)
        #expect(claims.iss == h.gateway.publicKey.hex)
        #expect(claims.sub == h.peer.hex)
        #expect(claims.relay == h.relay.hex)
        #expect(claims.scope == "relay-access")
        #expect(claims.iat == now && claims.exp == now + 3600 && claims.seq == 1)
        #expect(claims.jti.count == 32)
        // Any peer can check it with the gateway public key alone.
        let stateless = TokenVerifier(gatewayKey: h.gateway.publicKey)
        #expect(try stateless.verify(t.token, peer: h.peer, relay: h.relay, nowSeconds: now) == claims)
        // Fits the registration reply payload.
        #expect(throws: Never.self) { try t.validate(at: "token") }
    }

    @Test("tokens are per peer: two peers on one relay get independent tokens and sequences")
    func perPeer() throws {
        let h = Harness()
        let a1 = try h.service.issue(peer: h.peer, relay: h.relay)
        let b1 = try h.service.issue(peer: h.otherPeer, relay: h.relay)
        let a2 = try h.service.issue(peer: h.peer, relay: h.relay)
        #expect(a1.sequence == 1 && b1.sequence == 1 && a2.sequence == 2)
        #expect(try h.service.verify(b1.token, peer: h.otherPeer, relay: h.relay).seq == 1)
        #expect(
            tokenError { try h.service.verify(a1.token, peer: h.peer, relay: h.relay) }
                == .staleSequence(presented: 1, current: 2))
        #expect(try h.service.verify(a2.token, peer: h.peer, relay: h.relay).seq == 2)
        #expect(try h.store.registration(peerKey: h.peer.hex)?.relayKeys == [h.relay.hex])
    }

    @Test("refresh outside the window is refused, inside it returns a new token with the next sequence")
    func refreshWindow() throws {
        let h = Harness()
        let t1 = try h.service.issue(peer: h.peer, relay: h.relay)
        h.clock.advance(seconds: 3600 - 300 - 1)
        #expect(
            tokenError { try h.service.refresh(t1.token, peer: h.peer, relay: h.relay) }
                == .refreshTooEarly(opensAt: t1.expiresAt - 300, now: t1.expiresAt - 301))
        h.clock.advance(seconds: 1)
        let t2 = try h.service.refresh(t1.token, peer: h.peer, relay: h.relay)
        #expect(t2.sequence == 2)
        #expect(t2.expiresAt == h.clock.nowSeconds() + 3600)
        #expect(try h.service.verify(t2.token, peer: h.peer, relay: h.relay).seq == 2)
        // The old token is superseded, even though it has not expired yet.
        #expect(
            tokenError { try h.service.verify(t1.token, peer: h.peer, relay: h.relay) }
                == .staleSequence(presented: 1, current: 2))
        // And cannot be refreshed a second time (a racing duplicate refresh loses).
        #expect(
            tokenError { try h.service.refresh(t1.token, peer: h.peer, relay: h.relay) }
                == .staleSequence(presented: 1, current: 2))
        #expect(h.counter(TokenAudit.refreshCounter) == 1)
    }

    @Test("expiry: a token stops verifying at exp and cannot be refreshed afterwards")
    func expiry() throws {
        let h = Harness()
        let t = try h.service.issue(peer: h.peer, relay: h.relay)
        h.clock.advance(seconds: 3599)
        #expect(throws: Never.self) { try h.service.verify(t.token, peer: h.peer, relay: h.relay) }
        h.clock.advance(seconds: 1)
        #expect(
            tokenError { try h.service.verify(t.token, peer: h.peer, relay: h.relay) }
                == .expired(expiredAt: t.expiresAt, now: t.expiresAt))
        #expect(
            tokenError { try h.service.refresh(t.token, peer: h.peer, relay: h.relay) }
                == .expired(expiredAt: t.expiresAt, now: t.expiresAt))
        // Re-registration issues a fresh token with the next sequence.
        #expect(try h.service.issue(peer: h.peer, relay: h.relay).sequence == 2)
    }

    @Test("revocation: verify and refresh fail, and a signed token-revoked frame is produced")
    func revoke() throws {
        let h = Harness()
        let t = try h.service.issue(peer: h.peer, relay: h.relay)
        let frame = try h.service.revoke(peer: h.peer, relay: h.relay, reason: "operator request")
        let claims = try TokenVerifier(gatewayKey: h.gateway.publicKey).decodeVerified(t.token)
        #expect(
            tokenError { try h.service.verify(t.token, peer: h.peer, relay: h.relay) } == .revoked(tokenId: claims.jti))
        h.clock.advance(seconds: 3400)
        #expect(
            tokenError { try h.service.refresh(t.token, peer: h.peer, relay: h.relay) } == .revoked(tokenId: claims.jti)
        )
        // The peer side accepts the frame once and decodes its payload.
        let guardian = ControlFrameGuard(
            trustedGatewayKeys: [h.gateway.publicKey], store: InMemoryControlFrameSequenceStore())
        let accepted = try guardian.accept(frame.encoded())
        #expect(accepted.type == "token-revoked" && accepted.sequence == 1)
        let notice = try PayloadCodec.decode(TokenRevokedNotice.self, from: accepted.payload)
        #expect(
            notice
                == TokenRevokedNotice(
                    peerKey: h.peer.hex, relayKey: h.relay.hex, tokenId: claims.jti, sequence: 1,
                    reason: "operator request"))
        #expect(throws: ControlFrameRejection.replayed(sequence: 1, highestSeen: 1)) {
            try guardian.accept(frame.encoded())
        }
        // Frame sequences keep increasing across frame types.
        let pause = try h.service.signControlFrame(
            .pauseReplication, payload: ReplicationControlNotice(relayKey: h.relay.hex, reason: "maintenance"))
        #expect(try guardian.accept(pause.encoded()).sequence == 2)
        #expect(h.counter(TokenAudit.revocationsCounter) == 1)
        #expect(tokenError { try h.service.revoke(peer: h.otherPeer, relay: h.relay, reason: "x") } == .unknownToken)
        // Hostile or sloppy operator text never breaks the frame: control characters replaced, length capped.
        _ = try h.service.issue(peer: h.otherPeer, relay: h.relay)
        let messy = try h.service.revoke(
            peer: h.otherPeer, relay: h.relay, reason: "line\nbreak " + String(repeating: "é", count: 300))
        let messyNotice = try PayloadCodec.decode(
            TokenRevokedNotice.self, from: try guardian.accept(messy.encoded()).payload)
        #expect(messyNotice.reason.hasPrefix("line break é"))
        #expect(messyNotice.reason.utf8.count <= 256)
    }

    @Test("wrong relay, wrong peer, unknown token are distinct errors")
    func wrongContext() throws {
        let h = Harness()
        let t = try h.service.issue(peer: h.peer, relay: h.relay)
        #expect(
            tokenError { try h.service.verify(t.token, peer: h.peer, relay: h.otherRelay) }
                == .wrongRelay(expected: h.otherRelay.hex, actual: h.relay.hex))
        #expect(
            tokenError { try h.service.verify(t.token, peer: h.otherPeer, relay: h.relay) }
                == .wrongPeer(expected: h.otherPeer.hex, actual: h.peer.hex))
        // A validly signed token the store never issued (e.g. sequence ahead of the store).
        let claims = try TokenVerifier(gatewayKey: h.gateway.publicKey).decodeVerified(t.token)
        let now = h.clock.nowSeconds()
        let ahead = craft(
            header: #"{"alg":"EdDSA","typ":"JWT"}"#,
            claims:
                #"{"iss":"\#(h.gateway.publicKey.hex)","sub":"\#(h.peer.hex)","relay":"\#(h.relay.hex)","scope":"relay-access","iat":\#(now),"exp":\#(now + 60),"seq":9,"jti":"\#(claims.jti)"}"#,
            keyPair: h.gateway)
        #expect(tokenError { try h.service.verify(ahead, peer: h.peer, relay: h.relay) } == .unknownToken)
        #expect(
            tokenError { try h.service.verify(t.token, peer: [1, 2, 3], relay: h.relay) }
                == .invalidKey("peer key must be 32 bytes, got 3"))
    }

    @Test("strict verification: alg must be EdDSA, signature must verify, claims must be well formed")
    func strictness() throws {
        let h = Harness()
        _ = try h.service.issue(peer: h.peer, relay: h.relay)
        let now = h.clock.nowSeconds()
        let state = try #require(try h.service.state(peer: h.peer, relay: h.relay))
        let claims =
            #"{"iss":"\#(h.gateway.publicKey.hex)","sub":"\#(h.peer.hex)","relay":"\#(h.relay.hex)","scope":"relay-access","iat":\#(now),"exp":\#(now + 3600),"seq":1,"jti":"\#(state.tokenId)"}"#
        // Sanity: the same claims with a proper header verify.
        #expect(throws: Never.self) {
            try h.service.verify(
                craft(header: #"{"alg":"EdDSA"}"#, claims: claims, keyPair: h.gateway), peer: h.peer, relay: h.relay)
        }
        // alg none with an empty signature, HS256, and a missing alg.
        let none = Base64URL.encode(Array(#"{"alg":"none"}"#.utf8)) + "." + Base64URL.encode(Array(claims.utf8)) + "."
        #expect(
            tokenError { try h.service.verify(none, peer: h.peer, relay: h.relay) } == .unsupportedAlgorithm("none"))
        #expect(
            tokenError {
                try h.service.verify(
                    craft(header: #"{"alg":"HS256"}"#, claims: claims, keyPair: h.gateway), peer: h.peer, relay: h.relay
                )
            }
                == .unsupportedAlgorithm("HS256"))
        #expect(
            tokenError {
                try h.service.verify(
                    craft(header: #"{"typ":"JWT"}"#, claims: claims, keyPair: h.gateway), peer: h.peer, relay: h.relay)
            }
                == .malformed("header has no string alg"))
        #expect(
            tokenError {
                try h.service.verify(
                    craft(header: #"{"alg":"EdDSA","crit":["exp"]}"#, claims: claims, keyPair: h.gateway), peer: h.peer,
                    relay: h.relay)
            }
                == .malformed("header carries crit extensions, none are supported"))
        // Signed by another key (forged), or claiming another issuer.
        let intruder = try Ed25519KeyPair(seed: [UInt8](repeating: 0x99, count: 32))
        #expect(
            tokenError {
                try h.service.verify(
                    craft(header: #"{"alg":"EdDSA"}"#, claims: claims, keyPair: intruder), peer: h.peer, relay: h.relay)
            } == .badSignature)
        let otherIssuer = claims.replacingOccurrences(of: h.gateway.publicKey.hex, with: intruder.publicKey.hex)
        #expect(
            tokenError {
                try h.service.verify(
                    craft(header: #"{"alg":"EdDSA"}"#, claims: otherIssuer, keyPair: h.gateway), peer: h.peer,
                    relay: h.relay)
            }
                == .wrongIssuer(intruder.publicKey.hex))
        // Not a JWS at all, bad base64url, oversize, bad claims.
        #expect(
            tokenError { try h.service.verify("abc", peer: h.peer, relay: h.relay) }
                == .malformed("expected 3 dot-separated parts, got 1"))
        #expect(
            tokenError { try h.service.verify("a=.b.c", peer: h.peer, relay: h.relay) }
                == .malformed("header is not base64url"))
        #expect(
            tokenError { try h.service.verify(String(repeating: "a", count: 5000), peer: h.peer, relay: h.relay) }
                == .malformed("token of 5000 bytes exceeds 4096"))
        let badClaims = claims.replacingOccurrences(of: #""seq":1"#, with: #""seq":-1"#)
        #expect(
            tokenError {
                try h.service.verify(
                    craft(header: #"{"alg":"EdDSA"}"#, claims: badClaims, keyPair: h.gateway), peer: h.peer,
                    relay: h.relay)
            }
                == .malformed("claims are not a valid token claim set"))
        let shortJti = claims.replacingOccurrences(of: state.tokenId, with: "abcd")
        #expect(
            tokenError {
                try h.service.verify(
                    craft(header: #"{"alg":"EdDSA"}"#, claims: shortJti, keyPair: h.gateway), peer: h.peer,
                    relay: h.relay)
            }
                == .malformed("claim jti: must be 32 hex characters (16 bytes), got 4 characters"))
        // Issued in the future beyond the allowed skew.
        let future = claims.replacingOccurrences(of: #""iat":\#(now)"#, with: #""iat":\#(now + 31)"#)
        #expect(
            tokenError {
                try h.service.verify(
                    craft(header: #"{"alg":"EdDSA"}"#, claims: future, keyPair: h.gateway), peer: h.peer, relay: h.relay
                )
            }
                == .notYetValid(issuedAt: now + 31, now: now))
    }

    @Test("quarantine after N consecutive failed refreshes; success resets the count; an operator lifts it")
    func quarantine() throws {
        let h = Harness(policy: try TokenPolicy(quarantineThreshold: 3))
        let t1 = try h.service.issue(peer: h.peer, relay: h.relay)
        // Two early refreshes fail, then a good one resets the counter.
        #expect(
            tokenError { try h.service.refresh(t1.token, peer: h.peer, relay: h.relay) }?.reason == "refresh_too_early")
        #expect(
            tokenError { try h.service.refresh(t1.token, peer: h.peer, relay: h.relay) }?.reason == "refresh_too_early")
        #expect(try h.service.state(peer: h.peer, relay: h.relay)?.consecutiveFailedRefreshes == 2)
        h.clock.advance(seconds: 3300)
        let t2 = try h.service.refresh(t1.token, peer: h.peer, relay: h.relay)
        #expect(try h.service.state(peer: h.peer, relay: h.relay)?.consecutiveFailedRefreshes == 0)
        // Three consecutive failures (stale token replayed) quarantine the peer.
        for _ in 0..<3 {
            #expect(
                tokenError { try h.service.refresh(t1.token, peer: h.peer, relay: h.relay) }?.reason == "stale_sequence"
            )
        }
        let state = try #require(try h.service.state(peer: h.peer, relay: h.relay))
        #expect(state.quarantinedAt == h.clock.nowSeconds())
        #expect(
            tokenError { try h.service.verify(t2.token, peer: h.peer, relay: h.relay) }
                == .quarantined(peer: h.peer.hex))
        #expect(
            tokenError { try h.service.refresh(t2.token, peer: h.peer, relay: h.relay) }
                == .quarantined(peer: h.peer.hex))
        #expect(tokenError { try h.service.issue(peer: h.peer, relay: h.relay) } == .quarantined(peer: h.peer.hex))
        #expect(h.counter(TokenAudit.quarantinesCounter) == 1)
        #expect(h.logs.events("token.quarantine").count == 1)
        // Other peers are unaffected.
        #expect(try h.service.issue(peer: h.otherPeer, relay: h.relay).sequence == 1)
        try h.service.liftQuarantine(peer: h.peer, relay: h.relay)
        let t3 = try h.service.issue(peer: h.peer, relay: h.relay)
        #expect(t3.sequence == 3)
        #expect(try h.service.verify(t3.token, peer: h.peer, relay: h.relay).seq == 3)
    }

    @Test("revocations are kept until the revoked token would have expired (plus skew), then purged")
    func revocationRetention() throws {
        let h = Harness()
        let t = try h.service.issue(peer: h.peer, relay: h.relay)
        _ = try h.service.revoke(peer: h.peer, relay: h.relay, reason: "compromised")
        // The earlier deployment forgot revocations after 300 s; ours survive purges until expiry.
        h.clock.advance(seconds: 301)
        #expect(try h.service.purgeExpiredRevocations() == 0)
        #expect(tokenError { try h.service.verify(t.token, peer: h.peer, relay: h.relay) }?.reason == "revoked")
        h.clock.advance(seconds: 3600 - 301 - 1)
        #expect(try h.service.purgeExpiredRevocations() == 0)
        #expect(tokenError { try h.service.verify(t.token, peer: h.peer, relay: h.relay) }?.reason == "revoked")
        h.clock.advance(seconds: 1 + 30 + 1)
        #expect(try h.service.purgeExpiredRevocations() == 1)
        // Once purged the token is still dead: it is expired.
        #expect(tokenError { try h.service.verify(t.token, peer: h.peer, relay: h.relay) }?.reason == "expired")
    }
}

@Suite("Concurrency")
struct TokenConcurrencyTests {
    @Test("of 8 concurrent refreshes with the same token exactly one succeeds; the rest see a stale sequence")
    func racingRefreshes() throws {
        // High threshold: with the default (5) the losers of the race would also quarantine the peer.
        let h = Harness(policy: try TokenPolicy(quarantineThreshold: 100))
        let t = try h.service.issue(peer: h.peer, relay: h.relay)
        h.clock.advance(seconds: 3400)
        let results = ResultBox()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            results.add(tokenError { try h.service.refresh(t.token, peer: h.peer, relay: h.relay) }?.reason ?? "ok")
        }
        #expect(results.all.filter { $0 == "ok" }.count == 1)
        #expect(results.all.filter { $0 == "stale_sequence" }.count == 7)
        #expect(try h.service.state(peer: h.peer, relay: h.relay)?.sequence == 2)
    }
}

final class ResultBox: @unchecked Sendable {
    // Invariant: `values` only touched under `lock`.
    private let lock = NSLock()
    private var values: [String] = []
    func add(_ v: String) { lock.withLock { values.append(v) } }
    var all: [String] { lock.withLock { values } }
}
