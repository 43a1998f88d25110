import Foundation
import Logging
import Synchronization

/// The gateway's audit trail: one JSON object per line in its own file (`GATEWAY_AUDIT_LOG_PATH`).
///
/// Every record has `ts` (ISO 8601, UTC, milliseconds), `event` and the event's fields. Events:
/// `registration` (`peer`, `via` swarm|http, `result` accepted|refused, `reason`), `token.issue`, `token.refresh`,
/// `token.refresh-refused`, `token.revoke`, `token.quarantine`, `replication.failure`, `replication.pause`,
/// `replication.resume`, `publish` (`id`, `result` accepted|refused, `reason`, `remote`), `admin` (`method`,
/// `admin`, `result`).
///
/// Writes are appended with `O_APPEND` from one serial queue, so lines never interleave; the file is created 0600.
public final class AuditLog: Sendable {
    /// One field value.
    public enum Value: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
        case string(String)
        case int(Int64)
        case bool(Bool)

        public init(stringLiteral value: String) { self = .string(value) }
        public init(integerLiteral value: Int64) { self = .int(value) }
    }

    /// Where records go: a file, or nowhere (`disabled`).
    public let path: String?
    private let queue = DispatchQueue(label: "hypertuna.audit")
    private let handle: FileHandleBox?
    private let logger: Logger

    /// Opens (creating, 0600) the audit file at `path`; nil disables auditing.
    public init(path: String?, logger: Logger = Logger(label: "hypertuna.audit")) throws {
        self.path = path
        self.logger = logger
        guard let path else {
            handle = nil
            return
        }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw AuditLogError(path: path, reason: String(cString: strerror(errno)))
        }
        handle = FileHandleBox(fd: fd)
    }

    /// A disabled log.
    public static var disabled: AuditLog {
        // A nil path opens nothing and cannot fail.
        try! AuditLog(path: nil)
    }

    /// Lines waiting for the writer, and whether a write is scheduled.
    private let pending = Mutex<(lines: [UInt8], scheduled: Bool)>(([], false))

    /// Appends one record. Never blocks the caller: lines are buffered and written by one serial writer, a burst
    /// of records in one `write`. A write failure is logged.
    public func record(_ event: String, _ fields: [String: Value]) {
        guard handle != nil else { return }
        let line = Self.line(event: event, fields: fields, at: Date())
        let schedule = pending.withLock { p -> Bool in
            p.lines += line
            if p.scheduled { return false }
            p.scheduled = true
            return true
        }
        if schedule { queue.async { [self] in drain() } }
    }

    private func drain() {
        guard let handle else { return }
        let bytes = pending.withLock { p -> [UInt8] in
            defer {
                p.lines = []
                p.scheduled = false
            }
            return p.lines
        }
        let ok = bytes.withUnsafeBufferPointer { buf in
            var offset = 0
            while offset < buf.count {
                let n = write(handle.fd, buf.baseAddress! + offset, buf.count - offset)
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
        if !ok { logger.error("audit log write failed", metadata: ["error": "\(String(cString: strerror(errno)))"]) }
    }

    /// Waits until every record handed to `record` so far is written.
    public func flush() {
        queue.sync { drain() }
    }

    /// The JSON line of a record (sorted keys, `ts` and `event` first).
    static func line(event: String, fields: [String: Value], at date: Date) -> [UInt8] {
        var out = "{\"ts\":\(quote(timestamp(date))),\"event\":\(quote(event))"
        for key in fields.keys.sorted() where key != "ts" && key != "event" {
            out += ",\(quote(key)):"
            switch fields[key]! {
            case .string(let s): out += quote(s)
            case .int(let i): out += String(i)
            case .bool(let b): out += b ? "true" : "false"
            }
        }
        out += "}\n"
        return Array(out.utf8)
    }

    static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: date)
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || u.value == 0x7f {
                    out += String(format: "\\u%04x", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// The audit file could not be opened.
public struct AuditLogError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot open the audit log \(path): \(reason)" }
}

/// Owns the audit file descriptor (closed on deinit). Immutable after init.
final class FileHandleBox: Sendable {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}
