import Foundation
import PeerProtocol
import PeerWire
import Testing

@testable import RelayHost

@Suite("RelayHost: feature flags", .timeLimit(.minutes(1)))
struct FlagTests {
    @Test("the dispatcher flag is announced in the channel handshake and /health, on and off")
    func dispatcherFlag() async throws {
        for on in [true, false] {
            let gw = try await TestGateway.make(flags: FeatureFlags(hyperbeeRelay: true, relayDispatcher: on))
            let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
            let channel = try await peer.connect(gw.address)
            #expect(channel.remoteHandshake?.dispatcherEnabled == on)
            #expect(channel.remoteHandshake?.hyperbeeRelayEnabled == true)
            #expect(gw.host.dispatcherEnabled == on)
            let health = gw.host.healthFragment()
            #expect(health.contains(#""GATEWAY_FEATURE_RELAY_DISPATCHER":"\#(on ? "on" : "off"):"#))
            await peer.shutdown()
            await gw.shutdown()
        }
    }

    @Test("enforcement on: a peer whose token expired without a refresh loses its channel; off: it keeps it")
    func expiredTokenSweep() async throws {
        for on in [true, false] {
            let gw = try await TestGateway.make(flags: FeatureFlags(hyperbeeRelay: true, tokenEnforcement: on))
            let peer = TestPeer(gatewayKey: gw.gatewayKey.publicKey)
            let channel = try await peer.connect(gw.address)
            #expect(try await peer.register(timestamp: gw.clock.nowMilliseconds()).statusCode == 200)
            gw.clock.advance(seconds: 3601)
            gw.host.sweepExpiredTokens()
            if on {
                #expect(await eventually { channel.isClosed })
                #expect(await eventually { gw.host.livePeers.isEmpty })
                #expect(gw.auditRecords().contains { $0["event"] as? String == "token.expired" })
            } else {
                try await Task.sleep(for: .milliseconds(200))
                #expect(!channel.isClosed)
                #expect(gw.host.livePeers.count == 1)
            }
            await peer.shutdown()
            await gw.shutdown()
        }
    }
}
