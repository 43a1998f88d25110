import CompactEncoding
import Foundation
import PeerProtocol

/// Message ids of `hypertuna-relay-v2`. 0-5 are the deployed JavaScript ones; 6-10 are new.
public enum PeerWireMessageID: UInt64, CaseIterable, Sendable, CustomStringConvertible {
    case request = 0
    case response = 1
    case wsFrame = 2
    case health = 3
    case healthResponse = 4
    case telemetry = 5
    case control = 6
    case job = 7
    case jobResults = 8
    case jobAck = 9
    case jobStop = 10

    public var description: String {
        switch self {
        case .request: return "request"
        case .response: return "response"
        case .wsFrame: return "wsframe"
        case .health: return "health"
        case .healthResponse: return "health-response"
        case .telemetry: return "telemetry"
        case .control: return "control"
        case .job: return "job"
        case .jobResults: return "job-results"
        case .jobAck: return "job-ack"
        case .jobStop: return "job-stop"
        }
    }
}

/// Message 0: an HTTP-like request. `id` is chosen by the sender and unique among its pending requests.
public struct PeerWireRequest: Sendable, Equatable {
    public var id: UInt64
    /// `GET`, `POST`, `PUT`, `DELETE`, ... (upper case, at most 16 characters).
    public var method: String
    /// Absolute path with optional query (`/gateway/register`), at most 2048 bytes.
    public var path: String
    /// Lower-case header names.
    public var headers: [String: String]
    public var body: [UInt8]?

    public init(id: UInt64, method: String, path: String, headers: [String: String] = [:], body: [UInt8]? = nil) {
        self.id = id
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// The path without its query string.
    public var route: String { String(path.split(separator: "?", maxSplits: 1).first ?? "") }
}

/// Message 1: the answer to request `id` of the other side.
public struct PeerWireResponse: Sendable, Equatable {
    public var id: UInt64
    public var statusCode: Int
    public var headers: [String: String]
    public var body: [UInt8]?

    public init(id: UInt64 = 0, statusCode: Int, headers: [String: String] = [:], body: [UInt8]? = nil) {
        self.id = id
        self.statusCode = statusCode
        self.headers = headers
        self.body = body
    }

    /// A JSON answer (sorted keys).
    public static func json<T: Encodable>(_ value: T, status: Int = 200) -> PeerWireResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(value)).map { Array($0) } ?? Array("{}".utf8)
        return PeerWireResponse(statusCode: status, headers: ["content-type": "application/json"], body: body)
    }

    /// `{"error": message}` (plus `reason` when given) with `status`.
    public static func error(_ status: Int, _ message: String, reason: String? = nil) -> PeerWireResponse {
        json(PeerWireErrorBody(error: message, reason: reason), status: status)
    }

    /// True for 2xx.
    public var isSuccess: Bool { (200..<300).contains(statusCode) }

    /// Decodes and validates the body as a PeerProtocol payload.
    public func payload<P: PeerPayload>(_ type: P.Type) throws -> P {
        try PayloadCodec.decode(type, from: body ?? [])
    }

    /// The `{"error":...,"reason":...}` body of a failed answer, when it has one.
    public var errorBody: PeerWireErrorBody? {
        guard let body else { return nil }
        return try? JSONDecoder().decode(PeerWireErrorBody.self, from: Data(body))
    }
}

/// Body of an error answer.
public struct PeerWireErrorBody: Codable, Sendable, Equatable {
    /// Human-readable message.
    public var error: String
    /// Machine-readable reason (a `TokenError.reason` for token routes).
    public var reason: String?

    public init(error: String, reason: String? = nil) {
        self.error = error
        self.reason = reason
    }
}

/// Message 4: a worker's health answer. `status` is `ok` when healthy; `info` holds extra string fields.
public struct PeerWireHealth: Codable, Sendable, Equatable {
    public var id: UInt64
    public var status: String
    public var info: [String: String]?

    public init(id: UInt64 = 0, status: String, info: [String: String]? = nil) {
        self.id = id
        self.status = status
        self.info = info
    }
}

