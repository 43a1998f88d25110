import Foundation
import NostrRelay
import Testing

@testable import NostrRelayServer

@Suite("JSONL import and export")
struct EventTransferTests {
    let secret = [UInt8](repeating: 7, count: 32)

    func event(_ kind: Int, _ content: String, at: Int64) throws -> NostrEvent {
        try NostrEvent.signed(secretKey: secret, createdAt: at, kind: kind, content: content)
    }

    @Test("import verifies every line, stores valid events in batches, and export writes them back")
    func roundTrip() async throws {
        let a = try event(1, "a", at: 1_700_000_000)
        let b = try event(1, "b\nline", at: 1_700_000_001)
        let ephemeral = try event(20001, "e", at: 1_700_000_002)
        let tampered = a.json.replacingOccurrences(of: #""content":"a""#, with: #""content":"x""#)
        let lines = [a.json, "", b.json, a.json, ephemeral.json, tampered, "{not json", b.json]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("gwio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.jsonl").path
        try lines.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)

        let store = InMemoryEventStore()
        var reported: [EventTransfer.ImportProgress] = []
        let totals = try await EventTransfer.importJSONL(path: input, into: store, batchSize: 2) { reported.append($0) }
        #expect(totals.lines == 8)
        #expect(totals.stored == 2)
        #expect(totals.rejected == 2)
        #expect(totals.reasons == ["duplicate": 2])
        #expect(totals.invalid == 2)
        #expect(totals.skippedEphemeral == 1)
        // Progress is throttled (at most four reports a second) but always ends with the final totals.
        #expect(!reported.isEmpty)
        #expect(reported.last == totals)

        let output = dir.appendingPathComponent("out.jsonl").path
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: output))
        let written = try await EventTransfer.exportJSONL(from: store, to: handle)
        try handle.close()
        #expect(written == 2)
        let exported = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(exported == [a.json, b.json])
    }

    @Test("a missing input file is a clear error")
    func missingFile() async {
        await #expect(throws: EventTransfer.TransferError.self) {
            _ = try await EventTransfer.importJSONL(path: "/nonexistent/file.jsonl", into: InMemoryEventStore())
        }
    }
}
