import Foundation
import NostrRelay

/// Bulk import and export of events as JSONL (one NIP-01 event per line).
public enum EventTransfer {
    /// Running totals of an import.
    public struct ImportProgress: Sendable, Equatable {
        public var lines = 0
        public var stored = 0
        /// Valid events the store declined (duplicates, replaced, deleted): `reasons` counts their prefixes.
        public var rejected = 0
        /// Lines that are not a valid signed event (bad JSON, wrong id, bad signature).
        public var invalid = 0
        /// Ephemeral events (kinds 20000-29999) are never stored.
        public var skippedEphemeral = 0
        public var reasons: [String: Int] = [:]
        public var firstErrors: [String] = []
        public init() {}

        public var summary: String {
            "\(lines) lines: \(stored) stored, \(rejected) rejected, \(invalid) invalid, \(skippedEphemeral) ephemeral skipped"
        }
    }

    /// Imports a JSONL file into `store`, verifying every event (id and signature), in batches of `batchSize` (one
    /// commit each). `progress` is called after every batch.
    public static func importJSONL(
        path: String, into store: any EventStore, batchSize: Int = 1000,
        progress: (ImportProgress) -> Void = { _ in }
    ) async throws -> ImportProgress {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TransferError("cannot open \(path) for reading")
        }
        defer { try? handle.close() }
        var totals = ImportProgress()
        var batch: [NostrEvent] = []
        func flush() async throws {
            guard !batch.isEmpty else { return }
            let outcomes = try await store.insert(batch)
            for outcome in outcomes {
                switch outcome {
                case .stored: totals.stored += 1
                case .rejected(let message):
                    totals.rejected += 1
                    let prefix = message.split(separator: ":", maxSplits: 1).first.map(String.init) ?? "error"
                    totals.reasons[prefix, default: 0] += 1
                }
            }
            batch.removeAll(keepingCapacity: true)
            progress(totals)
        }
        var reader = LineReader(handle: handle)
        while let line = try reader.next() {
            totals.lines += 1
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            do {
                let event = try NostrEvent.parse(json: text)
                try event.verify()
                if event.kindClass == .ephemeral {
                    totals.skippedEphemeral += 1
                    continue
                }
                batch.append(event)
            } catch {
                totals.invalid += 1
                if totals.firstErrors.count < 10 { totals.firstErrors.append("line \(totals.lines): \(error)") }
            }
            if batch.count >= batchSize { try await flush() }
        }
        try await flush()
        return totals
    }

    /// Writes every stored event, oldest first, one JSON object per line. Returns the number written.
    public static func exportJSONL(
        from store: any EventStore, to output: FileHandle, progress: (Int) -> Void = { _ in }
    ) async throws -> Int {
        var count = 0
        var buffer = [UInt8]()
        buffer.reserveCapacity(1 << 20)
        for try await event in store.allEvents() {
            buffer.append(contentsOf: event.json.utf8)
            buffer.append(0x0A)
            count += 1
            if buffer.count >= 1 << 20 {
                output.write(Data(buffer))
                buffer.removeAll(keepingCapacity: true)
            }
            if count % 10_000 == 0 { progress(count) }
        }
        output.write(Data(buffer))
        progress(count)
        return count
    }

    public struct TransferError: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

/// Splits a file into UTF-8 lines, reading 1 MiB at a time.
struct LineReader {
    let handle: FileHandle
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false

    init(handle: FileHandle) { self.handle = handle }

    mutating func next() throws -> String? {
        while true {
            if let nl = buffer[start...].firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[start..<nl], as: UTF8.self)
                start = nl + 1
                return line
            }
            if eof {
                guard start < buffer.count else { return nil }
                let line = String(decoding: buffer[start...], as: UTF8.self)
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { eof = true } else { buffer.append(contentsOf: chunk) }
        }
    }
}
