import HyperCrypto
import HyperTree

/// The event store logic, written once over any `OrderedKeyValueStore` (index scheme: see `IndexKeys`).
/// Each `insert` call becomes one atomic `apply` batch; inserts are serialised, queries run concurrently.
public final class IndexedEventStore: EventStore {
    public let kv: any OrderedKeyValueStore
    private let writeGate = AsyncGate()
    /// Entries read per range page while scanning an index.
    private let pageSize = 256

    private let cache: EventCache
    /// Ids that may have a deletion marker, built in the background from the `deleted:` range (see `warmUp`); until
    /// it is built every event is checked with a read, so no write waits for it.
    private let deletions = Locked(DeletionFilter())

    struct DeletionFilter {
        var filter: EventIDFilter?
        var loading = false
        /// Ids named by deletions committed while the filter is being built (added to it when it is done).
        var pending: [String] = []

        func mayContain(_ id: String) -> Bool { filter?.mayContain(id) ?? true }
        mutating func insert(_ id: String) {
            filter?.insert(id)
            if loading { pending.append(id) }
        }
    }
    private let stages = Locked<InsertStages?>(nil)
    /// Ids stored by the latest commits, for completing `checkNew` results without a second read.
    private let recent = Locked(RecentCommits())
    /// Every id ever stored, as a Bloom filter (2 MiB: under 0.5% false positives up to a million events), so that
    /// `checkNew` answers most new events without a store read. Commits add their ids from the start; the ids
    /// already stored are added by a background scan of the `created_at:` index, and the filter is only trusted
    /// once that scan is complete.
    private let storedIDs = Locked(StoredIDs())

    struct StoredIDs {
        var filter = EventIDFilter(bitCount: 1 << 24)
        var loading = false
        var loaded = false
        /// Bumped when the filter is dropped, so that a scan started before does not fill the new one.
        var generation: UInt64 = 0
    }

    /// A store over `kv`; up to `cacheCapacity` decoded events are kept in memory for queries.
    public init(kv: any OrderedKeyValueStore, cacheCapacity: Int = 65_536) {
        self.kv = kv
        self.cache = EventCache(capacity: cacheCapacity)
    }

    // MARK: Writing

    /// A key hashed in bulk (the standard `[UInt8]` hash feeds bytes one at a time).
    struct BytesKey: Hashable {
        let bytes: [UInt8]
        func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
    }

    /// The pending writes of one batch. Keys that inserts read back (bodies, pointers, deletion markers) are
    /// also kept in `values`, so later events of the same batch see them; time-index keys are write-only.
    private struct Overlay {
        var values: [BytesKey: [UInt8]?] = [:]
        var operations: [KVOperation] = []
        var added: [String: NostrEvent] = [:]
        var removed: [String] = []
        /// Time spent reading the store (not the overlay) for duplicate, deletion and replaceable checks.
        let lookups = LookupMeter()
        /// Time spent building body and index keys.
        var indexKeys: Duration = .zero

        mutating func put(_ key: [UInt8], _ value: [UInt8], readable: Bool = true) {
            if readable { values[BytesKey(bytes: key)] = .some(value) }
            operations.append(.put(key: key, value: value))
        }
        mutating func delete(_ key: [UInt8], readable: Bool = true) {
            if readable { values[BytesKey(bytes: key)] = .some(nil) }
            operations.append(.delete(key: key))
        }
    }

    private func get(_ key: [UInt8], _ overlay: Overlay) async throws -> [UInt8]? {
        if let pending = overlay.values[BytesKey(bytes: key)] { return pending }
        let started = ContinuousClock.now
        defer { overlay.lookups.add(ContinuousClock.now - started) }
        return try await kv.get(key)
    }

    private func load(id: String, _ overlay: Overlay) async throws -> NostrEvent? {
        guard let bytes = try await get(IndexKeys.body(id), overlay) else { return nil }
        guard let e = NostrEvent(storedJSON: String(decoding: bytes, as: UTF8.self)) else {
            throw EventStoreError.corrupt("unreadable event \(id)")
        }
        return e
    }

    private func remove(_ e: NostrEvent, _ overlay: inout Overlay) {
        let started = ContinuousClock.now
        defer { overlay.indexKeys += ContinuousClock.now - started }
        overlay.added[e.id] = nil
        overlay.removed.append(e.id)
        overlay.delete(IndexKeys.body(e.id))
        for key in IndexKeys.indexEntries(e) { overlay.delete(key, readable: false) }
    }

