import Foundation

/// A task executor with one dedicated thread, for the group-commit writer. Under load the cooperative pool's queue
/// holds hundreds of EVENT jobs (parse + verify); a writer sharing that queue waits behind all of them at every
/// suspension (gate, tree lock, log append), so commits stretch and batches stall. On its own thread the writer
/// resumes at once and the OS shares the cores between it and the verifiers.
public final class WriterExecutor: TaskExecutor, @unchecked Sendable {
    /// One writer thread for the process (every relay's group writer and bulk imports run their commits there).
    public static let shared = WriterExecutor(name: "nostr-relay-writer")

    // Invariant: `jobs` is only touched while `condition` is locked.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init(name: String) {
        let thread = Thread { [unowned self] in self.run() }
        thread.name = name
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        var batch: [UnownedJob] = []
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            swap(&batch, &jobs)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
