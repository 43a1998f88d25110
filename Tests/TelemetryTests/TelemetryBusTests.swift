import Testing

@testable import Telemetry

@Suite("In-process telemetry bus")
struct TelemetryBusTests {
    @Test("a subscriber receives the events of its type, in order, and no others")
    func deliversByType() async {
        let bus = InProcessTelemetryBus()
        let loads = bus.subscribe(PeerLoadReport.self, bufferSize: 16)
        let tokens = bus.subscribe(TokenEvent.self, bufferSize: 16)
        for i in 0..<5 { bus.publish(PeerLoadReport(peerID: "p\(i)", latencyMs: Double(i))) }
        bus.publish(TokenEvent(action: .revoked, peerID: "p9", sequence: 7))
        bus.finish()
        var seen: [String] = []
        for await e in loads { seen.append(e.peerID) }
        #expect(seen == ["p0", "p1", "p2", "p3", "p4"])
        var tokenEvents: [TokenEvent] = []
        for await e in tokens { tokenEvents.append(e) }
        #expect(tokenEvents == [TokenEvent(action: .revoked, peerID: "p9", sequence: 7)])
        #expect(bus.stats.published == 6)
        #expect(bus.stats.dropped == 0)
    }

    @Test("a slow subscriber never blocks publishers: with drop-oldest it keeps the newest events and counts drops")
    func dropOldest() async {
        let bus = InProcessTelemetryBus()
        let sub = bus.subscribe(LogOperationTiming.self, bufferSize: 4, dropPolicy: .dropOldest)
        for i in 0..<10 { bus.publish(LogOperationTiming(operation: "append", nanoseconds: Int64(i))) }
        #expect(sub.droppedCount == 6)
        #expect(sub.bufferedCount == 4)
        #expect(bus.stats.dropped == 6)
        bus.finish()
        var values: [Int64] = []
        for await e in sub { values.append(e.nanoseconds) }
        #expect(values == [6, 7, 8, 9])
    }

    @Test("with drop-newest a full buffer keeps what it holds and discards the new event")
    func dropNewest() async {
        let bus = InProcessTelemetryBus()
        let sub = bus.subscribe(LogOperationTiming.self, bufferSize: 3, dropPolicy: .dropNewest)
        for i in 0..<8 { bus.publish(LogOperationTiming(operation: "get", nanoseconds: Int64(i))) }
        #expect(sub.droppedCount == 5)
        bus.finish()
        var values: [Int64] = []
        for await e in sub { values.append(e.nanoseconds) }
        #expect(values == [0, 1, 2])
    }

    @Test("each subscriber has its own buffer: a slow one drops, a fast one does not")
    func independentBuffers() async {
        let bus = InProcessTelemetryBus()
        let slow = bus.subscribe(ReplicationProgress.self, bufferSize: 2)
        let fast = bus.subscribe(ReplicationProgress.self, bufferSize: 100)
        for i in 0..<50 { bus.publish(ReplicationProgress(peerID: "a", contiguousLength: UInt64(i), remoteLength: 60)) }
        bus.finish()
        var n = 0
        for await _ in fast { n += 1 }
        #expect(n == 50)
        #expect(fast.droppedCount == 0)
        #expect(slow.droppedCount == 48)
    }

    @Test("a waiting consumer is resumed by the next publish")
    func waitingConsumer() async throws {
        let bus = InProcessTelemetryBus()
        let sub = bus.subscribe(TokenEvent.self, bufferSize: 8)
        let consumer = Task { () -> [UInt64] in
            var got: [UInt64] = []
            for await e in sub {
                got.append(e.sequence ?? 0)
                if got.count == 100 { break }
            }
            return got
        }
        for i in 1...100 {
            bus.publish(TokenEvent(action: .issued, peerID: "p", sequence: UInt64(i)))
            if i % 8 == 0 { await Task.yield() }
        }
        bus.finish()
        let got = await consumer.value
        // Drops are allowed (the consumer may lag), but order is preserved and nothing is invented.
        #expect(got == got.sorted())
        #expect(Set(got).count == got.count)
        #expect(UInt64(got.count) + sub.droppedCount == 100)
    }

    @Test("cancelling a subscription ends its iteration and unregisters it")
    func cancel() async {
        let bus = InProcessTelemetryBus()
        let sub = bus.subscribe(PeerLoadReport.self, bufferSize: 4)
        #expect(bus.stats.subscribers == 1)
        let waiter = Task { () -> Int in
            var n = 0
            for await _ in sub { n += 1 }
            return n
        }
        sub.cancel()
        #expect(await waiter.value == 0)
        #expect(bus.stats.subscribers == 0)
        bus.publish(PeerLoadReport(peerID: "x"))
        #expect(sub.bufferedCount == 0)
    }

    @Test("cancelling the consuming task ends its iteration")
    func taskCancellation() async {
        let bus = InProcessTelemetryBus()
        let sub = bus.subscribe(PeerLoadReport.self, bufferSize: 4)
        let waiter = Task { () -> Int in
            var n = 0
            for await _ in sub { n += 1 }
            return n
        }
        waiter.cancel()
        #expect(await waiter.value == 0)
        #expect(bus.stats.subscribers == 0)
    }

    @Test("subscribing after finish yields an ended subscription")
    func subscribeAfterFinish() async {
        let bus = InProcessTelemetryBus()
        bus.finish()
        let sub = bus.subscribe(TokenEvent.self)
        var n = 0
        for await _ in sub { n += 1 }
        #expect(n == 0)
    }

    @Test("concurrent publishers never block and every event is either delivered or counted as dropped")
    func concurrentPublishers() async {
        let bus = InProcessTelemetryBus()
        let sub = bus.subscribe(LogOperationTiming.self, bufferSize: 64)
        await withTaskGroup(of: Void.self) { group in
            for p in 0..<4 {
                group.addTask {
                    for i in 0..<500 { bus.publish(LogOperationTiming(operation: "op\(p)", nanoseconds: Int64(i))) }
                }
            }
        }
        #expect(bus.stats.published == 2000)
        #expect(UInt64(sub.bufferedCount) + sub.droppedCount == 2000)
        #expect(sub.bufferedCount == 64)
    }
}

@Suite("Telemetry subscription lifetime")
struct TelemetrySubscriptionLifetimeTests {
    @Test("an abandoned subscription is unregistered and stops buffering")
    func abandoned() {
        let bus = InProcessTelemetryBus()
        do {
            let sub = bus.subscribe(TokenEvent.self, bufferSize: 4)
            #expect(bus.stats.subscribers == 1)
            _ = sub.bufferedCount
        }
        #expect(bus.stats.subscribers == 0)
        bus.publish(TokenEvent(action: .issued, peerID: "p"))
        #expect(bus.stats.delivered == 0)
    }

    @Test("iterating an inline subscription keeps it alive until the loop ends")
    func inlineLoop() async {
        let bus = InProcessTelemetryBus()
        let task = Task { () -> Int in
            var n = 0
            for await _ in bus.subscribe(TokenEvent.self, bufferSize: 16) {
                n += 1
                if n == 3 { break }
            }
            return n
        }
        for _ in 0..<1000 where bus.stats.subscribers == 0 { await Task.yield() }
        for i in 0..<3 { bus.publish(TokenEvent(action: .issued, peerID: "p\(i)")) }
        #expect(await task.value == 3)
        #expect(bus.stats.subscribers == 0)
    }
}