    private func add(_ e: NostrEvent, _ overlay: inout Overlay) {
        let started = ContinuousClock.now
        defer { overlay.indexKeys += ContinuousClock.now - started }
        overlay.added[e.id] = e
        overlay.put(IndexKeys.body(e.id), Array(e.json.utf8))
        let idBytes = Array(e.id.utf8)
        for key in IndexKeys.indexEntries(e) { overlay.put(key, idBytes, readable: false) }
    }

    public func insert(_ events: [NostrEvent]) async throws -> [InsertOutcome] {
        try await insert(events, checks: [])
    }

    /// Reads whether `event` is stored, without taking the write gate (many run concurrently with the writer).
    public func checkNew(_ event: NostrEvent) async throws -> NewEventCheck {
        // The commit number is read before the store: a commit that lands during the read is either seen by the
        // read or re-checked by `insert` through `recent`.
        let commit = recent.withLock { $0.sequence }
        // Commits add their ids to `storedIDs` before they count in `recent`: an id missing here was either never
        // stored or is stored by a commit after `commit`, which `insert` re-checks.
        let (mayBeStored, startLoading, generation) = storedIDs.withLock { s -> (Bool, Bool, UInt64) in
            let start = !s.loading
            s.loading = true
            return (!s.loaded || s.filter.mayContain(event.id), start, s.generation)
        }
        if startLoading { Task { await self.loadStoredIDs(generation) } }
        if !mayBeStored { return .absent(asOfCommit: commit) }
        if try await kv.get(IndexKeys.body(event.id)) != nil { return .alreadyStored }
        return .absent(asOfCommit: commit)
    }

    /// Adds the ids of every stored event to `storedIDs` (scanning `created_at:` keys), then marks it loaded.
    /// On a read error (e.g. the store closed) the filter simply stays unused.
    @discardableResult
    private func loadStoredIDs(_ generation: UInt64) async -> Int? {
        let prefix = Array("created_at:".utf8)
        var range = KVRange(gte: prefix, lt: Array("created_at;".utf8), limit: 4096)
        var count = 0
        do {
            while true {
                let page = try await kv.range(range)
                var ids: [String] = []
                ids.reserveCapacity(page.count)
                for entry in page {
                    if let (_, id) = IndexKeys.parseSuffix(entry.key) { ids.append(id) }
                }
                let current = storedIDs.withLock { s -> Bool in
                    guard s.generation == generation else { return false }
                    for id in ids { s.filter.insert(id) }
                    return true
                }
                guard current else { return nil }
                count += ids.count
                guard page.count == range.limit, let last = page.last else { break }
                range.gte = nil
                range.gt = last.key
            }
            storedIDs.withLock { s in if s.generation == generation { s.loaded = true } }
            return count
        } catch {
            return nil
        }
    }

    /// Whether the stored-id filter is complete and in use (tests, diagnostics).
    var storedIDFilterLoaded: Bool { storedIDs.withLock { $0.loaded } }

    /// See `EventStore.insert(_:checks:)`; `checks` may be empty (every event fully checked) or one per event.
    public func insert(_ events: [NostrEvent], checks: [NewEventCheck]) async throws -> [InsertOutcome] {
        if deletions.withLock({ $0.filter == nil && !$0.loading }) {
            Task { _ = await self.loadDeletionFilter() }
        }
        return try await writeGate.withGate {
            var overlay = Overlay()
            var outcomes: [InsertOutcome] = []
            outcomes.reserveCapacity(events.count)
            let started = ContinuousClock.now
            for (i, e) in events.enumerated() {
                outcomes.append(try await insertOne(e, i < checks.count ? checks[i] : .notChecked, &overlay))
            }
            var t = InsertStages(events: events.count)
            t.checks = ContinuousClock.now - started - overlay.indexKeys
            t.lookups = overlay.lookups.total
            t.lookupCount = overlay.lookups.count
            t.indexKeys = overlay.indexKeys
            t.operations = overlay.operations.count
            if !overlay.operations.isEmpty {
                let applyStarted = ContinuousClock.now
                do { try await kv.apply(overlay.operations) } catch {
                    // The commit may have landed anyway: stop trusting early checks and the stored-id filter.
                    storedIDs.withLock { $0 = StoredIDs(generation: $0.generation &+ 1) }
                    recent.withLock { $0.recordUnknown() }
                    throw error
                }
                t.apply = ContinuousClock.now - applyStarted
                t.tree = (kv as? HyperTreeKV)?.tree.lastCommitTimings
                let added = overlay.added
                storedIDs.withLock { s in for id in added.keys { s.filter.insert(id) } }
                recent.withLock { $0.record(Set(added.keys)) }
                cache.committed(added: Array(added.values), removed: overlay.removed)
            }
            stages.withLock { $0 = t }
            return outcomes
        }
    }

