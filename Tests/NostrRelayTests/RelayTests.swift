import Foundation
import HyperCrypto
import Testing

@testable import NostrRelay

@Suite("Relay: EVENT, REQ, CLOSE, COUNT and message wording")
struct RelayMessageTests {
    @Test("a valid EVENT is stored and answered OK true after the commit; a repeat is OK true duplicate:")
    func publishAndDuplicate() async throws {
        let h = Harness { $0.auth = .disabled }
        let (conn, out) = h.connect()
        let e = NostrEvent.make()
        await h.publish(conn, e)
        await h.publish(conn, e)
        let answers = oks(out)
        #expect(answers.count == 2)
        #expect(answers[0] == (e.id, true, ""))
        #expect(answers[1] == (e.id, true, "duplicate: already have this event"))
        #expect(try await h.store.count([Filter()], now: 1_700_000_000) == 1)
    }

    @Test("a bad id or signature is refused with invalid:, malformed frames get a NOTICE")
    func invalidInput() async throws {
        let h = Harness { $0.auth = .disabled }
        let (conn, out) = h.connect()
        let e = NostrEvent.make()
        let forged = e.json.replacingOccurrences(of: "\"hello\"", with: "\"hellO\"")
        await h.send(conn, "[\"EVENT\",\(forged)]")
        var badSig = Array(e.json)
        let sigStart = e.json.range(of: "\"sig\":\"")!.upperBound
        let idx = e.json.distance(from: e.json.startIndex, to: sigStart) + 5
        badSig[idx] = badSig[idx] == "a" ? "b" : "a"
        await h.send(conn, "[\"EVENT\",\(String(badSig))]")
        #expect(oks(out).map(\.message) == ["invalid: event id does not match its content", "invalid: bad signature"])
        #expect(oks(out).allSatisfy { $0.id == e.id && !$0.accepted })

        out.clear()
        for frame in ["not json", "{}", "[]", "[1]", "[\"EVENT\"]", "[\"NOPE\",1]", "[\"EVENT\",{\"id\":\"zz\"}]"] {
            await h.send(conn, frame)
        }
        #expect(out.messages("NOTICE").count == 7)
        #expect(out.frames.allSatisfy { $0.hasPrefix("[\"NOTICE\",\"error: ") })
        // An EVENT whose id is readable but whose fields are not: OK false invalid:.
        out.clear()
        await h.send(conn, "[\"EVENT\",{\"id\":\"\(e.id)\",\"kind\":\"1\"}]")
        #expect(oks(out).first?.message.hasPrefix("invalid:") == true)
        #expect(try await h.store.count([Filter()], now: 1_700_000_000) == 0)
    }

