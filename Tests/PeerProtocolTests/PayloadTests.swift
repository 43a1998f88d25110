import Foundation
import HyperCrypto
import NostrRelay
import PeerProtocol
import Testing

let keyA = String(repeating: "ab", count: 32)
let keyB = String(repeating: "cd", count: 32)
let keyC = String(repeating: "ef", count: 32)
let nowMs: UInt64 = 1_767_225_600_000

/// Decodes JSON text as `P` and returns the validation error (or nil when it was accepted).
func rejection<P: PeerPayload>(_ type: P.Type, _ json: String) -> PayloadValidationError? {
    do {
        _ = try PayloadCodec.decode(type, from: Data(json.utf8))
        return nil
    } catch let e as PayloadValidationError {
        return e
    } catch {
        Issue.record("unexpected error type \(error)")
        return nil
    }
}

/// Re-encodes `value` as a JSON object, applies `edit`, and returns the text.
func mutate<P: PeerPayload>(_ value: P, _ edit: (inout [String: Any]) -> Void) throws -> String {
    var obj = try JSONSerialization.jsonObject(with: try PayloadCodec.encode(value)) as! [String: Any]
    edit(&obj)
    return String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self)
}

let sampleRequest = RegistrationRequest(
    publicKey: keyA, relays: [RelayRegistration(identifier: "npub1xyz:general", name: "General", relayKey: keyB)],
    address: "203.0.113.5:4430", mode: "hyperbee", timestamp: nowMs, nostrPubkeyHex: keyC)

let sampleResponse = RegistrationResponse(
    hyperbee: RelayAssignment(
        hyperbeeKey: keyA, discoveryKey: keyB, replicationTopic: keyC, websocketUrl: "wss://gw.example.org/relay/x",
        defaultTokenTtl: 3600, tokenRefreshWindowSeconds: 300, tokenQuarantineThreshold: 5,
        dispatcher: DispatcherPolicy()),
    token: IssuedToken(token: "aaa.bbb.ccc", sequence: 1, issuedAt: 1000, expiresAt: 4600, refreshAfter: 4300))

let sampleHeartbeat = PeerHeartbeat(
    peerId: keyA, relayKey: keyB, reportedAt: nowMs, recentReqCount: 12, inFlightJobs: 2, latencyMs: 35.5,
    failureRate: 0.01, queueDepth: 1, hyperbeeLength: 1000, hyperbeeContiguousLength: 900, hyperbeeLag: 4,
    percentSynced: 90, localQueryHits: 10, localQueryMisses: 2)

let sampleAssignment = DispatcherAssignment(
    jobId: "job-7f3a", relayKey: keyA, subscriptionId: "sub1",
    filters: [Filter(authors: [keyB], kinds: [1, 7], tags: ["e": [keyC]], since: 10, until: 20, limit: 50)],
    limit: 500, snapshotLength: 1234, now: 1_700_000_000, resumeAfter: JobCursor(createdAt: 15, id: keyC),
    assignedAt: nowMs, deadlineMs: 5000)

let sampleAck = DispatcherAcknowledgement(
    jobId: "job-7f3a", peerId: keyA, status: .completed, eventsSent: 12, acknowledgedAt: nowMs)