    private func insertOne(_ e: NostrEvent, _ check: NewEventCheck, _ overlay: inout Overlay) async throws
        -> InsertOutcome
    {
        let kindClass = e.kindClass
        if kindClass == .ephemeral { return .rejected(message: "invalid: ephemeral events are not stored") }
        let body = IndexKeys.body(e.id)
        var known: Bool?
        if case .absent(let commit) = check, overlay.values[BytesKey(bytes: body)] == nil {
            // Absent when checked; stored since only if a later commit stored it.
            known = recent.withLock { $0.storedSince(commit, e.id) }
        }
        if known == nil { known = try await get(body, overlay) != nil }
        if known == true {
            return .rejected(message: "duplicate: already have this event")
        }
        if deletions.withLock({ $0.mayContain(e.id) }),
            try await get(Array(IndexKeys.deleted(id: e.id, pubkey: e.pubkey).utf8), overlay) != nil
        {
            return .rejected(message: "blocked: this event was deleted by its author")
        }
        if kindClass == .replaceable || kindClass == .addressable {
            let d = kindClass == .addressable ? e.dTag : ""
            let deletedKey = Array(IndexKeys.deletedAddress(kind: e.kind, pubkey: e.pubkey, d: d).utf8)
            if let bytes = try await get(deletedKey, overlay), let at = Int64(String(decoding: bytes, as: UTF8.self)),
                e.createdAt <= at
            {
                return .rejected(message: "blocked: this address was deleted by its author")
            }
            let pointer = Array(IndexKeys.replaceable(kind: e.kind, pubkey: e.pubkey, d: d).utf8)
            if let currentID = try await get(pointer, overlay),
                let current = try await load(id: String(decoding: currentID, as: UTF8.self), overlay)
            {
                if current.createdAt > e.createdAt || (current.createdAt == e.createdAt && current.id < e.id) {
                    return .rejected(message: "duplicate: a newer version of this event is already stored")
                }
                remove(current, &overlay)
            }
            overlay.put(pointer, Array(e.id.utf8))
        }
        if e.kind == 5 { try await applyDeletion(e, &overlay) }
        add(e, &overlay)
        return .stored
    }

    /// Where the time of the most recent `insert` went (nil before the first one).
    public var lastInsertStages: InsertStages? { stages.withLock { $0 } }

    /// Builds the deletion filter from the stored `deleted:` markers, concurrently with writes (whose markers are
    /// added as they commit). Returns how many markers were read, or nil if another load runs or is done.
    private func loadDeletionFilter() async -> Int? {
        // Claimed inside the write gate: every insert that started before is committed (and visible to the scan),
        // every later one records its markers in `pending`.
        let claimed = await writeGate.withGate {
            deletions.withLock { d -> Bool in
                guard d.filter == nil, !d.loading else { return false }
                d.loading = true
                d.pending = []
                return true
            }
        }
        guard claimed else { return nil }
        var filter = EventIDFilter()
        var count = 0
        let prefix = Array("deleted:".utf8)
        var range = KVRange(gte: prefix, lt: Array("deleted;".utf8), limit: 4096)
        do {
            while true {
                let page = try await kv.range(range)
                for entry in page where entry.key.count >= prefix.count + 64 {
                    filter.insert(String(decoding: entry.key[prefix.count..<(prefix.count + 64)], as: UTF8.self))
                    count += 1
                }
                guard page.count == range.limit, let last = page.last else { break }
                range.gte = nil
                range.gt = last.key
            }
        } catch {
            // Unreadable (e.g. closed): stay without a filter, so every event keeps being checked with a read.
            deletions.withLock { d in
                d.loading = false
                d.pending = []
            }
            return nil
        }
        deletions.withLock { d in
            for id in d.pending { filter.insert(id) }
            d.filter = filter
            d.pending = []
            d.loading = false
        }
        return count
    }

