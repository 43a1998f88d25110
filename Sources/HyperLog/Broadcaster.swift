import LMDBKit

/// Fans values out to any number of `AsyncStream` listeners; a slow listener keeps only its newest `buffer` values.
public final class Broadcaster<Element: Sendable>: @unchecked Sendable {
    // Invariant: `listeners` and `next` are only touched under `lock`.
    private let lock = Lock()
    private var listeners: [UInt64: AsyncStream<Element>.Continuation] = [:]
    private var next: UInt64 = 0
    private let buffer: Int

    /// A broadcaster whose listeners each buffer at most `buffer` undelivered values.
    public init(buffer: Int) { self.buffer = buffer }

    /// A new listener, receiving every value published from now on until it is dropped or `finish()` is called.
    public func stream() -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .bufferingNewest(buffer))
        let id = lock.withLock { () -> UInt64 in
            next += 1
            listeners[next] = continuation
            return next
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            _ = self.lock.withLock { self.listeners.removeValue(forKey: id) }
        }
        return stream
    }

    /// Delivers `value` to every current listener.
    public func publish(_ value: Element) {
        let current = lock.withLock { Array(listeners.values) }
        for c in current { c.yield(value) }
    }

    /// Ends every current listener's stream.
    public func finish() {
        let current = lock.withLock {
            let all = Array(listeners.values)
            listeners.removeAll()
            return all
        }
        for c in current { c.finish() }
    }
}
