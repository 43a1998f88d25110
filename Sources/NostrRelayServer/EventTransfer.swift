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
    /// commit each). `progress` is called at most four times a second while batches are stored, and once at the end.
    ///
    /// Two stages overlap: while one batch is being stored (the store's single writer), the next batch is parsed and
    /// verified on every core. Batches are stored in file order, so the result is the same as a sequential import.
    public static func importJSONL(
        path: String, into store: any EventStore, batchSize: Int = 1000,
        progress: (ImportProgress) -> Void = { _ in }
    ) async throws -> ImportProgress {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw TransferError("cannot open \(path) for reading")
        }
        defer { try? handle.close() }
        var totals = ImportProgress()
        var storing: Task<[InsertOutcome], any Error>?
        var lastReport = ContinuousClock.now
        func finishStoring(final: Bool = false) async throws {
            guard let task = storing else {
                if final { progress(totals) }
                return
            }
            storing = nil
            for outcome in try await task.value {
                switch outcome {
                case .stored: totals.stored += 1
                case .rejected(let message):
                    totals.rejected += 1
                    let prefix = message.split(separator: ":", maxSplits: 1).first.map(String.init) ?? "error"
                    totals.reasons[prefix, default: 0] += 1
                }
            }
            let now = ContinuousClock.now
            if final || now - lastReport >= .milliseconds(250) {
                lastReport = now
                progress(totals)
            }
        }
        var reader = LineReader(handle: handle)
        var lines: [String] = []
        lines.reserveCapacity(batchSize)
        var eof = false
        while !eof {
            lines.removeAll(keepingCapacity: true)
            while lines.count < batchSize, let line = try reader.next() { lines.append(line) }
            eof = lines.count < batchSize
            let firstLine = totals.lines + 1
            totals.lines += lines.count
            let checked = await verifyInParallel(lines, precheckingIn: store)
            for (offset, error) in checked.invalid {
                totals.invalid += 1
                if totals.firstErrors.count < 10 { totals.firstErrors.append("line \(firstLine + offset): \(error)") }
            }
            totals.skippedEphemeral += checked.ephemeral
            try await finishStoring()
            if !checked.events.isEmpty {
                let (events, checks) = (checked.events, checked.checks)
                storing = Task(executorPreference: WriterExecutor.shared) {
                    try await store.insert(events, checks: checks)
                }
            }
        }
        try await finishStoring(final: true)
        return totals
    }

    /// Parses and verifies `lines` on every core, and asks `store` whether each event is new (`checkNew`, so the
    /// writer skips most duplicate reads); keeps file order. Blank lines are skipped, ephemeral events counted and
    /// dropped, invalid lines reported with their offset in `lines`.
    static func verifyInParallel(_ lines: [String], precheckingIn store: any EventStore) async -> (
        events: [NostrEvent], checks: [NewEventCheck], invalid: [(Int, String)], ephemeral: Int
    ) {
        enum Parsed: Sendable {
            case event(NostrEvent, NewEventCheck)
            case invalid(String)
            case skip
            case ephemeral
        }
        let lanes = max(1, min(ProcessInfo.processInfo.activeProcessorCount, lines.count / 64 + 1))
        let results = await withTaskGroup(of: (Int, [Parsed]).self) { group in
            for lane in 0..<lanes {
                group.addTask {
                    var out: [Parsed] = []
                    var i = lane
                    while i < lines.count {
                        let text = lines[i].trimmingCharacters(in: .whitespacesAndNewlines)
                        if text.isEmpty {
                            out.append(.skip)
                        } else {
                            do {
                                let event = try NostrEvent.parse(json: text)
                                try event.verify()
                                if event.kindClass == .ephemeral {
                                    out.append(.ephemeral)
                                } else {
                                    out.append(.event(event, (try? await store.checkNew(event)) ?? .notChecked))
                                }
                            } catch {
                                out.append(.invalid("\(error)"))
                            }
                        }
                        i += lanes
                    }
                    return (lane, out)
                }
            }
            var byLane = [[Parsed]](repeating: [], count: lanes)
            for await (lane, out) in group { byLane[lane] = out }
            return byLane
        }
        var events: [NostrEvent] = []
        var checks: [NewEventCheck] = []
        events.reserveCapacity(lines.count)
        checks.reserveCapacity(lines.count)
        var invalid: [(Int, String)] = []
        var ephemeral = 0
        for i in 0..<lines.count {
            switch results[i % lanes][i / lanes] {
            case .event(let e, let check):
                events.append(e)
                checks.append(check)
            case .invalid(let message): invalid.append((i, message))
            case .ephemeral: ephemeral += 1
            case .skip: break
            }
        }
        return (events, checks, invalid, ephemeral)
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