    /// What `warmUp` loaded, for the start-up log.
    public struct WarmUp: Sendable, CustomStringConvertible {
        /// Deletion markers read into the deletion filter (nil: already loaded or loading elsewhere).
        public var deletionMarkers: Int?
        /// Stored ids read into the stored-id filter (nil: already loaded or loading elsewhere).
        public var storedIDs: Int?
        public var elapsed: Duration

        public var description: String {
            let markers = deletionMarkers.map { "\($0) deletion markers" } ?? "deletion filter already loading"
            let ids = storedIDs.map { "\($0) stored ids" } ?? "stored-id filter already loading"
            return "\(markers), \(ids) in \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds])))"
        }
    }

    /// Loads the deletion filter and the stored-id filter (both optimisations: until they are loaded, writes check
    /// with reads and are never held). Call it once after opening; it returns when both are loaded.
    public func warmUp() async -> WarmUp {
        let started = ContinuousClock.now
        async let markers = loadDeletionFilter()
        let (claimed, generation) = storedIDs.withLock { s -> (Bool, UInt64) in
            let start = !s.loading
            s.loading = true
            return (start, s.generation)
        }
        let ids = claimed ? await loadStoredIDs(generation) : nil
        return WarmUp(deletionMarkers: await markers, storedIDs: ids, elapsed: ContinuousClock.now - started)
    }

    /// NIP-09: removes the author's own events named by `e` tags and addresses named by `a` tags, and
    /// remembers the deletion so the events cannot be stored again.
    private func applyDeletion(_ deletion: NostrEvent, _ overlay: inout Overlay) async throws {
        for tag in deletion.tags where tag.count >= 2 {
            if tag[0] == "e", NostrEvent.isLowerHex(tag[1], length: 64) {
                deletions.withLock { $0.insert(tag[1]) }
                overlay.put(Array(IndexKeys.deleted(id: tag[1], pubkey: deletion.pubkey).utf8), [])
                if let target = try await load(id: tag[1], overlay), target.pubkey == deletion.pubkey,
                    target.kind != 5
                {
                    remove(target, &overlay)
                    try await clearPointer(of: target, &overlay)
                }
            } else if tag[0] == "a" {
                let parts = tag[1].split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
                guard parts.count >= 2, let kind = Int(parts[0]), parts[1] == deletion.pubkey else { continue }
                let kindClass = NostrEvent.kindClass(of: kind)
                guard kindClass == .replaceable || kindClass == .addressable else { continue }
                let d = kindClass == .addressable && parts.count == 3 ? String(parts[2]) : ""
                let deletedKey = Array(IndexKeys.deletedAddress(kind: kind, pubkey: deletion.pubkey, d: d).utf8)
                let previous = try await get(deletedKey, overlay).flatMap { Int64(String(decoding: $0, as: UTF8.self)) }
                if previous == nil || previous! < deletion.createdAt {
                    overlay.put(deletedKey, Array(String(deletion.createdAt).utf8))
                }
                let pointer = Array(IndexKeys.replaceable(kind: kind, pubkey: deletion.pubkey, d: d).utf8)
                if let currentID = try await get(pointer, overlay),
                    let current = try await load(id: String(decoding: currentID, as: UTF8.self), overlay),
                    current.createdAt <= deletion.createdAt
                {
                    remove(current, &overlay)
                    overlay.delete(pointer)
                }
            }
        }
    }

    private func clearPointer(of e: NostrEvent, _ overlay: inout Overlay) async throws {
        guard e.kindClass == .replaceable || e.kindClass == .addressable else { return }
        let d = e.kindClass == .addressable ? e.dTag : ""
        let pointer = Array(IndexKeys.replaceable(kind: e.kind, pubkey: e.pubkey, d: d).utf8)
        if let current = try await get(pointer, overlay), current == Array(e.id.utf8) { overlay.delete(pointer) }
    }

