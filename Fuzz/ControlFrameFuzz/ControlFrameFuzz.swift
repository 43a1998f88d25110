// Fuzz target for the control-frame decoder and the payload validators it feeds.
//
// Built by scripts/fuzz-control-frames.sh with `--sanitize=fuzzer --sanitize=address -Xswiftc -DFUZZING`: libFuzzer
// then provides `main` and calls `LLVMFuzzerTestOneInput`. Without `FUZZING` (plain `swift build`) the executable
// replays the files or directories given as arguments through the same checks, so crashes found by the fuzzer can
// be reproduced in a normal debug build.
import Foundation
import HyperCrypto
import PeerProtocol
import NostrRelay

/// Exercises decoding, the canonical round trip, the receiver guard and the payload validators on one input.
func exercise(_ bytes: [UInt8]) {
    guard let frame = try? ControlFrame.decode(bytes) else {
        // Arbitrary bytes must also be safe as a JSON payload.
        _ = try? PayloadCodec.decode(TokenRevokedNotice.self, from: bytes)
        _ = try? PayloadCodec.decode(DispatcherAssignment.self, from: bytes)
        return
    }
    // The encoding is canonical: whatever decodes must re-encode to the very same bytes.
    precondition(frame.encoded() == bytes, "control frame decode/encode round trip is not canonical")
    let guardian = ControlFrameGuard(
        trustedGatewayKeys: [frame.gatewayKey], store: InMemoryControlFrameSequenceStore())
    if let accepted = try? guardian.accept(bytes) {
        // Only a genuine signature gets here; a second delivery must be refused as a replay.
        precondition(accepted.hasValidSignature, "guard accepted a frame whose signature does not verify")
        precondition((try? guardian.accept(bytes)) == nil, "guard accepted the same frame twice")
    }
    switch ControlFrameType(rawValue: frame.type) {
    case .tokenRevoked: _ = try? PayloadCodec.decode(TokenRevokedNotice.self, from: frame.payload)
    case .reassign: _ = try? PayloadCodec.decode(DispatcherAssignment.self, from: frame.payload)
    case .pauseReplication, .resumeReplication:
        _ = try? PayloadCodec.decode(ReplicationControlNotice.self, from: frame.payload)
    case nil: break
    }
}

#if FUZZING
    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        guard let data else { return 0 }
        exercise(Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
#else
    @main
    struct ControlFrameReplay {
        static func main() {
            let args = Array(CommandLine.arguments.dropFirst())
            if args.count == 2 && args[0] == "--write-seeds" {
                writeSeeds(to: args[1])
                return
            }
            let paths = args
            if paths.isEmpty {
                print("usage: ControlFrameFuzz <file-or-directory>... | --write-seeds <dir>")
                print(
                    "(replays inputs through the fuzz checks; fuzzing itself needs -DFUZZING, see scripts/fuzz-control-frames.sh)"
                )
                return
            }
            var count = 0
            for path in paths {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    print("skipping missing \(path)")
                    continue
                }
                let files =
                    isDirectory.boolValue
                    ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map {
                        "\(path)/\($0)"
                    }
                    : [path]
                for file in files {
                    guard let data = FileManager.default.contents(atPath: file) else { continue }
                    exercise(Array(data))
                    count += 1
                }
            }
            print("replayed \(count) inputs without a failure")
        }

        /// Writes valid signed frames of every known type (a starting corpus for libFuzzer).
        static func writeSeeds(to directory: String) {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let key = try! Ed25519KeyPair(seed: [UInt8](repeating: 7, count: 32))
            let k = [UInt8](repeating: 0xab, count: 32).hex
            let revoked = TokenRevokedNotice(
                peerKey: k, relayKey: k, tokenId: [UInt8](repeating: 1, count: 16).hex, sequence: 3, reason: "operator")
            let assignment = DispatcherAssignment(
                jobId: "job-1", relayKey: k, subscriptionId: "sub", filters: [Filter(kinds: [1], limit: 10)], limit: 500,
                snapshotLength: 100, now: 1_767_225_600, assignedAt: 1_767_225_600_000, deadlineMs: 5000, attempt: 2)
            let pause = ReplicationControlNotice(relayKey: k, reason: "maintenance")
            let payloads: [(String, [UInt8])] = [
                ("token-revoked", Array(try! PayloadCodec.encode(revoked))),
                ("reassign", Array(try! PayloadCodec.encode(assignment))),
                ("pause-replication", Array(try! PayloadCodec.encode(pause))),
                ("x", []),
            ]
            for (i, (type, body)) in payloads.enumerated() {
                let frame = try! ControlFrame.sign(
                    type: type, payload: body, sequence: UInt64(i + 1), timestamp: 1_767_225_600_000, keyPair: key)
                _ = FileManager.default.createFile(atPath: "\(directory)/seed-\(i)", contents: Data(frame.encoded()))
            }
            print("wrote \(payloads.count) seed frames to \(directory)")
        }
    }
#endif
