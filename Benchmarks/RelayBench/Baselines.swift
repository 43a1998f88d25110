import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The relays RelayBench compares the gateway with, measured in the same run.
enum Baseline: String, CaseIterable {
    /// strfry 1.1.1 (C++ on LMDB), from `../shared/strfry` (or `--strfry-dir`).
    case strfry
    /// nostr-sdk 0.45.1's in-memory LocalRelay (needs `--python` with nostr_sdk).
    case nostrSDK = "nostr-sdk"

    var label: String {
        switch self {
        case .strfry: return "strfry"
        case .nostrSDK: return "nostr-sdk LocalRelay"
        }
    }

    /// Parses `--baseline`: a comma-separated list, `none`, or empty for the default (strfry when its folder is
    /// there, then nostr-sdk when a Python is given).
    static func parse(_ text: String, strfryDir: String?, python: String) throws -> [Baseline] {
        if text == "none" { return [] }
        if text.isEmpty {
            var out: [Baseline] = []
            if strfryDir != nil { out.append(.strfry) }
            if !python.isEmpty { out.append(.nostrSDK) }
            return out
        }
        return try text.split(separator: ",").map { part in
            guard let b = Baseline(rawValue: String(part)) else {
                throw BenchError("--baseline: unknown relay \"\(part)\" (strfry, nostr-sdk, none)")
            }
            if b == .strfry && strfryDir == nil {
                throw BenchError("--baseline strfry: no strfry folder (give --strfry-dir; expected ../shared/strfry)")
            }
            if b == .nostrSDK && python.isEmpty { throw BenchError("--baseline nostr-sdk needs --python") }
            return b
        }
    }
}

/// strfry's folder: `--strfry-dir`, else `../shared/strfry` from the working directory, if it holds the binary.
enum StrfryFolder {
    static func locate(_ explicit: String) -> String? {
        let candidates = explicit.isEmpty ? ["../shared/strfry", "../../shared/strfry"] : [explicit]
        for c in candidates where FileManager.default.isExecutableFile(atPath: c + "/strfry") {
            return (c as NSString).standardizingPath
        }
        return nil
    }

    /// Writes a strfry config for `port` with its LMDB under `directory` (from the folder's bench template).
    static func writeConfig(folder: String, directory: String, port: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: directory + "/db", withIntermediateDirectories: true)
        let template = try String(contentsOfFile: folder + "/strfry-bench.conf", encoding: .utf8)
        let text = template.replacingOccurrences(of: "@DB@", with: directory + "/db/")
            .replacingOccurrences(of: "@PORT@", with: "\(port)")
        let path = directory + "/strfry.conf"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// Resident-set figures of a process, from the kernel.
enum Memory {
    /// Peak resident set (`VmHWM`) of a running process, in MiB; nil when unreadable.
    static func peakRSSMiB(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kib = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap {
                Double($0)
            }
            return kib.map { $0 / 1024 }
        }
        return nil
    }
}

/// One finished command: exit status, wall time, peak resident set (from `wait4`).
struct MeasuredRun {
    let status: Int32
    let seconds: Double
    let peakRSSMiB: Double
}

extension Processes {
    /// Runs `executable` to completion with standard input from `stdin` (if given) and output appended to `log`.
    static func runMeasured(_ executable: String, _ arguments: [String], stdin: String?, log: String) throws
        -> MeasuredRun
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdin { posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let started = DispatchTime.now().uptimeNanoseconds
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw BenchError("cannot start \(executable): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return MeasuredRun(status: exit, seconds: seconds, peakRSSMiB: Double(usage.ru_maxrss) / 1024)
    }
}