    /// Removes every event whose NIP-40 expiration is at or before `now`; returns how many.
    @discardableResult
    public func purgeExpired(now: Int64) async throws -> Int {
        try await writeGate.withGate {
            let upper = Array(IndexKeys.expiration(min(max(now, 0), NostrEvent.maxCreatedAt), "~").utf8)
            let entries = try await kv.range(KVRange(gte: Array("expiration:".utf8), lte: upper))
            var overlay = Overlay()
            var removed = 0
            for entry in entries {
                let id = String(decoding: entry.value, as: UTF8.self)
                guard let e = try await load(id: id, overlay) else {
                    overlay.delete(entry.key)
                    continue
                }
                remove(e, &overlay)
                try await clearPointer(of: e, &overlay)
                removed += 1
            }
            if !overlay.operations.isEmpty {
                try await kv.apply(overlay.operations)
                cache.committed(added: [], removed: overlay.removed)
            }
            return removed
        }
    }

    // MARK: Reading

    /// A committed event by id, through the cache.
    private func cachedLoad(_ id: String) async throws -> NostrEvent? {
        if let e = cache.get(id) { return e }
        let version = cache.version
        guard let e = try await load(id: id, Overlay()) else { return nil }
        cache.fill(e, readAt: version)
        return e
    }

    public func query(_ filters: [Filter], limit: Int, now: Int64) async throws -> [NostrEvent] {
        var byID: [String: NostrEvent] = [:]
        for filter in filters {
            let want = min(filter.limit ?? limit, limit)
            for e in try await run(filter, want: want, now: now) { byID[e.id] = e }
        }
        return Array(Self.newestFirst(Array(byID.values)).prefix(limit))
    }

    public func count(_ filters: [Filter], now: Int64) async throws -> Int {
        var ids = Set<String>()
        for filter in filters {
            for e in try await run(filter, want: .max, now: now) { ids.insert(e.id) }
        }
        return ids.count
    }

