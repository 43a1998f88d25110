/// Telemetry contract: typed events published by any component, consumed by type as async sequences.
///
/// Publishing never blocks and never fails: each subscriber owns a bounded buffer, and when a subscriber is
/// too slow the buffer's ``TelemetryDropPolicy`` decides which event is discarded (the drop is counted).

/// A typed telemetry event. `kind` is a stable name used in metrics and logs.
public protocol TelemetryEvent: Sendable {
    /// Stable, lowercase name of the event type (for example `peer_load`).
    static var kind: String { get }
}

/// What a full subscriber buffer does with one more event.
public enum TelemetryDropPolicy: String, Sendable, Codable, CaseIterable {
    /// Discard the oldest buffered event and keep the new one (default: telemetry is about the present).
    case dropOldest
    /// Discard the new event and keep what is buffered.
    case dropNewest
}

/// Counters describing a bus since it was created.
public struct TelemetryBusStats: Sendable, Equatable, Codable {
    /// Events handed to `publish`.
    public var published: UInt64 = 0
    /// Event copies placed in (or handed directly to) a subscriber.
    public var delivered: UInt64 = 0
    /// Event copies discarded because a subscriber buffer was full.
    public var dropped: UInt64 = 0
    /// Subscriptions currently open.
    public var subscribers: Int = 0

    public init() {}
}

/// The telemetry bus contract.
public protocol TelemetryBus: AnyObject, Sendable {
    /// Publishes `event` to every open subscription of its type. Never blocks, never suspends.
    func publish<Event: TelemetryEvent>(_ event: Event)

    /// Opens a subscription to events of `type`, buffering at most `bufferSize` undelivered events.
    func subscribe<Event: TelemetryEvent>(
        _ type: Event.Type, bufferSize: Int, dropPolicy: TelemetryDropPolicy
    ) -> TelemetrySubscription<Event>

    /// Ends every subscription: iterators return the events still buffered, then `nil`.
    func finish()

    /// Counters since creation.
    var stats: TelemetryBusStats { get }
}

extension TelemetryBus {
    /// Opens a subscription with a 1,024-event buffer that drops the oldest event when full.
    public func subscribe<Event: TelemetryEvent>(_ type: Event.Type) -> TelemetrySubscription<Event> {
        subscribe(type, bufferSize: 1024, dropPolicy: .dropOldest)
    }

    /// Opens a subscription with the given buffer size that drops the oldest event when full.
    public func subscribe<Event: TelemetryEvent>(_ type: Event.Type, bufferSize: Int) -> TelemetrySubscription<Event> {
        subscribe(type, bufferSize: bufferSize, dropPolicy: .dropOldest)
    }
}