    @Test("REQ sends stored events newest first, then EOSE exactly once, then live events")
    func requestThenLive() async throws {
        let h = Harness { $0.auth = .disabled }
        let (writer, _) = h.connect()
        let (reader, out) = h.connect()
        let old = (0..<3).map { NostrEvent.make(at: 1_700_000_000 - 10 + Int64($0), content: "old \($0)") }
        for e in old { await h.publish(writer, e) }
        await h.send(reader, #"["REQ","s1",{"kinds":[1]}]"#)
        #expect(eventIDs(out, "s1") == old.reversed().map(\.id))
        #expect(out.messages("EOSE").count == 1)
        #expect(out.frames.last == #"["EOSE","s1"]"#)
        let live = NostrEvent.make(content: "live")
        let other = NostrEvent.make(kind: 7, content: "not matching")
        await h.publish(writer, live)
        await h.publish(writer, other)
        #expect(eventIDs(out, "s1") == old.reversed().map(\.id) + [live.id])
        #expect(out.messages("EOSE").count == 1)
    }

    @Test("CLOSE gets no CLOSED (that is for subscriptions the relay ends) and stops live delivery; replacing a subscription id restarts it")
    func closeAndReplace() async throws {
        let h = Harness { $0.auth = .disabled }
        let (conn, out) = h.connect()
        await h.send(conn, #"["REQ","sub",{"kinds":[1]}]"#)
        await h.send(conn, #"["REQ","sub",{"kinds":[7]}]"#)
        #expect(out.messages("EOSE").count == 2)
        await h.publish(conn, NostrEvent.make(kind: 1))
        #expect(eventIDs(out, "sub").isEmpty)
        let framesBeforeClose = out.frames.count
        await h.send(conn, #"["CLOSE","sub"]"#)
        #expect(out.frames.count == framesBeforeClose)
        #expect(out.messages("CLOSED").isEmpty)
        await h.publish(conn, NostrEvent.make(kind: 7))
        #expect(eventIDs(out, "sub").isEmpty)
        #expect(conn.subscriptionIDs.isEmpty)
    }

    @Test("limits: too many filters, too many subscriptions, bad subscription ids, bad filters are CLOSED")
    func requestLimits() async throws {
        let h = Harness {
            $0.auth = .disabled
            $0.maxFilters = 2
            $0.maxSubscriptions = 2
            $0.maxSubscriptionIdLength = 8
        }
        let (conn, out) = h.connect()
        await h.send(conn, #"["REQ","a",{},{},{}]"#)
        #expect(out.frames.last == #"["CLOSED","a","invalid: too many filters (max 2)"]"#)
        await h.send(conn, #"["REQ","a",{}]"#)
        await h.send(conn, #"["REQ","b",{}]"#)
        await h.send(conn, #"["REQ","c",{}]"#)
        #expect(out.frames.last == #"["CLOSED","c","blocked: too many open subscriptions (max 2)"]"#)
        await h.send(conn, #"["REQ","a",{"kinds":[2]}]"#)  // replacing an open id is allowed
        #expect(out.frames.last == #"["EOSE","a"]"#)
        await h.send(conn, #"["REQ","123456789",{}]"#)
        #expect(out.frames.last?.hasPrefix(#"["CLOSED","123456789","invalid: "#) == true)
        await h.send(conn, #"["CLOSE","a"]"#)
        await h.send(conn, #"["REQ","d",{"authors":["abc"]}]"#)
        #expect(out.frames.last?.hasPrefix(#"["CLOSED","d","invalid: authors must be 64"#) == true)
        await h.send(conn, #"["REQ","e",{"ids":["\#(String(repeating: "A", count: 64))"]}]"#)
        #expect(out.frames.last?.hasPrefix(#"["CLOSED","e","invalid:"#) == true)
        await h.send(conn, ##"["REQ","f",{"#long":["x"]}]"##)
        #expect(out.frames.last == ##"["CLOSED","f","unsupported: filter contains unknown element \"#long\""]"##)
        await h.send(conn, #"["REQ","g"]"#)
        #expect(out.frames.last == #"["CLOSED","g","invalid: REQ needs at least one filter"]"#)
    }

    @Test("limit is clamped to maxLimit and defaults to defaultLimit; limit 0 sends only EOSE")
    func limitClamping() async throws {
        let h = Harness {
            $0.auth = .disabled
            $0.maxLimit = 5
            $0.defaultLimit = 3
        }
        let (conn, out) = h.connect()
        for i in 0..<8 { await h.publish(conn, NostrEvent.make(at: 1_700_000_000 - Int64(i), content: "\(i)")) }
        await h.send(conn, #"["REQ","big",{"limit":1000}]"#)
        await h.send(conn, #"["REQ","none",{}]"#)
        await h.send(conn, #"["REQ","zero",{"limit":0}]"#)
        #expect(eventIDs(out, "big").count == 5)
        #expect(eventIDs(out, "none").count == 3)
        #expect(eventIDs(out, "zero").isEmpty)
        #expect(out.messages("EOSE").count == 3)
    }

    @Test("one REQ answer never overflows the outbound buffer: the limit cap is at most half of it")
    func limitFitsOutbound() async throws {
        let h = Harness {
            $0.auth = .disabled
            $0.maxLimit = 100
            $0.defaultLimit = 50
            $0.maxOutboundFrames = 12
        }
        let (writer, _) = h.connect()
        for i in 0..<20 { await h.publish(writer, NostrEvent.make(at: 1_700_000_000 - Int64(i), content: "\(i)")) }
        let (reader, out) = h.connect(capacity: 12)
        await h.send(reader, #"["REQ","s",{"limit":100},{"kinds":[1]}]"#)
        #expect(eventIDs(out, "s").count == 6)
        #expect(out.closed == nil && !reader.isClosed)
        #expect(h.relay.information.limitation.maxLimit == 6)
    }

    @Test("max message size: a larger frame gets a NOTICE and is ignored")
    func messageSize() async throws {
        let h = Harness {
            $0.auth = .disabled
            $0.maxMessageBytes = 300
        }
        let (conn, out) = h.connect()
        let e = NostrEvent.make(content: String(repeating: "x", count: 400))
        await h.publish(conn, e)
        #expect(out.frames == [#"["NOTICE","error: message too large (max 300 bytes)"]"#])
    }

    @Test("content and tag count limits, created_at bounds")
    func eventLimits() async throws {
        let h = Harness {
            $0.auth = .disabled
            $0.maxContentBytes = 10
            $0.maxEventTags = 2
            $0.createdAtLowerLimit = 3_600
            $0.createdAtUpperLimit = 60
        }
        let (conn, out) = h.connect()
        await h.publish(conn, NostrEvent.make(content: String(repeating: "y", count: 11)))
        await h.publish(conn, NostrEvent.make(tags: [["t", "1"], ["t", "2"], ["t", "3"]]))
        await h.publish(conn, NostrEvent.make(at: 1_700_000_000 - 3_601))
        await h.publish(conn, NostrEvent.make(at: 1_700_000_000 + 61))
        await h.publish(conn, NostrEvent.make(at: 1_700_000_000 + 60))
        #expect(
            oks(out).map(\.message) == [
                "invalid: content too long (max 10 bytes)", "invalid: too many tags (max 2)",
                "invalid: created_at is too far in the past", "invalid: created_at is too far in the future", "",
            ])
    }

    @Test("COUNT answers with the number of matching events (NIP-45)")
    func count() async throws {
        let h = Harness { $0.auth = .disabled }
        let (conn, out) = h.connect()
        for i in 0..<4 { await h.publish(conn, NostrEvent.make(key: UInt8(i % 2 + 1), content: "\(i)")) }
        await h.send(conn, "[\"COUNT\",\"c\",{\"authors\":[\"\(Keys.pubkey(1))\"]},{\"kinds\":[99]}]")
        #expect(out.frames.last == #"["COUNT","c",{"count":2}]"#)
        #expect(conn.subscriptionIDs.isEmpty)
    }
}

@Suite("Relay: kinds, deletion and expiration through the wire")
struct RelayKindTests {
    @Test("ephemeral events reach live subscribers, get OK true, and are never stored")
    func ephemeral() async throws {
        let h = Harness { $0.auth = .disabled }
        let (a, outA) = h.connect()
        let (b, outB) = h.connect()
        await h.send(b, #"["REQ","live",{"kinds":[20001]}]"#)
        let e = NostrEvent.make(kind: 20_001, content: "typing...")
        await h.publish(a, e)
        #expect(oks(outA).first! == (e.id, true, ""))
        #expect(eventIDs(outB, "live") == [e.id])
        #expect(try await h.store.count([Filter()], now: 1_700_000_000) == 0)
    }

    @Test("replaceable and addressable replacement through REQ")
    func replacement() async throws {
        let h = Harness { $0.auth = .disabled }
        let (conn, out) = h.connect()
        let p1 = NostrEvent.make(at: 1_699_999_000, kind: 0, content: "{\"name\":\"a\"}")
        let p2 = NostrEvent.make(at: 1_699_999_500, kind: 0, content: "{\"name\":\"b\"}")
        let l1 = NostrEvent.make(at: 1_699_999_000, kind: 30_001, tags: [["d", "list"]], content: "1")
        let l2 = NostrEvent.make(at: 1_699_999_100, kind: 30_001, tags: [["d", "list"]], content: "2")
        for e in [p1, p2, l1, l2] { await h.publish(conn, e) }
        await h.publish(conn, p1)
        #expect(oks(out).last?.accepted == true)
        #expect(oks(out).last?.message.hasPrefix("duplicate:") == true)
        await h.send(conn, #"["REQ","r",{"kinds":[0,30001]}]"#)
        #expect(eventIDs(out, "r") == [p2.id, l2.id])
    }

    @Test("NIP-09 deletion through the relay removes only the author's events")
    func deletion() async throws {
        let h = Harness { $0.auth = .disabled }
        let (conn, out) = h.connect()
        let mine = NostrEvent.make(content: "mine")
        let theirs = NostrEvent.make(key: 2, content: "theirs")
        await h.publish(conn, mine)
        await h.publish(conn, theirs)
        await h.publish(conn, NostrEvent.make(kind: 5, tags: [["e", mine.id], ["e", theirs.id]]))
        await h.send(conn, #"["REQ","q",{"kinds":[1]}]"#)
        #expect(eventIDs(out, "q") == [theirs.id])
        await h.publish(conn, mine)
        #expect(oks(out).last?.message.hasPrefix("blocked:") == true)
    }

    @Test("NIP-40: an already expired event is refused; an expiring one disappears from REQ when due")
    func expiration() async throws {
        let h = Harness { $0.auth = .disabled }
        let (conn, out) = h.connect()
        await h.publish(conn, NostrEvent.make(tags: [["expiration", "1699999999"]]))
        #expect(oks(out).last?.message == "invalid: event has expired")
        let e = NostrEvent.make(tags: [["expiration", "1700000100"]])
        await h.publish(conn, e)
        #expect(oks(out).last?.accepted == true)
        await h.send(conn, #"["REQ","a",{}]"#)
        h.clock.advance(100)
        await h.send(conn, #"["REQ","b",{}]"#)
        #expect(eventIDs(out, "a") == [e.id])
        #expect(eventIDs(out, "b").isEmpty)
        #expect(try await h.relay.purgeExpired() == 1)
        #expect(try await h.relay.purgeExpired() == 0)
    }
}

@Suite("Relay: NIP-42 AUTH, NIP-70, policies, rate limits, slow readers, NIP-11")
struct RelayProtectionTests {
    func authEvent(
        key: UInt8 = 1, challenge: String, relay: String = "wss://relay.example.com", at: Int64 = 1_700_000_000
    )
        -> NostrEvent
    {
        NostrEvent.make(
            key: key, at: at, kind: 22_242, tags: [["relay", relay], ["challenge", challenge]], content: "")
    }

    @Test("the challenge is sent on connect; a correct AUTH is OK true, wrong challenge/relay/time are invalid:")
    func auth() async throws {
        let h = Harness()
        let (conn, out) = h.connect()
        #expect(out.frames == ["[\"AUTH\",\"\(conn.challenge)\"]"])
        await h.send(conn, "[\"AUTH\",\(authEvent(challenge: "wrong").json)]")
        await h.send(conn, "[\"AUTH\",\(authEvent(challenge: conn.challenge, relay: "wss://other.example").json)]")
        await h.send(conn, "[\"AUTH\",\(authEvent(challenge: conn.challenge, at: 1_700_000_000 - 601).json)]")
        #expect(oks(out).map(\.accepted) == [false, false, false])
        #expect(oks(out).allSatisfy { $0.message.hasPrefix("invalid: ") })
        #expect(conn.authenticatedPubkeys.isEmpty)
        let good = authEvent(challenge: conn.challenge, relay: "WSS://Relay.Example.com/")
        await h.send(conn, "[\"AUTH\",\(good.json)]")
        #expect(oks(out).last! == (good.id, true, ""))
        #expect(conn.authenticatedPubkeys == [Keys.pubkey(1)])
        // AUTH events are never accepted through EVENT.
        await h.publish(conn, authEvent(challenge: conn.challenge, at: 1_700_000_001))
        #expect(oks(out).last?.message == "invalid: AUTH events are only accepted in AUTH messages")
    }

    @Test("relay URL matching for AUTH: host and port, case, default ports, loopback aliases; path ignored")
    func relayURLMatching() {
        let yes = [
            ("wss://relay.example.com", "WSS://Relay.Example.com/"),
            ("wss://relay.example.com", "wss://relay.example.com:443/x"),
            ("ws://127.0.0.1:4430", "ws://localhost:4430"), ("ws://[::1]:4430/", "ws://127.0.0.1:4430"),
            ("ws://h:80", "ws://h"),
        ]
        let no = [
            ("wss://relay.example.com", "ws://relay.example.com"), ("ws://127.0.0.1:4430", "ws://127.0.0.1:4431"),
            ("wss://relay.example.com", "wss://relay.example.org"), ("wss://a", "https://a"), ("wss://a", "garbage"),
            ("ws://127.0.0.1:4430", "ws://evil.example:4430"), ("ws://h:80", "ws://h:x"),
        ]
        for (a, b) in yes { #expect(RelayConnection.sameRelay(a, b), "\(a) vs \(b)") }
        for (a, b) in no { #expect(!RelayConnection.sameRelay(a, b), "\(a) vs \(b)") }
    }

    @Test("auth required: REQ and COUNT are CLOSED auth-required:, EVENT is OK false auth-required:")
    func authRequired() async throws {
        let h = Harness { $0.auth = .required }
        let (conn, out) = h.connect()
        await h.send(conn, #"["REQ","s",{}]"#)
        await h.send(conn, #"["COUNT","c",{}]"#)
        let e = NostrEvent.make()
        await h.publish(conn, e)
        #expect(out.messages("CLOSED").map { $0[2].stringValue!.hasPrefix("auth-required: ") } == [true, true])
        #expect(oks(out).last?.message.hasPrefix("auth-required: ") == true)
        await h.send(conn, "[\"AUTH\",\(authEvent(key: 2, challenge: conn.challenge).json)]")
        await h.publish(conn, e)
        await h.send(conn, #"["REQ","s",{}]"#)
        #expect(oks(out).last! == (e.id, true, ""))
        #expect(eventIDs(out, "s") == [e.id])
        #expect(h.relay.information.limitation.authRequired)
    }

    @Test("NIP-70: a protected event is accepted only from its authenticated author")
    func protectedEvents() async throws {
        let h = Harness()
        let (conn, out) = h.connect()
        let e = NostrEvent.make(tags: [["-"]], content: "protected")
        await h.publish(conn, e)
        #expect(oks(out).last?.message.hasPrefix("auth-required: ") == true)
        await h.send(conn, "[\"AUTH\",\(authEvent(key: 2, challenge: conn.challenge).json)]")
        await h.publish(conn, e)
        #expect(oks(out).last?.message.hasPrefix("restricted: ") == true)
        await h.send(conn, "[\"AUTH\",\(authEvent(key: 1, challenge: conn.challenge).json)]")
        await h.publish(conn, e)
        #expect(oks(out).last! == (e.id, true, ""))

        let noAuth = Harness { $0.auth = .disabled }
        let (c2, o2) = noAuth.connect()
        await noAuth.publish(c2, e)
        #expect(oks(o2).last?.message.hasPrefix("blocked: ") == true)
    }

    @Test("write policies: allow-list, and admins plus authenticated peers")
    func policies() async throws {
        let allow = Harness({ $0.auth = .disabled }, policy: AllowListWritePolicy(pubkeys: [Keys.pubkey(1)]))
        let (c1, o1) = allow.connect()
        await allow.publish(c1, NostrEvent.make(key: 1))
        await allow.publish(c1, NostrEvent.make(key: 2))
        #expect(oks(o1).map(\.accepted) == [true, false])
        #expect(oks(o1).last?.message.hasPrefix("blocked: ") == true)
        #expect(allow.relay.information.limitation.restrictedWrites)

        let peers: Set<String> = [Keys.pubkey(3)]
        let gateway = Harness(
            policy: AdminsAndAuthenticatedPeersWritePolicy(admins: [Keys.pubkey(1)], isPeer: { peers.contains($0) }))
        let (c2, o2) = gateway.connect()
        await gateway.publish(c2, NostrEvent.make(key: 1))  // admin: accepted without AUTH
        await gateway.publish(c2, NostrEvent.make(key: 3))  // peer, not authenticated yet
        #expect(oks(o2).map(\.accepted) == [true, false])
        #expect(oks(o2).last?.message.hasPrefix("auth-required: ") == true)
        await gateway.send(c2, "[\"AUTH\",\(authEvent(key: 3, challenge: c2.challenge).json)]")
        await gateway.send(c2, "[\"AUTH\",\(authEvent(key: 4, challenge: c2.challenge).json)]")
        await gateway.publish(c2, NostrEvent.make(key: 3, content: "peer"))
        await gateway.publish(c2, NostrEvent.make(key: 4, content: "authenticated, not a peer"))
        let last = oks(o2).suffix(2)
        #expect(last.map(\.accepted) == [true, false])
        #expect(last.last?.message.hasPrefix("restricted: ") == true)
    }

    @Test("per-IP and per-pubkey token buckets answer rate-limited: and refill over time")
    func rateLimits() async throws {
        let h = Harness {
            $0.auth = .disabled
            $0.eventsPerIP = .init(rate: 1, burst: 3)
            $0.eventsPerPubkey = .init(rate: 1, burst: 2)
        }
        let (a, outA) = h.connect("10.0.0.1")
        let (b, outB) = h.connect("10.0.0.1")
        let (c, outC) = h.connect("10.0.0.2")
        await h.publish(a, NostrEvent.make(key: 1, content: "1"))
        await h.publish(b, NostrEvent.make(key: 2, content: "2"))
        await h.publish(a, NostrEvent.make(key: 3, content: "3"))
        await h.publish(b, NostrEvent.make(key: 4, content: "4"))  // 4th from the same address
        #expect(oks(outA).map(\.accepted) == [true, true])
        #expect(oks(outB).map(\.message) == ["", "rate-limited: slow down, too many events from your address"])
        // Per author, from another address.
        await h.publish(c, NostrEvent.make(key: 1, content: "5"))
        await h.publish(c, NostrEvent.make(key: 1, content: "6"))
        #expect(oks(outC).map(\.message) == ["", "rate-limited: slow down, too many events from this author"])
        h.clock.advance(2)
        await h.publish(b, NostrEvent.make(key: 5, content: "7"))
        #expect(oks(outB).last?.accepted == true)
    }

    @Test("query rate limit closes REQs with rate-limited:")
    func queryRateLimit() async throws {
        let h = Harness {
            $0.auth = .disabled
            $0.queriesPerIP = .init(rate: 1, burst: 2)
        }
        let (conn, out) = h.connect()
        for i in 0..<3 { await h.send(conn, "[\"REQ\",\"s\(i)\",{}]") }
        #expect(out.messages("EOSE").count == 2)
        #expect(out.frames.last == #"["CLOSED","s2","rate-limited: slow down, too many requests from your address"]"#)
    }

    @Test("a slow reader whose outbound buffer is full is dropped with a close frame and forgotten")
    func slowReader() async throws {
        let h = Harness { $0.auth = .disabled }
        let (writer, _) = h.connect()
        let (slow, out) = h.connect(capacity: 3)
        await h.send(slow, #"["REQ","all",{}]"#)  // EOSE: 1 frame
        for i in 0..<5 { await h.publish(writer, NostrEvent.make(content: "\(i)")) }
        #expect(out.frames.count == 3)
        #expect(out.closed?.code == 1008)
        #expect(slow.isClosed && slow.subscriptionIDs.isEmpty)
        #expect(h.relay.connectionCount == 1)
        // Later frames from the dropped connection are ignored.
        await h.send(slow, #"["REQ","again",{}]"#)
        #expect(out.frames.count == 3)
    }

    @Test("disconnect drops subscriptions; shutdown flushes, closes connections and the store")
    func disconnectAndShutdown() async throws {
        let h = Harness { $0.auth = .disabled }
        let (a, _) = h.connect()
        let (b, outB) = h.connect()
        await h.send(a, #"["REQ","x",{}]"#)
        a.disconnected()
        #expect(h.relay.connectionCount == 1)
        let e = NostrEvent.make()
        await b.receive("[\"EVENT\",\(e.json)]")  // not flushed by the test: shutdown must flush it
        try await h.relay.shutdown()
        #expect(oks(outB).first! == (e.id, true, ""))
        #expect(outB.closed?.code == 1001)
        await #expect(throws: EventStoreError.closed) { try await h.store.count([Filter()], now: 0) }
    }

    @Test("group commit: events from many connections are all stored and acknowledged")
    func groupCommit() async throws {
        let h = Harness { $0.auth = .disabled }
        let conns = (0..<8).map { _ in h.connect() }
        await withTaskGroup(of: Void.self) { group in
            for (i, (conn, _)) in conns.enumerated() {
                group.addTask {
                    for j in 0..<25 {
                        await conn.receive("[\"EVENT\",\(NostrEvent.make(key: UInt8(i + 1), content: "\(j)").json)]")
                    }
                }
            }
        }
        await h.relay.flush()
        let all = conns.flatMap { oks($0.1) }
        #expect(all.count == 200 && all.allSatisfy(\.accepted))
        #expect(try await h.store.count([Filter()], now: 0) == 200)
    }

    @Test("NIP-11 document publishes identity, NIPs and every limit")
    func information() throws {
        let h = Harness {
            $0.name = "test relay"
            $0.pubkey = Keys.pubkey(1)
            $0.maxSubscriptions = 7
            $0.eventsPerIP = .init(rate: 5, burst: 50)
        }
        let doc = try JSONReader.parse(h.relay.informationJSON).objectValue!
        #expect(doc["name"] == .string("test relay"))
        #expect(doc["pubkey"] == .string(Keys.pubkey(1)))
        #expect(doc["supported_nips"] == .array([1, 9, 11, 40, 42, 45, 70].map { .integer($0) }))
        let lim = try #require(doc["limitation"]?.objectValue)
        #expect(lim["max_subscriptions"] == .integer(7))
        #expect(lim["max_message_length"] == .integer(131_072))
        #expect(lim["events_per_second_per_ip"] == .integer(5) || lim["events_per_second_per_ip"] == .double(5))
        #expect(lim["auth_required"] == .bool(false))
        #expect(RelayInformation.corsHeaders.count == 3)
        #expect(RelayConfiguration().validationErrors().isEmpty)
        var bad = RelayConfiguration()
        bad.defaultLimit = 10_000
        bad.pubkey = "xyz"
        #expect(bad.validationErrors().count == 2)
    }
}
