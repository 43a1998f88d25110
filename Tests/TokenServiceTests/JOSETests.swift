import Foundation
import HyperCrypto
import Testing
import TokenService

/// RFC 8037 Appendix A: the Ed25519 key (A.1), its thumbprint (A.3) and the signed example (A.4).
enum RFC8037 {
    static let d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    static let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    static let thumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    static let header = #"{"alg":"EdDSA"}"#
    static let payload = "Example of Ed25519 signing"
    static let jws =
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
        + "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
}

@Suite("EdDSA JWS against RFC 8037 Appendix A")
struct RFC8037Tests {
    @Test("the private key d derives the public key x (A.1)")
    func keyDerivation() throws {
        let seed = try #require(Base64URL.decode(RFC8037.d))
        let kp = try Ed25519KeyPair(seed: seed)
        #expect(Base64URL.encode(kp.publicKey) == RFC8037.x)
        #expect(kp.publicKey.hex == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    }

    @Test("the JWK thumbprint matches (A.3)")
    func thumbprint() throws {
        let x = try #require(Base64URL.decode(RFC8037.x))
        #expect(EdDSAKey.thumbprint(x) == RFC8037.thumbprint)
        #expect(EdDSAKey.publicJWK(x) == #"{"crv":"Ed25519","kty":"OKP","x":"\#(RFC8037.x)"}"#)
    }

    @Test("signing the example reproduces the published JWS byte for byte (A.4)")
    func sign() throws {
        let kp = try Ed25519KeyPair(seed: try #require(Base64URL.decode(RFC8037.d)))
        let jws = EdDSAJWS.sign(
            protectedHeader: Array(RFC8037.header.utf8), payload: Array(RFC8037.payload.utf8), keyPair: kp)
        #expect(jws == RFC8037.jws)
    }

    @Test("the published JWS verifies (A.5) and a one-bit change does not")
    func verify() throws {
        let x = try #require(Base64URL.decode(RFC8037.x))
        let v = try EdDSAJWS.verify(RFC8037.jws, publicKey: x)
        #expect(String(decoding: v.payload, as: UTF8.self) == RFC8037.payload)
        #expect(String(decoding: v.header, as: UTF8.self) == RFC8037.header)
        var chars = Array(RFC8037.jws)
        chars[chars.count - 5] = chars[chars.count - 5] == "A" ? "B" : "A"
        #expect(throws: TokenError.badSignature) { try EdDSAJWS.verify(String(chars), publicKey: x) }
        // Payload swapped, signature kept.
        let swapped =
            "eyJhbGciOiJFZERTQSJ9.\(Base64URL.encode(Array("Example of Ed25519 signinG".utf8))).\(RFC8037.jws.split(separator: ".")[2])"
        #expect(throws: TokenError.badSignature) { try EdDSAJWS.verify(swapped, publicKey: x) }
    }

    @Test("the public key exports as SPKI PEM readable by openssl and JWT tools")
    func pem() throws {
        let x = try #require(Base64URL.decode(RFC8037.x))
        #expect(
            EdDSAKey.publicPEM(x)
                == "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n-----END PUBLIC KEY-----\n"
        )
    }
}

@Suite("base64url")
struct Base64URLTests {
    @Test("encodes without padding and decodes back, for every length 0...64")
    func roundTrip() {
        for n in 0...64 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let s = Base64URL.encode(bytes)
            #expect(!s.contains("=") && !s.contains("+") && !s.contains("/"))
            #expect(Base64URL.decode(s) == bytes)
            #expect(
                s
                    == Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                    .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: ""))
        }
    }

    @Test("decoding is strict")
    func strict() {
        #expect(Base64URL.decode("QQ==") == nil)  // padding
        #expect(Base64URL.decode("Q+E") == nil)  // standard alphabet
        #expect(Base64URL.decode("Q") == nil)  // impossible length
        #expect(Base64URL.decode("QR") == nil)  // non-zero trailing bits
        #expect(Base64URL.decode("QQ") == [0x41])
        #expect(Base64URL.decode("Q Q") == nil)
    }
}
