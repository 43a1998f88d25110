import Foundation
import Testing

@testable import HyperLog

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Path of the `HyperLogCrashChild` helper built beside the test bundle, or nil.
func crashChildPath() -> String? {
    var candidates: [String] = []
    let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var dir = testBinary.deletingLastPathComponent()
    for _ in 0..<4 {
        candidates.append(dir.appendingPathComponent("HyperLogCrashChild").path)
        dir = dir.deletingLastPathComponent()
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/HyperLogCrashChild").path)
    candidates.append(root.appendingPathComponent(".build/release/HyperLogCrashChild").path)
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

@Suite("Crash safety")
struct CrashTests {
    @Test(
        "SIGKILL during a stream of appends loses nothing append had returned; the log reopens and verifies",
        .enabled(if: crashChildPath() != nil, "HyperLogCrashChild not built: run `swift build` first"),
        .timeLimit(.minutes(2)))
    func killDuringAppends() throws {
        let child = try #require(crashChildPath())
        let dir = temporaryDirectory("crash")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var confirmed: UInt64 = 0
        for round in 0..<4 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: child)
            process.arguments = [dir]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            // Read acknowledgements until enough appends returned (bounded in count and time), then kill -9.
            let handle = out.fileHandleForReading
            var buffer = ""
            var acks = 0
            let deadline = Date().addingTimeInterval(30)
            let wanted = 20 + round * 15
            while acks < wanted && Date() < deadline {
                let data = handle.availableData
                if data.isEmpty { break }
                buffer += String(decoding: data, as: UTF8.self)
                acks = buffer.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count
            }
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "child exited early: \(buffer.suffix(200))")
            // Everything the child printed before dying was returned by append.
            buffer += String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            let lines = buffer.split(separator: "\n").filter { $0.hasPrefix("ok ") && !$0.dropFirst(3).isEmpty }
            let lengths = lines.compactMap { UInt64($0.dropFirst(3)) }
            #expect(!lengths.isEmpty, "child produced no acknowledgements (round \(round))")
            confirmed = max(confirmed, lengths.max() ?? 0)

            let store = try LMDBLogStore(path: dir)
            let log = try HyperLog.open(try store.open(name: "crash"))
            #expect(log.length >= confirmed, "round \(round): log has \(log.length), child confirmed \(confirmed)")
            #expect(try log.verify() == log.length)
            for i in UInt64(0)..<log.length {
                #expect(try log.get(i) == Array("crash-\(i)".utf8))
            }
            confirmed = log.length
            store.close()
        }
        #expect(confirmed > 50)
    }
}
