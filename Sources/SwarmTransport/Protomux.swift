import CompactEncoding
import HyperCrypto

/// Failures of the protomux layer; each one ends the connection.
public enum ProtomuxError: Error, Equatable, CustomStringConvertible {
    case malformed(String)
    case invalidOpen(remoteID: UInt64)
    case invalidReject(localID: UInt64)
    case tooManyChannels(limit: Int)
    case batchTooLarge(Int)

    public var description: String {
        switch self {
        case .malformed(let why): return "protomux: malformed frame (\(why))"
        case .invalidOpen(let id): return "protomux: invalid open for remote channel \(id)"
        case .invalidReject(let id): return "protomux: reject for unknown local channel \(id)"
        case .tooManyChannels(let limit): return "protomux: remote exceeded \(limit) channels"
        case .batchTooLarge(let n): return "protomux: batch of \(n) bytes exceeds limit"
        }
    }
}

/// A protocol + optional id pair naming a channel (as protomux's `protocol##hex(id)`).
public struct ChannelKey: Hashable, Sendable, CustomStringConvertible {
    public let `protocol`: String
    public let id: [UInt8]?

    public init(protocol: String, id: [UInt8]?) {
        self.protocol = `protocol`
        self.id = (id?.isEmpty ?? true) ? nil : id
    }

    public var description: String { "\(`protocol`)##\(id?.hex ?? "")" }
}

/// One protomux channel. Callbacks run on the mux's executor (the connection's event loop).
public final class MuxChannel {
    public let key: ChannelKey
    /// Our handshake bytes, sent in the open frame.
    public let handshake: [UInt8]
    /// The remote's handshake bytes, set when the channel is fully open.
    public private(set) var remoteHandshake: [UInt8]?
    public private(set) var isOpen = false
    public private(set) var isClosed = false

    /// Called once both sides have opened (with the remote handshake).
    public var onOpen: ((MuxChannel, [UInt8]) -> Void)?
    /// Called for every message: its type and payload.
    public var onMessage: ((MuxChannel, UInt64, [UInt8]) -> Void)?
    /// Called once when the channel closes; `true` if the remote closed or rejected it.
    public var onClose: ((MuxChannel, Bool) -> Void)?
    /// Replaces `onMessage` when set: the message's type, the received frame and the offset of the payload in it
    /// (no copy of the payload out of the frame).
    var onMessageAt: ((MuxChannel, UInt64, [UInt8], Int) -> Void)?

    weak var mux: Protomux?

    var localID: UInt64 = 0
    var remoteID: UInt64 = 0

    init(key: ChannelKey, handshake: [UInt8]) {
        self.key = key
        self.handshake = handshake
    }

    /// Sends a typed message; false when the channel is closed.
    @discardableResult
    public func send(type: UInt64, _ payload: [UInt8]) -> Bool {
        guard !isClosed, let mux else { return false }
        mux.sendMessage(localID: localID, type: type, payload: payload)
        return true
    }

    /// Closes the channel locally and tells the remote.
    public func close() {
        guard !isClosed, let mux else { return }
        mux.closeLocal(self)
    }

    func markOpen(remote: [UInt8]) {
        guard !isOpen, !isClosed else { return }
        isOpen = true
        remoteHandshake = remote
        onOpen?(self, remote)
    }

    func markClosed(remote: Bool) {
        guard !isClosed else { return }
        isClosed = true
        isOpen = false
        onClose?(self, remote)
        onOpen = nil
        onMessage = nil
        onMessageAt = nil
        onClose = nil
    }
}

/// Sans-IO protomux (holepunchto/protomux wire format): channels multiplexed over a message stream.
///
/// Each byte string passed to `output` is one message for the framed transport (one secret-stream message).
/// Not thread-safe: confine to one executor (the connection's event loop).
public final class Protomux {
    /// Largest batch frame produced or accepted.
    public static let maxBatch = 8 * 1024 * 1024

    private let output: ([UInt8]) -> Void
    /// When set, an uncorked channel message goes here as its header (channel id, type) and its payload, instead of
    /// their concatenation to `output`: the transport copies both into its buffer once.
    var outputMessage: (([UInt8], [UInt8]) -> Void)?
    /// Called when the remote opens a channel nobody has opened locally yet; open a matching channel inside the
    /// callback to accept it, otherwise it is rejected.
    public var onRemoteOpen: ((ChannelKey) -> Void)?
    /// Most channels (local + remote-initiated, pending or open) a connection may hold.
    public let maxChannels: Int

    private var local: [MuxChannel?] = []
    private var freeIDs: [Int] = []
    private var remote: [RemoteSlot?] = []
    private var outgoing: [ChannelKey: [UInt64]] = [:]
    private var incoming: [ChannelKey: [UInt64]] = [:]
    private var corked = 0
    private var batch: [(UInt64, [UInt8])] = []
    private var batchSize = 0

    private struct RemoteSlot {
        var key: ChannelKey
        var handshake: [UInt8]
        var channel: MuxChannel?
    }

