import Foundation

/// A FIFO async mutex: at most one holder at a time, waiters resumed in arrival order.
final class AsyncGate: @unchecked Sendable {
    // Invariant: `held` and `waiters` are only touched with `lock` held.
    private let lock = NSLock()
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let granted = lock.withLock { () -> Bool in
                if !held {
                    held = true
                    return true
                }
                waiters.append(c)
                return false
            }
            if granted { c.resume() }
        }
    }

    func release() {
        let next = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            if waiters.isEmpty {
                held = false
                return nil
            }
            return waiters.removeFirst()
        }
        next?.resume()
    }

    func withGate<T>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
    }
}
