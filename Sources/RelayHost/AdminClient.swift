import Foundation
import HyperCrypto
import NostrRelay

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The admin API's client (`hypertuna-gateway admin <verb>`): signs each call with NIP-98 using the admin's Nostr
/// secret key and renders the answer as a table or JSON.
public struct AdminClient: Sendable {
    /// Base URL of the gateway (`http://127.0.0.1:4430`).
    public let baseURL: String
    let secretKey: [UInt8]

    public init(baseURL: String, secretKey: [UInt8]) {
        self.baseURL = baseURL.trimmingSuffix("/")
        self.secretKey = secretKey
    }

    /// Problems with the admin key file.
    public enum KeyFileError: Error, CustomStringConvertible {
        case unreadable(String, String)
        case tooOpen(String, Int)
        case malformed(String)

        public var description: String {
            switch self {
            case .unreadable(let p, let e): return "cannot read admin key file \(p): \(e)"
            case .tooOpen(let p, let m):
                return "admin key file \(p) has permissions \(String(m, radix: 8)); run: chmod 600 \(p)"
            case .malformed(let p): return "admin key file \(p) must hold the 64-hex Nostr secret key of an admin"
            }
        }
    }

    /// Reads a 64-hex secp256k1 secret key from a file that only its owner can read (mode 0600 or stricter).
    public static func loadKey(path: String) throws -> [UInt8] {
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
            throw KeyFileError.unreadable(path, "\(error.localizedDescription)")
        }
        if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
            throw KeyFileError.tooOpen(path, mode)
        }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw KeyFileError.unreadable(path, "\(error.localizedDescription)")
        }
        let hex = text.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard hex.utf8.count == 64, let key = [UInt8](hex: hex), Schnorr.publicKey(secretKey: key) != nil else {
            throw KeyFileError.malformed(path)
        }
        return key
    }

    /// The public key (hex) of the admin key.
    public var publicKey: String { Schnorr.publicKey(secretKey: secretKey)?.hex ?? "" }

    /// The NIP-98 `Authorization` header value for a POST of `body` to `url`. A random `nonce` tag makes every
    /// event unique, so two identical calls in one second are not mistaken for a replay.
    public func authorization(url: String, body: [UInt8], createdAt: Int64 = Int64(Date().timeIntervalSince1970))
        throws -> String
    {
        let event = try NostrEvent.signed(
            secretKey: secretKey, createdAt: createdAt, kind: 27235,
            tags: [
                ["u", url], ["method", "POST"], ["payload", SHA256.hash(body).hex], ["nonce", randomBytes(8).hex],
            ],
            content: "")
        return "Nostr " + Data(event.json.utf8).base64EncodedString()
    }

    /// The JSON body of a call.
    public static func body(method: String, params: [String]) -> [UInt8] {
        let object: [String: Any] = ["method": method, "params": params]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data())
    }

    /// Calls `method` with `params` at `<baseURL>/admin`; returns the HTTP status and the body.
    public func call(method: String, params: [String], timeout: TimeInterval = 30) async throws -> (Int, Data) {
        let url = baseURL + "/admin"
        guard let u = URL(string: url) else { throw KeyFileError.malformed(url) }
        let body = Self.body(method: method, params: params)
        var request = URLRequest(url: u, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.httpBody = Data(body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(try authorization(url: url, body: body), forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// The `result` of a successful answer as JSON text (what `--json` prints), or nil for an error answer.
    public static func resultJSON(_ body: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            object["error"] is NSNull
                || object["error"] == nil, let result = object["result"]
        else { return nil }
        let data =
            (try? JSONSerialization.data(
                withJSONObject: result, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: rendering

    /// A readable rendering of an answer (tables for `peers`, `queue` and the lists; key: value lines otherwise).
    public static func render(method: String, status: Int, body: Data) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return "HTTP \(status): \(String(decoding: body, as: UTF8.self))"
        }
        if let error = object["error"] as? String { return "HTTP \(status): \(error)" }
        let result = object["result"]
        switch (method, result) {
        case ("peers", let list as [String: Any]):
            return table(
                (list["peers"] as? [[String: Any]]) ?? [],
                columns: [
                    ("peerKey", "peer", 16), ("registered", "registered", 0), ("connected", "connected", 0),
                    ("via", "via", 0), ("tokenSequence", "token seq", 0), ("tokenExpiresAt", "expires", 0),
                    ("failedRefreshes", "failed refreshes", 0), ("quarantined", "quarantined", 0),
                    ("revokedUntil", "revoked until", 0),
                ])
        case ("queue", let q as [String: Any]):
            var out =
                "queued: \((q["queued"] as? [Any])?.count ?? 0), in flight: \((q["inFlight"] as? [Any])?.count ?? 0)\n"
            out += table(
                (q["peers"] as? [[String: Any]]) ?? [],
                columns: [
                    ("id", "peer", 16), ("inFlight", "in flight", 0), ("maxConcurrent", "max", 0),
                    ("eligible", "eligible", 0), ("score", "score", 0), ("circuit", "circuit", 0),
                    ("replicaLagBlocks", "lag", 0), ("completed", "completed", 0), ("failed", "failed", 0),
                ])
            return out
        case ("listbannedpubkeys", let rows as [[String: Any]]), ("listallowedpubkeys", let rows as [[String: Any]]):
            return table(rows, columns: [("pubkey", "pubkey", 0), ("reason", "reason", 0)])
        case ("listbannedevents", let rows as [[String: Any]]):
            return table(rows, columns: [("id", "event", 0), ("reason", "reason", 0)])
        case (_, let dict as [String: Any]):
            return dict.keys.sorted().map { k in "\(k): \(scalar(dict[k]!))" }.joined(separator: "\n")
        case (_, let array as [Any]):
            return array.map { scalar($0) }.joined(separator: "\n")
        default:
            return scalar(result ?? NSNull())
        }
    }

    static func scalar(_ v: Any) -> String {
        switch v {
        case is NSNull: return "-"
        case let s as String: return s
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" { return n.boolValue ? "yes" : "no" }
            return n.stringValue
        default:
            let data = (try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }

    static func table(_ rows: [[String: Any]], columns: [(key: String, title: String, width: Int)]) -> String {
        guard !rows.isEmpty else { return "(none)" }
        let cells = rows.map { row in
            columns.map { c -> String in
                let s = row[c.key].map(scalar) ?? "-"
                return c.width > 0 && s.count > c.width ? String(s.prefix(c.width)) : s
            }
        }
        let widths = columns.indices.map { i in max(columns[i].title.count, cells.map { $0[i].count }.max() ?? 0) }
        func line(_ items: [String]) -> String {
            items.indices.map { items[$0].padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(columns.map(\.title))] + cells.map(line)).joined(separator: "\n")
    }
}