    public func allEvents() -> AsyncThrowingStream<NostrEvent, any Error> {
        let kv = self.kv
        let pageSize = self.pageSize
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let prefix = Array("created_at:".utf8)
                    var range = KVRange(gte: prefix, lt: Array("created_at;".utf8), limit: pageSize)
                    while !Task.isCancelled {
                        let page = try await kv.range(range)
                        for entry in page {
                            guard
                                let bytes = try await kv.get(
                                    IndexKeys.body(String(decoding: entry.value, as: UTF8.self))),
                                let e = NostrEvent(storedJSON: String(decoding: bytes, as: UTF8.self))
                            else { continue }
                            continuation.yield(e)
                        }
                        guard page.count == pageSize, let last = page.last else { break }
                        range.gte = nil
                        range.gt = last.key
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func close() async throws {
        await writeGate.acquire()
        defer { writeGate.release() }
        try await kv.close()
    }

    /// Sorts newest first, ties by lowest id.
    static func newestFirst(_ events: [NostrEvent]) -> [NostrEvent] {
        events.sorted { $0.createdAt != $1.createdAt ? $0.createdAt > $1.createdAt : $0.id < $1.id }
    }

    /// The newest `want` events matching one filter, using the most selective index.
    private func run(_ filter: Filter, want: Int, now: Int64) async throws -> [NostrEvent] {
        guard want > 0, !filter.isImpossible else { return [] }
        let since = max(filter.since ?? 0, 0)
        let until = min(filter.until ?? NostrEvent.maxCreatedAt, NostrEvent.maxCreatedAt)
        guard since <= until else { return [] }
        func alive(_ e: NostrEvent) -> Bool {
            guard let exp = e.expiration else { return true }
            return exp > now
        }
        if let ids = filter.ids {
            var out: [NostrEvent] = []
            for id in ids {
                if let e = try await cachedLoad(id), filter.matches(e), alive(e) { out.append(e) }
            }
            return Array(Self.newestFirst(out).prefix(want))
        }
        if let authors = filter.authors, let kinds = filter.kinds, authors.count * kinds.count <= 1024,
            kinds.allSatisfy({ NostrEvent.kindClass(of: $0) != .regular })
        {
            // Replaceable/addressable kinds only: the current versions are named by their `replaceable:` pointers.
            var out: [NostrEvent] = []
            for author in authors {
                for kind in kinds where NostrEvent.kindClass(of: kind) != .ephemeral {
                    for e in try await currentVersions(kind: kind, pubkey: author) where filter.matches(e) && alive(e) {
                        out.append(e)
                    }
                }
            }
            return Array(Self.newestFirst(out).prefix(want))
        }
        var prefixes: [String]
        if let authors = filter.authors {
            prefixes = authors.map(IndexKeys.pubkeyPrefix)
        } else if let (name, values) = filter.tags.min(by: { $0.value.count < $1.value.count }) {
            prefixes = values.map { IndexKeys.tagPrefix(name, $0) }
        } else if let kinds = filter.kinds {
            prefixes = kinds.map(IndexKeys.kindPrefix)
        } else {
            prefixes = [""]
        }
        var byID: [String: NostrEvent] = [:]
        for prefix in prefixes {
            for e in try await scan(
                prefix: prefix, since: since, until: until, want: want, filter: filter, alive: alive)
            {
                byID[e.id] = e
            }
        }
        return Array(Self.newestFirst(Array(byID.values)).prefix(want))
    }

    /// The stored versions of a replaceable (one) or addressable (one per d tag) kind by one author.
    private func currentVersions(kind: Int, pubkey: String) async throws -> [NostrEvent] {
        var out: [NostrEvent] = []
        if NostrEvent.kindClass(of: kind) == .replaceable {
            let pointer = Array(IndexKeys.replaceable(kind: kind, pubkey: pubkey, d: "").utf8)
            if let id = try await kv.get(pointer), let e = try await cachedLoad(String(decoding: id, as: UTF8.self)) {
                out.append(e)
            }
            return out
        }
        let prefix = Array(IndexKeys.replaceable(kind: kind, pubkey: pubkey, d: "").utf8)
        var upper = prefix
        upper[upper.count - 1] = UInt8(ascii: ":") + 1
        var range = KVRange(gte: prefix, lt: upper, limit: pageSize)
        while true {
            let page = try await kv.range(range)
            for entry in page {
                if let e = try await cachedLoad(String(decoding: entry.value, as: UTF8.self)) { out.append(e) }
            }
            guard page.count == range.limit, let last = page.last else { return out }
            range.gte = nil
            range.gt = last.key
        }
    }

    /// Walks one time index newest first, keeping matching events, until `want` are found and the second of
    /// the last one is complete (so ties resolve by lowest id).
    private func scan(
        prefix: String, since: Int64, until: Int64, want: Int, filter: Filter, alive: (NostrEvent) -> Bool
    ) async throws -> [NostrEvent] {
        let low = Array((prefix + "created_at:" + IndexKeys.pad(since, width: 10) + ":").utf8)
        let high = Array((prefix + "created_at:" + IndexKeys.pad(until, width: 10) + ":id:~").utf8)
        var range = KVRange(gte: low, lte: high, reverse: true, limit: pageSize)
        var out: [NostrEvent] = []
        var boundary: Int64?
        while true {
            let page = try await kv.range(range)
            for entry in page {
                guard let (createdAt, id) = IndexKeys.parseSuffix(entry.key) else { continue }
                if let boundary, createdAt < boundary { return out }
                guard let e = try await cachedLoad(id), filter.matches(e), alive(e) else { continue }
                out.append(e)
                if out.count == want { boundary = createdAt }
            }
            guard page.count == range.limit, let last = page.last else { return out }
            range.lte = nil
            range.lt = last.key
        }
    }
}

/// An `EventStore` in memory: `IndexedEventStore` over `InMemoryOrderedKV` (tests, ephemeral relays).
public final class InMemoryEventStore: EventStore {
    private let store: IndexedEventStore

    public init() { store = IndexedEventStore(kv: InMemoryOrderedKV()) }

    public func insert(_ events: [NostrEvent]) async throws -> [InsertOutcome] { try await store.insert(events) }
    public func checkNew(_ event: NostrEvent) async throws -> NewEventCheck { try await store.checkNew(event) }
    public func insert(_ events: [NostrEvent], checks: [NewEventCheck]) async throws -> [InsertOutcome] {
        try await store.insert(events, checks: checks)
    }
    public func query(_ filters: [Filter], limit: Int, now: Int64) async throws -> [NostrEvent] {
        try await store.query(filters, limit: limit, now: now)
    }
    public func count(_ filters: [Filter], now: Int64) async throws -> Int { try await store.count(filters, now: now) }
    public func allEvents() -> AsyncThrowingStream<NostrEvent, any Error> { store.allEvents() }
    public func close() async throws { try await store.close() }
    /// See `IndexedEventStore.purgeExpired(now:)`.
    @discardableResult
    public func purgeExpired(now: Int64) async throws -> Int { try await store.purgeExpired(now: now) }
}