/// One message of the channel, typed where the channel owns the type; job and websocket-frame payloads stay raw
/// JSON bytes that the gateway and the worker decode with their PeerProtocol types.
public enum PeerWireMessage: Sendable, Equatable {
    case request(PeerWireRequest)
    case response(PeerWireResponse)
    /// Raw JSON of a peer-hosted relay websocket frame (`{"connectionKey":...,"relay":...,"data"|"close":...}`).
    case wsFrame([UInt8])
    case health(id: UInt64)
    case healthResponse(PeerWireHealth)
    /// A worker's load report.
    case telemetry(PeerHeartbeat)
    /// A signed control frame, parsed but not yet checked: the receiver runs it through its `ControlFrameGuard`.
    case control(ControlFrame)
    /// Raw JSON of a `JobAssignment`.
    case job([UInt8])
    /// Raw JSON `{"jobId","attempt","events":[...]}`.
    case jobResults([UInt8])
    /// Raw JSON of a `DispatcherAcknowledgement` plus `attempt`.
    case jobAck([UInt8])
    /// Raw JSON `{"jobId","attempt","reason"}`.
    case jobStop([UInt8])

    /// The message id on the wire.
    public var id: PeerWireMessageID {
        switch self {
        case .request: return .request
        case .response: return .response
        case .wsFrame: return .wsFrame
        case .health: return .health
        case .healthResponse: return .healthResponse
        case .telemetry: return .telemetry
        case .control: return .control
        case .job: return .job
        case .jobResults: return .jobResults
        case .jobAck: return .jobAck
        case .jobStop: return .jobStop
        }
    }
}

/// The codecs of every message: compact-encoding `json` (a length-prefixed UTF-8 JSON string) for all ids but 6,
/// compact-encoding `buffer` (the `ControlFrame` wire bytes) for id 6.
public enum PeerWireCodec {
    /// Header names and values are bounded; so is their count.
    static let maxHeaders = 64
    static let maxHeaderBytes = 8192

    /// The payload bytes of `message`.
    public static func encode(_ message: PeerWireMessage) throws -> [UInt8] {
        switch message {
        case .request(let r):
            return json(
                RequestEnvelope(
                    id: r.id, method: r.method, path: r.path, headers: r.headers.isEmpty ? nil : r.headers,
                    body: r.body.map { Data($0).base64EncodedString() }))
        case .response(let r):
            return json(
                ResponseEnvelope(
                    id: r.id, statusCode: r.statusCode, headers: r.headers.isEmpty ? nil : r.headers,
                    body: r.body.map { .base64(Data($0).base64EncodedString()) }))
        case .health(let id):
            return json(HealthEnvelope(id: id))
        case .healthResponse(let h):
            return json(h)
        case .telemetry(let hb):
            return jsonString(Array(try PayloadCodec.encode(hb)))
        case .control(let frame):
            var w = CompactWriter(capacity: frame.payload.count + 200)
            w.buffer(frame.encoded())
            return w.bytes
        case .wsFrame(let raw), .job(let raw), .jobResults(let raw), .jobAck(let raw), .jobStop(let raw):
            return jsonString(raw)
        }
    }

    /// Decodes the payload of message `id`. Unknown ids are `malformed` (the caller ignores them).
    public static func decode(id raw: UInt64, payload: [UInt8]) throws(PeerWireError) -> PeerWireMessage {
        guard let id = PeerWireMessageID(rawValue: raw) else {
            throw .malformed(messageID: raw, reason: "unknown message id")
        }
        do {
            switch id {
            case .control:
                var r = CompactReader(payload)
                let bytes = try r.buffer()
                guard r.isAtEnd else { throw PeerWireError.malformed(messageID: raw, reason: "trailing bytes") }
                return .control(try ControlFrame.decode(bytes))
            default:
                break
            }
            let text = try jsonText(payload)
            switch id {
            case .request:
                let e = try JSONDecoder().decode(RequestEnvelope.self, from: text)
                try checkRequest(e)
                return .request(
                    PeerWireRequest(
                        id: e.id, method: e.method, path: e.path, headers: e.headers ?? [:],
                        body: try e.body.map { try base64(raw, $0) }))
            case .response:
                let e = try JSONDecoder().decode(ResponseEnvelope.self, from: text)
                guard (100...599).contains(e.statusCode) else {
                    throw PeerWireError.malformed(messageID: raw, reason: "status code \(e.statusCode) out of range")
                }
                try checkHeaders(e.headers, id: raw)
                return .response(
                    PeerWireResponse(
                        id: e.id, statusCode: e.statusCode, headers: e.headers ?? [:],
                        body: try e.body.map { try $0.bytes(raw) }))
            case .health:
                return .health(id: try JSONDecoder().decode(HealthEnvelope.self, from: text).id)
            case .healthResponse:
                return .healthResponse(try JSONDecoder().decode(PeerWireHealth.self, from: text))
            case .telemetry:
                return .telemetry(try PayloadCodec.decode(PeerHeartbeat.self, from: text))
            case .wsFrame: return .wsFrame(Array(text))
            case .job: return .job(Array(text))
            case .jobResults: return .jobResults(Array(text))
            case .jobAck: return .jobAck(Array(text))
            case .jobStop: return .jobStop(Array(text))
            case .control: fatalError("handled above")
            }
        } catch let e as PeerWireError {
            throw e
        } catch let e as PayloadValidationError {
            throw .malformed(messageID: raw, reason: e.description)
        } catch {
            throw .malformed(messageID: raw, reason: "\(error)")
        }
    }

