/// A change seen by `watch`: the tree moved from `previous` to `version` and these keys in the range changed.
public struct TreeWatchEvent: Sendable, Equatable {
    public let previous: UInt64
    public let version: UInt64
    public let changes: [TreeDiffEntry]
}

extension HyperTree {
    /// Yields an event each time the log grows and a key inside `range` changed. Each event carries the diff
    /// (computed by `diff`, so unchanged subtrees are skipped). Ends when the consumer stops iterating.
    public func watch(_ range: RangeOptions = RangeOptions()) -> AsyncThrowingStream<TreeWatchEvent, Error> {
        let updates = store.log.lengthUpdates()  // subscribe before reading the start version: nothing is missed
        let start = version
        let (stream, cont) = AsyncThrowingStream<TreeWatchEvent, Error>.makeStream()
        let task = Task { [self] in
            var last = start
            do {
                for await length in updates {
                    if Task.isCancelled { break }
                    guard length > last else { continue }
                    let changes: [TreeDiffEntry]
                    do {
                        changes = try await diff(from: last, to: length, range: range)
                    } catch TreeError.noRootAt {
                        continue  // the middle of a write that is still arriving
                    }
                    let event = TreeWatchEvent(previous: last, version: length, changes: changes)
                    last = length
                    if !changes.isEmpty { cont.yield(event) }
                }
                cont.finish()
            } catch {
                cont.finish(throwing: error)
            }
        }
        cont.onTermination = { _ in task.cancel() }
        return stream
    }
}
