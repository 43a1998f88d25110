import CSecp256k1
import Foundation
import HyperCrypto
import NostrRelay

/// Single-core BIP-340 verification rate of libsecp256k1 (x-only key parse + schnorrsig_verify per event, as the
/// relay does): the physical limit of single-core ingest.
enum VerifyRate {
    static func measure(_ events: [NostrEvent], seconds: Double = 2.0) -> Double {
        let ctx = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_NONE))!
        defer { secp256k1_context_destroy(ctx) }
        let prepared = events.prefix(5000).map { e in
            ([UInt8](hex: e.sig)!, [UInt8](hex: e.id)!, [UInt8](hex: e.pubkey)!)
        }
        var verified = 0
        var failures = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        while elapsed < seconds {
            for (sig, msg, pub) in prepared {
                var xonly = secp256k1_xonly_pubkey()
                if secp256k1_xonly_pubkey_parse(ctx, &xonly, pub) != 1 { failures += 1 }
                if secp256k1_schnorrsig_verify(ctx, sig, msg, 32, &xonly) != 1 { failures += 1 }
            }
            verified += prepared.count
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        precondition(failures == 0, "dataset signatures must verify")
        return Double(verified) / elapsed
    }
}