    // MARK: envelopes

    struct RequestEnvelope: Codable {
        var id: UInt64
        var method: String
        var path: String
        var headers: [String: String]?
        var body: String?
    }

    /// A response body: base64 text (ours), or the `{"type":"Buffer","data":[...]}` object a JavaScript peer's
    /// `c.json` produces for a Buffer.
    enum Body: Codable {
        case base64(String)
        case buffer([UInt8])

        struct NodeBuffer: Codable {
            var type: String
            var data: [UInt8]
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) {
                self = .base64(s)
            } else {
                self = .buffer(try c.decode(NodeBuffer.self).data)
            }
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .base64(let s): try c.encode(s)
            case .buffer(let b): try c.encode(NodeBuffer(type: "Buffer", data: b))
            }
        }

        func bytes(_ id: UInt64) throws -> [UInt8] {
            switch self {
            case .base64(let s): return try PeerWireCodec.base64(id, s)
            case .buffer(let b): return b
            }
        }
    }

    struct ResponseEnvelope: Codable {
        var id: UInt64
        var statusCode: Int
        var headers: [String: String]?
        var body: Body?
    }

    struct HealthEnvelope: Codable {
        var id: UInt64
    }

    // MARK: helpers

    static func base64(_ id: UInt64, _ s: String) throws -> [UInt8] {
        guard let d = Data(base64Encoded: s) else {
            throw PeerWireError.malformed(messageID: id, reason: "body is not base64")
        }
        return Array(d)
    }

    static func checkRequest(_ e: RequestEnvelope) throws {
        let m = e.method.utf8
        guard (1...16).contains(m.count), m.allSatisfy({ $0 >= 0x41 && $0 <= 0x5a }) else {
            throw PeerWireError.malformed(messageID: 0, reason: "method must be 1-16 upper-case letters")
        }
        guard e.path.hasPrefix("/"), e.path.utf8.count <= 2048,
            !e.path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f })
        else {
            throw PeerWireError.malformed(messageID: 0, reason: "path must be absolute, at most 2048 bytes")
        }
        try checkHeaders(e.headers, id: 0)
    }

    static func checkHeaders(_ h: [String: String]?, id: UInt64) throws {
        guard let h else { return }
        guard h.count <= maxHeaders else {
            throw PeerWireError.malformed(messageID: id, reason: "more than \(maxHeaders) headers")
        }
        let bytes = h.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        guard bytes <= maxHeaderBytes else {
            throw PeerWireError.malformed(messageID: id, reason: "headers exceed \(maxHeaderBytes) bytes")
        }
    }

    static func json<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Envelopes are strings, integers and string maps: encoding cannot fail.
        return jsonString(Array(try! encoder.encode(value)))
    }

    /// compact-encoding `json`: the JSON text as a length-prefixed UTF-8 string.
    static func jsonString(_ utf8: [UInt8]) -> [UInt8] {
        var w = CompactWriter(capacity: utf8.count + 5)
        w.buffer(utf8)
        return w.bytes
    }

    static func jsonText(_ payload: [UInt8]) throws -> Data {
        var r = CompactReader(payload)
        let text = try r.buffer()
        guard r.isAtEnd else { throw PeerWireError.malformed(messageID: 0, reason: "trailing bytes after the JSON") }
        return Data(text)
    }
}