@Suite("Shared payloads: round trips and compatibility")
struct PayloadRoundTripTests {
    @Test("every payload survives encode -> decode unchanged")
    func roundTrips() throws {
        #expect(
            try PayloadCodec.decode(RegistrationRequest.self, from: PayloadCodec.encode(sampleRequest)) == sampleRequest
        )
        #expect(
            try PayloadCodec.decode(RegistrationResponse.self, from: PayloadCodec.encode(sampleResponse))
                == sampleResponse)
        #expect(
            try PayloadCodec.decode(PeerHeartbeat.self, from: PayloadCodec.encode(sampleHeartbeat)) == sampleHeartbeat)
        #expect(
            try PayloadCodec.decode(DispatcherAssignment.self, from: PayloadCodec.encode(sampleAssignment))
                == sampleAssignment)
        #expect(
            try PayloadCodec.decode(DispatcherAcknowledgement.self, from: PayloadCodec.encode(sampleAck)) == sampleAck)
    }

    @Test("field names follow the deployed JS (registration reply, telemetry)")
    func jsNames() throws {
        let reply = try JSONSerialization.jsonObject(with: PayloadCodec.encode(sampleResponse)) as! [String: Any]
        #expect(reply["status"] as? String == "ok")
        let hb = reply["hyperbee"] as! [String: Any]
        for k in [
            "hyperbeeKey", "discoveryKey", "replicationTopic", "defaultTokenTtl", "tokenRefreshWindowSeconds",
            "dispatcher",
        ] {
            #expect(hb[k] != nil, "missing \(k)")
        }
        let tel = try JSONSerialization.jsonObject(with: PayloadCodec.encode(sampleHeartbeat)) as! [String: Any]
        for k in [
            "peerId", "latencyMs", "inFlightJobs", "failureRate", "hyperbeeLag", "hyperbeeContiguousLength",
            "hyperbeeLength", "queueDepth", "reportedAt",
        ] {
            #expect(tel[k] != nil, "missing \(k)")
        }
        // Nostr tag filters travel as "#e".
        let job = try JSONSerialization.jsonObject(with: PayloadCodec.encode(sampleAssignment)) as! [String: Any]
        let filter = (job["filters"] as! [[String: Any]])[0]
        #expect(filter["#e"] as? [String] == [keyC])
    }

    @Test("unknown future fields are ignored")
    func unknownFields() throws {
        let json = try mutate(sampleHeartbeat) {
            $0["someFutureMetric"] = ["nested": [1, 2, 3]]
            $0["zzz"] = "x"
        }
        #expect(try PayloadCodec.decode(PeerHeartbeat.self, from: Data(json.utf8)) == sampleHeartbeat)
        let req = try mutate(sampleRequest) { $0["capabilities"] = ["http", "websocket"] }
        #expect(try PayloadCodec.decode(RegistrationRequest.self, from: Data(req.utf8)) == sampleRequest)
    }
}

@Suite("Shared payloads: validators reject malformed input with a path and a reason")
struct PayloadValidationTests {
    @Test("missing required fields")
    func missing() throws {
        let e1 = rejection(RegistrationRequest.self, try mutate(sampleRequest) { $0["publicKey"] = nil })
        #expect(e1 == PayloadValidationError(path: "publicKey", reason: "required field is missing"))
        let e2 = rejection(
            RegistrationResponse.self,
            try mutate(sampleResponse) { obj in
                var hb = obj["hyperbee"] as! [String: Any]
                var d = hb["dispatcher"] as! [String: Any]
                d["circuitBreakerThreshold"] = nil
                hb["dispatcher"] = d
                obj["hyperbee"] = hb
            })
        #expect(e2?.path == "hyperbee.dispatcher.circuitBreakerThreshold")
        #expect(e2?.reason == "required field is missing")
        let e3 = rejection(PeerHeartbeat.self, try mutate(sampleHeartbeat) { $0["version"] = nil })
        #expect(e3?.path == "version")
        #expect(rejection(DispatcherAcknowledgement.self, "{}") != nil)
    }

