/// Job records in a slab: a job id carries its slot (low 24 bits) above which sits a sequence number that
/// never repeats, so lookups are one array access and a check, with no hashing, and ids stay unique per
/// gateway even though slots are reused.
struct JobTable: Sendable {
    static let slotBits: UInt64 = 24
    static let slotMask: UInt64 = (1 << slotBits) - 1
    static let maxSlots = Int(slotMask)

    private(set) var records: [JobRecord] = []
    /// Id stored in each slot; 0 marks a free slot.
    private(set) var ids: [UInt64] = []
    private var free: [Int32] = []
    private(set) var count = 0
    private var sequence: UInt64

    init(firstSequence: UInt64) { sequence = max(1, firstSequence) }

    mutating func reserve(_ n: Int) {
        records.reserveCapacity(n)
        ids.reserveCapacity(n)
        free.reserveCapacity(n)
    }

    /// Stores a record under a fresh id; nil when the table is full.
    mutating func insert(_ record: JobRecord) -> JobID? {
        let slot: Int
        if let f = free.popLast() {
            slot = Int(f)
            records[slot] = record
        } else {
            guard records.count < Self.maxSlots else { return nil }
            slot = records.count
            records.append(record)
            ids.append(0)
        }
        let raw = (sequence << Self.slotBits) | UInt64(slot)
        sequence &+= 1
        ids[slot] = raw
        count += 1
        return JobID(raw)
    }

    /// Slot of a live job, or nil.
    @inline(__always)
    func index(_ id: JobID) -> Int? {
        let slot = Int(id.rawValue & Self.slotMask)
        guard slot < ids.count, ids[slot] == id.rawValue, id.rawValue != 0 else { return nil }
        return slot
    }

    subscript(id: JobID) -> JobRecord? {
        guard let i = index(id) else { return nil }
        return records[i]
    }

    /// Direct access to a live slot's record.
    subscript(slot i: Int) -> JobRecord {
        get { records[i] }
        _modify { yield &records[i] }
    }

    @discardableResult
    mutating func remove(_ id: JobID) -> JobRecord? {
        guard let i = index(id) else { return nil }
        let r = records[i]
        ids[i] = 0
        // Drop the request's storage now rather than when the slot is reused.
        records[i].request = JobRequest(connectionID: "", subscriptionID: "", filtersJSON: "")
        free.append(Int32(i))
        count -= 1
        return r
    }

    /// Live job ids in admission order.
    var liveIDs: [JobID] {
        var out: [JobID] = []
        out.reserveCapacity(count)
        for raw in ids where raw != 0 { out.append(JobID(raw)) }
        out.sort()
        return out
    }
}