    public init(maxChannels: Int = 256, output: @escaping ([UInt8]) -> Void) {
        self.maxChannels = maxChannels
        self.output = output
    }

    /// Number of open or opening channels.
    public var channelCount: Int { local.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// True when a channel for `key` is open or opening locally.
    public func isOpened(_ key: ChannelKey) -> Bool {
        local.contains { $0?.key == key && $0?.isClosed == false }
    }

    /// Opens a channel. Returns nil if `unique` and one is already open for this key, or the channel limit is hit.
    public func open(
        protocol name: String, id: [UInt8]? = nil, handshake: [UInt8] = [], unique: Bool = true,
        onOpen: ((MuxChannel, [UInt8]) -> Void)? = nil,
        onMessage: ((MuxChannel, UInt64, [UInt8]) -> Void)? = nil,
        onClose: ((MuxChannel, Bool) -> Void)? = nil
    ) -> MuxChannel? {
        let key = ChannelKey(protocol: name, id: id)
        if unique && isOpened(key) { return nil }
        if channelCount >= maxChannels { return nil }
        let ch = MuxChannel(key: key, handshake: handshake)
        ch.onOpen = onOpen
        ch.onMessage = onMessage
        ch.onClose = onClose
        ch.mux = self
        let slot: Int
        if let f = freeIDs.popLast() {
            slot = f
            local[slot] = ch
        } else {
            local.append(ch)
            slot = local.count - 1
        }
        ch.localID = UInt64(slot + 1)

        var w = CompactWriter(capacity: 64 + handshake.count)
        w.uint8(0)
        w.uint8(1)
        w.uint(ch.localID)
        w.string(name)
        w.buffer(key.id ?? [])
        w.raw(handshake)

        // Pair with a remote open that arrived first.
        var pairedRemote: UInt64?
        if var waiting = incoming[key], !waiting.isEmpty {
            pairedRemote = waiting.removeFirst()
            incoming[key] = waiting.isEmpty ? nil : waiting
        } else {
            outgoing[key, default: []].append(ch.localID)
        }
        write0(w.bytes)
        if let rid = pairedRemote, var r = remote[Int(rid - 1)] {
            ch.remoteID = rid
            r.channel = ch
            remote[Int(rid - 1)] = r
            ch.markOpen(remote: r.handshake)
        }
        return ch
    }

    /// Starts batching: messages are collected until the matching `uncork()` and sent as one batch frame.
    public func cork() { corked += 1 }

    /// Ends a `cork()`; the outermost call flushes the batch.
    public func uncork() {
        guard corked > 0 else { return }
        corked -= 1
        if corked == 0 { flushBatch() }
    }

    func sendMessage(localID: UInt64, type: UInt64, payload: [UInt8]) {
        if corked > 0 {
            var w = CompactWriter(capacity: payload.count + 4)
            w.uint(type)
            w.raw(payload)
            pushBatch(localID, w.bytes)
            return
        }
        if let outputMessage {
            var h = CompactWriter(capacity: 18)
            h.uint(localID)
            h.uint(type)
            outputMessage(h.bytes, payload)
            return
        }
        var w = CompactWriter(capacity: payload.count + 8)
        w.uint(localID)
        w.uint(type)
        w.raw(payload)
        output(w.bytes)
    }

    private func write0(_ frame: [UInt8]) {
        if corked > 0 {
            pushBatch(0, Array(frame[1...]))
        } else {
            output(frame)
        }
    }

    private func pushBatch(_ localID: UInt64, _ item: [UInt8]) {
        if batchSize >= Self.maxBatch { flushBatch() }
        if batch.last?.0 != localID { batchSize += 1 + 9 }
        batchSize += item.count + 9
        batch.append((localID, item))
    }

    private func flushBatch() {
        guard let first = batch.first else { return }
        var w = CompactWriter(capacity: batchSize + 2)
        w.uint8(0)
        w.uint8(0)
        var prev = first.0
        w.uint(prev)
        for (id, item) in batch {
            if id != prev {
                w.uint8(0)
                w.uint(id)
                prev = id
            }
            w.buffer(item)
        }
        batch = []
        batchSize = 0
        output(w.bytes)
    }

    func closeLocal(_ ch: MuxChannel) {
        var w = CompactWriter(capacity: 12)
        w.uint8(0)
        w.uint8(3)
        w.uint(ch.localID)
        release(ch)
        write0(w.bytes)
        ch.markClosed(remote: false)
    }

    /// Frees the local (and remote) slots of a channel.
    private func release(_ ch: MuxChannel) {
        let lid = ch.localID
        guard lid > 0, Int(lid) <= local.count, local[Int(lid - 1)] === ch else { return }
        local[Int(lid - 1)] = nil
        if var ids = outgoing[ch.key], let i = ids.firstIndex(of: lid) {
            ids.remove(at: i)
            outgoing[ch.key] = ids.isEmpty ? nil : ids
        }
        if ch.remoteID > 0 {
            remote[Int(ch.remoteID - 1)] = nil
            ch.remoteID = 0
            freeIDs.append(Int(lid - 1))  // the remote has acknowledged this id, so it can be reused
        }
    }

    /// Closes every channel (the connection ended).
    public func shutdown() {
        for ch in local.compactMap({ $0 }) {
            release(ch)
            ch.markClosed(remote: true)
        }
        remote.removeAll()
        incoming.removeAll()
    }

    // MARK: decoding

    /// Handles one received message of the framed transport.
    public func receive(_ frame: [UInt8]) throws(ProtomuxError) {
        var r = CompactReader(frame)
        let id = try read { try r.uint() }
        try decode(remoteID: id, &r)
    }

    private func read<T>(_ body: () throws -> T) throws(ProtomuxError) -> T {
        do { return try body() } catch { throw .malformed("\(error)") }
    }

    private func decode(remoteID: UInt64, _ r: inout CompactReader) throws(ProtomuxError) {
        let type = try read { try r.uint() }
        if remoteID == 0 {
            try control(type: type, &r)
            return
        }
        guard remoteID <= UInt64(remote.count), let slot = remote[Int(remoteID - 1)] else { return }  // closed: ignore
        guard let ch = slot.channel else { return }  // not accepted (pairing is synchronous, so it was rejected)
        if let at = ch.onMessageAt, r.offset + r.remaining == r.bytes.count {
            at(ch, type, r.bytes, r.offset)
        } else {
            ch.onMessage?(ch, type, r.rest())
        }
    }

    private func control(type: UInt64, _ r: inout CompactReader) throws(ProtomuxError) {
        switch type {
        case 0: try onBatch(&r)
        case 1: try onOpen(&r)
        case 2: try onReject(&r)
        case 3: try onClose(&r)
        default: break  // unknown control messages are ignored, as protomux does
        }
    }

    private func onBatch(_ r: inout CompactReader) throws(ProtomuxError) {
        guard r.remaining <= Self.maxBatch + 16 else { throw .batchTooLarge(r.remaining) }
        var id = try read { try r.uint() }
        while !r.isAtEnd {
            let len = try read { try r.length() }
            if len == 0 {
                id = try read { try r.uint() }
                continue
            }
            let item = try read { try r.raw(len) }
            var sub = CompactReader(item)
            try decode(remoteID: id, &sub)
        }
    }

    private func onOpen(_ r: inout CompactReader) throws(ProtomuxError) {
        let rid = try read { try r.uint() }
        let name = try read { try r.string() }
        let id = try read { try r.buffer() }
        let handshake = r.rest()
        if rid == 0 {
            reject(remoteID: 0)
            return
        }
        let key = ChannelKey(protocol: name, id: id)
        if rid == UInt64(remote.count) + 1 {
            let active = remote.reduce(0) { $0 + ($1 == nil ? 0 : 1) }
            guard active < maxChannels else { throw .tooManyChannels(limit: maxChannels) }
            remote.append(nil)
        }
        guard rid <= UInt64(remote.count), remote[Int(rid - 1)] == nil else { throw .invalidOpen(remoteID: rid) }

        if var ids = outgoing[key], !ids.isEmpty {
            let lid = ids.removeFirst()
            outgoing[key] = ids.isEmpty ? nil : ids
            guard let ch = local[Int(lid - 1)] else {
                freeIDs.append(Int(lid - 1))
                return
            }
            remote[Int(rid - 1)] = RemoteSlot(key: key, handshake: handshake, channel: ch)
            ch.remoteID = rid
            ch.markOpen(remote: handshake)
            return
        }

        remote[Int(rid - 1)] = RemoteSlot(key: key, handshake: handshake, channel: nil)
        incoming[key, default: []].append(rid)
        onRemoteOpen?(key)
        // Still unclaimed after the pairing hook: reject it.
        if var ids = incoming[key], let i = ids.firstIndex(of: rid) {
            ids.remove(at: i)
            incoming[key] = ids.isEmpty ? nil : ids
            remote[Int(rid - 1)] = nil
            reject(remoteID: rid)
        }
    }

    private func reject(remoteID: UInt64) {
        var w = CompactWriter(capacity: 12)
        w.uint8(0)
        w.uint8(2)
        w.uint(remoteID)
        write0(w.bytes)
    }

    private func onReject(_ r: inout CompactReader) throws(ProtomuxError) {
        let lid = try read { try r.uint() }
        guard lid > 0, lid <= UInt64(local.count), let ch = local[Int(lid - 1)], ch.remoteID == 0,
            outgoing[ch.key]?.contains(lid) == true
        else { throw .invalidReject(localID: lid) }
        release(ch)
        freeIDs.append(Int(lid - 1))
        ch.markClosed(remote: true)
    }

    private func onClose(_ r: inout CompactReader) throws(ProtomuxError) {
        let rid = try read { try r.uint() }
        guard rid > 0, rid <= UInt64(remote.count), let slot = remote[Int(rid - 1)] else { return }
        if let ch = slot.channel {
            release(ch)
            ch.markClosed(remote: true)
        } else {
            remote[Int(rid - 1)] = nil
        }
    }
}