    @Test("wrong types")
    func wrongTypes() throws {
        let e1 = rejection(PeerHeartbeat.self, try mutate(sampleHeartbeat) { $0["latencyMs"] = "fast" })
        #expect(e1?.path == "latencyMs")
        #expect(e1?.reason.hasPrefix("wrong type") == true)
        let e2 = rejection(RegistrationRequest.self, try mutate(sampleRequest) { $0["relays"] = "all of them" })
        #expect(e2?.path == "relays")
        let e3 = rejection(
            DispatcherAssignment.self, try mutate(sampleAssignment) { $0["filters"] = [["kinds": ["one"]]] })
        // Filters are the relay's own `Filter`, validated by `Filter.parse` (the engine's wording).
        #expect(
            e3
                == PayloadValidationError(
                    path: "filters[0]", reason: "invalid: kinds must be integers between 0 and 65535"))
        let e4 = rejection(RegistrationRequest.self, try mutate(sampleRequest) { $0["publicKey"] = NSNull() })
        #expect(e4?.path == "publicKey")
        #expect(rejection(PeerHeartbeat.self, "[1,2,3]") != nil)
        #expect(rejection(PeerHeartbeat.self, "not json at all")?.path == "")
    }

    @Test("negative numbers where only non-negative ones make sense")
    func negatives() throws {
        let e1 = rejection(PeerHeartbeat.self, try mutate(sampleHeartbeat) { $0["recentReqCount"] = -1 })
        #expect(e1?.path == "recentReqCount")
        #expect(e1?.reason.contains("-1") == true)
        let nested = rejection(
            DispatcherAssignment.self, try mutate(sampleAssignment) { $0["filters"] = [["kinds": [1], "limit": -5]] })
        #expect(
            nested
                == PayloadValidationError(path: "filters[0]", reason: "invalid: limit must be a non-negative integer"))
        let fraction = rejection(PeerHeartbeat.self, try mutate(sampleHeartbeat) { $0["queueDepth"] = 2.5 })
        #expect(fraction?.path == "queueDepth")
        let kinds = rejection(
            DispatcherAssignment.self, try mutate(sampleAssignment) { $0["filters"] = [["kinds": [-1]]] })
        #expect(
            kinds
                == PayloadValidationError(
                    path: "filters[0]", reason: "invalid: kinds must be integers between 0 and 65535"))
        let e2 = rejection(PeerHeartbeat.self, try mutate(sampleHeartbeat) { $0["latencyMs"] = -3.5 })
        #expect(e2 == PayloadValidationError(path: "latencyMs", reason: "-3.5 out of range 0.0...3600000.0"))
        let e3 = rejection(
            RegistrationResponse.self,
            try mutate(sampleResponse) { obj in
                var hb = obj["hyperbee"] as! [String: Any]
                hb["defaultTokenTtl"] = -3600
                obj["hyperbee"] = hb
            })
        #expect(e3 == PayloadValidationError(path: "hyperbee.defaultTokenTtl", reason: "-3600 out of range 60...86400"))
        let e4 = rejection(DispatcherAssignment.self, try mutate(sampleAssignment) { $0["deadlineMs"] = -1 })
        #expect(e4?.path == "deadlineMs")
    }

    @Test("huge strings and arrays are refused, and oversized documents before parsing")
    func huge() throws {
        let big = String(repeating: "x", count: 10_000)
        let e1 = rejection(RegistrationRequest.self, try mutate(sampleRequest) { $0["address"] = big })
        #expect(e1 == PayloadValidationError(path: "address", reason: "length 10000 bytes out of range 1...256"))
        let e2 = rejection(
            DispatcherAcknowledgement.self,
            try mutate(sampleAck) {
                $0["status"] = "failed"
                $0["reason"] = big
            })
        #expect(e2?.path == "reason")
        let e3 = rejection(
            DispatcherAssignment.self,
            try mutate(sampleAssignment) { $0["subscriptionId"] = String(repeating: "s", count: 65) })
        #expect(e3?.path == "subscriptionId")
        let relays = (0..<65).map { ["identifier": "r\($0)"] }
        let e4 = rejection(RegistrationRequest.self, try mutate(sampleRequest) { $0["relays"] = relays })
        #expect(e4 == PayloadValidationError(path: "relays", reason: "65 entries out of range 1...64"))
        let e5 = rejection(PeerHeartbeat.self, String(repeating: " ", count: PayloadCodec.maxEncodedSize + 1))
        #expect(e5?.reason.contains("exceeds") == true)
    }

    @Test("hex keys are checked for length and alphabet")
    func hexKeys() throws {
        let e1 = rejection(RegistrationRequest.self, try mutate(sampleRequest) { $0["publicKey"] = "abcd" })
        #expect(
            e1
                == PayloadValidationError(
                    path: "publicKey", reason: "must be 64 hex characters (32 bytes), got 4 characters"))
        let e2 = rejection(
            PeerHeartbeat.self, try mutate(sampleHeartbeat) { $0["peerId"] = String(repeating: "zz", count: 32) })
        #expect(e2 == PayloadValidationError(path: "peerId", reason: "must be hexadecimal"))
        let e3 = rejection(
            RegistrationRequest.self,
            try mutate(sampleRequest) { obj in
                obj["relays"] = [["identifier": "ok"], ["identifier": "ok2", "relayKey": "00"]]
            })
        #expect(e3?.path == "relays[1].relayKey")
    }

    @Test("out-of-range and inconsistent values")
    func ranges() throws {
        #expect(
            rejection(PeerHeartbeat.self, try mutate(sampleHeartbeat) { $0["failureRate"] = 1.5 })?.path
                == "failureRate")
        #expect(
            rejection(PeerHeartbeat.self, try mutate(sampleHeartbeat) { $0["percentSynced"] = 101 })?.path
                == "percentSynced")
        #expect(
            rejection(PeerHeartbeat.self, try mutate(sampleHeartbeat) { $0["hyperbeeLag"] = 5000 })?.path
                == "hyperbeeLag")
        #expect(
            rejection(PeerHeartbeat.self, try mutate(sampleHeartbeat) { $0["hyperbeeContiguousLength"] = 1001 })?.path
                == "hyperbeeContiguousLength")
        // Seconds instead of milliseconds.
        #expect(
            rejection(PeerHeartbeat.self, try mutate(sampleHeartbeat) { $0["reportedAt"] = 1_767_225_600 })?.path
                == "reportedAt")
        #expect(rejection(RegistrationRequest.self, try mutate(sampleRequest) { $0["version"] = 0 })?.path == "version")
        #expect(
            rejection(RegistrationRequest.self, try mutate(sampleRequest) { $0["version"] = 2 })?.reason.hasPrefix(
                "unsupported version 2") == true)
        #expect(
            rejection(RegistrationRequest.self, try mutate(sampleRequest) { $0["relays"] = [] as [Any] })?.path
                == "relays")
        #expect(
            rejection(
                RegistrationRequest.self, try mutate(sampleRequest) { $0["relays"] = [["identifier": "bad id!"]] })?
                .path == "relays[0].identifier")
        #expect(
            rejection(RegistrationRequest.self, try mutate(sampleRequest) { $0["address"] = "line\nbreak" })?.reason
                == "must not contain control characters")
        // Refresh window must be shorter than the TTL; token lifetime bounded by the TTL; URLs need ws(s).
        let e1 = rejection(
            RegistrationResponse.self,
            try mutate(sampleResponse) { obj in
                var hb = obj["hyperbee"] as! [String: Any]
                hb["tokenRefreshWindowSeconds"] = 3600
                obj["hyperbee"] = hb
            })
        #expect(e1?.path == "hyperbee.tokenRefreshWindowSeconds")
        let e2 = rejection(
            RegistrationResponse.self,
            try mutate(sampleResponse) { obj in
                var hb = obj["hyperbee"] as! [String: Any]
                hb["websocketUrl"] = "http://gw.example.org"
                obj["hyperbee"] = hb
            })
        #expect(e2?.path == "hyperbee.websocketUrl")
        let e3 = rejection(RegistrationResponse.self, try mutate(sampleResponse) { $0["status"] = "error" })
        #expect(e3?.path == "status")
        let e4 = rejection(
            RegistrationResponse.self,
            try mutate(sampleResponse) { obj in
                var t = obj["token"] as! [String: Any]
                t["token"] = "only.two"
                obj["token"] = t
            })
        #expect(e4?.path == "token.token")
        // Filters: an unknown condition, a bad tag name, upper-case hex, no filter; bad status, failed without reason.
        let f1 = rejection(
            DispatcherAssignment.self, try mutate(sampleAssignment) { $0["filters"] = [["search": "nostr"]] })
        #expect(
            f1
                == PayloadValidationError(
                    path: "filters[0]", reason: #"unsupported: filter contains unknown element "search""#))
        let f2 = rejection(DispatcherAssignment.self, try mutate(sampleAssignment) { $0["filters"] = [["#ee": ["x"]]] })
        #expect(f2?.path == "filters[0]")
        #expect(f2?.reason.hasPrefix("unsupported:") == true)
        let f3 = rejection(
            DispatcherAssignment.self,
            try mutate(sampleAssignment) { $0["filters"] = [["authors": [keyA.uppercased()]]] })
        #expect(
            f3
                == PayloadValidationError(
                    path: "filters[0]", reason: "invalid: authors must be 64-character lowercase hex strings"))
        let f5 = rejection(DispatcherAssignment.self, try mutate(sampleAssignment) { $0["filters"] = [] as [Any] })
        #expect(f5?.path == "filters")
        let f4 = rejection(DispatcherAssignment.self, try mutate(sampleAssignment) { $0["attempt"] = 0 })
        #expect(f4?.path == "attempt")
        let a1 = rejection(DispatcherAcknowledgement.self, try mutate(sampleAck) { $0["status"] = "exploded" })
        #expect(a1?.path == "status")
        let a2 = rejection(DispatcherAcknowledgement.self, try mutate(sampleAck) { $0["status"] = "failed" })
        #expect(a2 == PayloadValidationError(path: "reason", reason: "required when status is failed"))
    }

    @Test("encoding refuses an invalid payload too")
    func encodeValidates() {
        var bad = sampleHeartbeat
        bad.failureRate = .nan
        #expect(throws: PayloadValidationError(path: "failureRate", reason: "must be a finite number")) {
            try PayloadCodec.encode(bad)
        }
    }
}

@Suite("Discovery announcement")
struct DiscoveryAnnouncementTests {
    let unsigned = DiscoveryAnnouncement(
        gatewayId: "", timestamp: nowMs, ttl: 300, publicUrl: "https://gw.example.org", wsUrl: "wss://gw.example.org",
        relayKey: keyA, relayDiscoveryKey: keyB, relayReplicationTopic: keyC, defaultTokenTtl: 3600,
        tokenRefreshWindowSeconds: 300)

    @Test("a signed announcement verifies inside its TTL and round-trips as JSON")
    func signAndVerify() throws {
        let signed = unsigned.signed(by: gatewayKeyPair)
        #expect(signed.gatewayId == gatewayKeyPair.publicKey.hex)
        try signed.verify(nowMilliseconds: nowMs + 1000)
        let decoded = try PayloadCodec.decode(DiscoveryAnnouncement.self, from: PayloadCodec.encode(signed))
        try decoded.verify(nowMilliseconds: nowMs + 1000)
    }

    @Test("the swarm address, dispatcher and token policy are signed and validated")
    func extensions() throws {
        var extended = unsigned
        extended.swarm = SwarmEndpoint(host: "127.0.0.1", port: 4431, swarmPublicKey: keyA)
        extended.dispatcher = DispatcherPolicy()
        extended.tokenQuarantineThreshold = 5
        extended.tokenEnforcement = true
        let signed = extended.signed(by: gatewayKeyPair)
        #expect(signed.signable != unsigned.signed(by: gatewayKeyPair).signable)
        let decoded = try PayloadCodec.decode(DiscoveryAnnouncement.self, from: PayloadCodec.encode(signed))
        try decoded.verify(nowMilliseconds: nowMs + 1000)
        #expect(decoded.swarm?.port == 4431)
        for mutate in [
            { (a: inout DiscoveryAnnouncement) in a.swarm?.port = 4432 },
            { (a: inout DiscoveryAnnouncement) in a.swarm?.swarmPublicKey = keyB },
            { (a: inout DiscoveryAnnouncement) in a.dispatcher?.maxConcurrentJobsPerPeer = 9 },
            { (a: inout DiscoveryAnnouncement) in a.tokenEnforcement = false },
            { (a: inout DiscoveryAnnouncement) in a.swarm = nil },
        ] {
            var t = signed
            mutate(&t)
            #expect(throws: DiscoveryAnnouncement.VerificationError.badSignature) {
                try t.verify(nowMilliseconds: nowMs)
            }
        }
        var bad = signed
        bad.swarm?.port = 0
        #expect(throws: PayloadValidationError(path: "swarm.port", reason: "0 out of range 1...65535")) {
            try PayloadCodec.encode(bad)
        }
    }

    @Test("tampering, expiry and future timestamps are refused")
    func refusals() throws {
        let signed = unsigned.signed(by: gatewayKeyPair)
        var tampered = signed
        tampered.wsUrl = "wss://evil.example.org"
        #expect(throws: DiscoveryAnnouncement.VerificationError.badSignature) {
            try tampered.verify(nowMilliseconds: nowMs)
        }
        var swapped = signed
        swapped.gatewayId = otherKeyPair.publicKey.hex
        #expect(throws: DiscoveryAnnouncement.VerificationError.badSignature) {
            try swapped.verify(nowMilliseconds: nowMs)
        }
        #expect(throws: DiscoveryAnnouncement.VerificationError.expired(expiredAt: nowMs + 300_000)) {
            try signed.verify(nowMilliseconds: nowMs + 300_000)
        }
        #expect(throws: DiscoveryAnnouncement.VerificationError.fromTheFuture(timestamp: nowMs)) {
            try signed.verify(nowMilliseconds: nowMs - 60_000)
        }
        var unsignedCopy = unsigned
        unsignedCopy.gatewayId = gatewayKeyPair.publicKey.hex
        #expect(throws: DiscoveryAnnouncement.VerificationError.badSignature) {
            try unsignedCopy.verify(nowMilliseconds: nowMs)
        }
    }

    @Test("control-frame payloads validate")
    func controlPayloads() throws {
        let notice = TokenRevokedNotice(
            peerKey: keyA, relayKey: keyB, tokenId: String(repeating: "01", count: 16), sequence: 2, reason: "operator")
        #expect(try PayloadCodec.decode(TokenRevokedNotice.self, from: PayloadCodec.encode(notice)) == notice)
        let e = rejection(TokenRevokedNotice.self, try mutate(notice) { $0["sequence"] = 0 })
        #expect(e?.path == "sequence")
        #expect(rejection(ReplicationControlNotice.self, #"{"version":1,"relayKey":"\#(keyA)"}"#)?.path == "reason")
    }
}
