import Dispatch
import Synchronization
import TestSupport
import Testing

@testable import Batching

#if canImport(Glibc)
    import Glibc
#endif

/// A fake encoder of `layers` layers that logs where each batch starts and ends and calls back between layers. A batch
/// holding `held` waits on `gates[n]` before its layer n, for each gate given, so a test can queue work at a point of
/// its choosing; a batch holding `slow` sleeps `slowSeconds` in its first layer.
private final class LayeredEncoder: Sendable {
    let events = Mutex<[String]>([])
    let layers: Int
    let held: Int
    let gates: [Int: DispatchSemaphore]
    let slow: Int?
    let slowSeconds: Double

    init(layers: Int = 3, held: Int = 1000, gateLayers: [Int] = [0], slow: Int? = nil, slowSeconds: Double = 0) {
        self.layers = layers
        self.held = held
        gates = Dictionary(uniqueKeysWithValues: gateLayers.map { ($0, DispatchSemaphore(value: 0)) })
        self.slow = slow
        self.slowSeconds = slowSeconds
    }

    func encode(_ inputs: [Int], _ betweenLayers: () -> Void) -> [Int] {
        events.withLock { $0.append("start \(inputs)") }
        for layer in 0..<layers {
            if layer > 0 { betweenLayers() }
            if inputs.contains(held) { gates[layer]?.wait() }
            if let slow, inputs.contains(slow), layer == 0 { usleep(UInt32(slowSeconds * 1e6)) }
        }
        events.withLock { $0.append("end \(inputs)") }
        return inputs.map { $0 * 10 }
    }

    func batcher(
        maxBatchSeconds: Double? = 0, preemptingTokens: Int = 8,
        onBatch: @escaping @Sendable (BatchRecord) -> Void = { _ in }
    ) -> Batcher<Int, Int> {
        Batcher(
            configuration: BatcherConfiguration(
                maxBatchTokens: 1000, maxBatchSeconds: maxBatchSeconds, minBatchTokens: 1,
                preemptingTokens: preemptingTokens),
            encode: { inputs, betweenLayers in self.encode(inputs, betweenLayers) },
            onBatch: onBatch)
    }

    /// Submits the held bulk input, then, once its batch has started, a query of `tokens` tokens, and returns both
    /// once the query is queued.
    func bulkThenQuery(
        _ batcher: Batcher<Int, Int>, tokens: Int = 4
    ) async -> (bulk: Task<[BatchedOutput<Int>], any Error>, query: Task<[BatchedOutput<Int>], any Error>) {
        let bulk = Task { try await batcher.submit([held], tokenCounts: [100]) }
        #expect(await started([held]))
        let query = Task { try await batcher.submit([7], tokenCounts: [tokens]) }
        #expect(await waitUntil { batcher.queuedCount == 1 })
        return (bulk, query)
    }

    func started(_ inputs: [Int]) async -> Bool {
        await waitUntil { self.events.withLock { $0.contains("start \(inputs)") } }
    }
}

private final class RecordLog: Sendable {
    let log = Mutex<[BatchRecord]>([])
}

@Suite("Batcher preemption between layers")
struct PreemptionTests {
    @Test("a short submission runs between two layers of a longer batch, not after it")
    func shortWorkRunsBetweenLayers() async throws {
        let encoder = LayeredEncoder(gateLayers: [0, 2])
        let records = RecordLog()
        let batcher = encoder.batcher(onBatch: { record in records.log.withLock { $0.append(record) } })
        defer { batcher.shutdown() }
        let (bulk, query) = await encoder.bulkThenQuery(batcher)
        encoder.gates[0]!.signal()
        // Run while the bulk batch still waits before its last layer (bounded: without preemption it would wait
        // for that layer forever).
        #expect(await waitUntil { encoder.events.withLock { $0.contains("end [7]") } })
        encoder.gates[2]!.signal()
        #expect(try await query.value.map { $0.output } == [70])
        #expect(try await bulk.value.map { $0.output } == [10000])
        #expect(encoder.events.withLock { $0 } == ["start [1000]", "start [7]", "end [7]", "end [1000]"])
        #expect(records.log.withLock { $0.map { $0.preempting } } == [true, false])
    }

    @Test(
        "longer submissions, and all when preemption or the time budget is off, wait for the batch to end",
        arguments: [(tokens: 9, preemptingTokens: 8, seconds: 0.0), (4, 8, nil), (4, 0, 0.0)])
    func otherwiseTheBatchRunsToItsEnd(tokens: Int, preemptingTokens: Int, seconds: Double?) async throws {
        let encoder = LayeredEncoder()
        let batcher = encoder.batcher(maxBatchSeconds: seconds, preemptingTokens: preemptingTokens)
        defer { batcher.shutdown() }
        let (bulk, query) = await encoder.bulkThenQuery(batcher, tokens: tokens)
        encoder.gates[0]!.signal()
        _ = try await (bulk.value, query.value)
        #expect(encoder.events.withLock { $0 } == ["start [1000]", "end [1000]", "start [7]", "end [7]"])
    }

    @Test(
        "after a short batch, the next waits until short work has had a tenth of the time, or as long as it can and still be answered within twice the time budget",
        // With a 0.3 s budget: 0.6 s less twice (10 ms for the next layer + 0.1 s for the short batch) = 0.38 s.
        arguments: [(budget: 10.0, minimum: 0.7, maximum: 5.0), (0.3, 0.3, 0.6)])
    func shortWorkKeepsItsShare(budget: Double, minimum: Double, maximum: Double) async throws {
        // The first query's batch takes 0.1 s, so the next may follow 0.9 s after it ends; 150 layers of 10 ms
        // keep the long batch running past that.
        let encoder = LayeredEncoder(layers: 150, gateLayers: [0], slow: 7, slowSeconds: 0.1)
        let batcher = Batcher<Int, Int>(
            configuration: BatcherConfiguration(
                maxBatchTokens: 1000, maxBatchSeconds: budget, minBatchTokens: 1, preemptingTokens: 8),
            encode: { inputs, betweenLayers in
                encoder.encode(inputs) {
                    // The long batch's layers take 10 ms each; the queries' take no time.
                    if inputs == [1000] { usleep(10_000) }
                    betweenLayers()
                }
            })
        defer { batcher.shutdown() }
        let (bulk, first) = await encoder.bulkThenQuery(batcher)
        encoder.gates[0]!.signal()
        _ = try await first.value
        let second = try await batcher.submit([8], tokenCounts: [4])[0]
        #expect(second.queueSeconds >= minimum && second.queueSeconds < maximum, "waited \(second.queueSeconds) s")
        _ = try await bulk.value
        #expect(
            encoder.events.withLock { $0 } == [
                "start [1000]", "start [7]", "end [7]", "start [8]", "end [8]", "end [1000]",
            ])
    }

    @Test("at a batch boundary, short work that is not due yet is passed over for longer work")
    func boundaryPassesOverShortWork() async throws {
        // The first query's 0.2 s batch makes the next due 1.8 s after it; the time budget allows 20 s.
        let encoder = LayeredEncoder(gateLayers: [0, 2], slow: 7, slowSeconds: 0.2)
        let batcher = encoder.batcher(maxBatchSeconds: 10)
        defer { batcher.shutdown() }
        let (first, query) = await encoder.bulkThenQuery(batcher)
        encoder.gates[0]!.signal()
        #expect(await waitUntil { encoder.events.withLock { $0.contains("end [7]") } })
        let second = Task { try await batcher.submit([2000], tokenCounts: [100]) }
        #expect(await waitUntil { batcher.queuedCount == 1 })
        let nextQuery = Task { try await batcher.submit([8], tokenCounts: [4]) }
        #expect(await waitUntil { batcher.queuedCount == 2 })
        encoder.gates[2]!.signal()
        _ = try await (first.value, query.value, second.value, nextQuery.value)
        #expect(
            encoder.events.withLock { $0 } == [
                "start [1000]", "start [7]", "end [7]", "end [1000]", "start [2000]", "end [2000]", "start [8]",
                "end [8]",
            ])
    }

    @Test("a preempting batch is not paused in turn, and the batch it paused leaves its time out")
    func noNestingAndPausedTimeLeftOut() async throws {
        // The first query holds before its own first layer until the second is queued, then sleeps 0.3 s.
        let encoder = LayeredEncoder(held: 7, gateLayers: [0], slow: 7, slowSeconds: 0.3)
        let gate = DispatchSemaphore(value: 0)
        let walls = WallClock()
        let batcher = Batcher<Int, Int>(
            configuration: BatcherConfiguration(
                maxBatchTokens: 1000, maxBatchSeconds: 0, minBatchTokens: 1, preemptingTokens: 8),
            encode: { inputs, betweenLayers in
                let start = DispatchTime.now().uptimeNanoseconds
                defer { walls.add(inputs[0], since: start) }
                if inputs == [1000] { gate.wait() }
                return encoder.encode(inputs, betweenLayers)
            })
        defer { batcher.shutdown() }
        let bulk = Task { try await batcher.submit([1000], tokenCounts: [100]) }
        #expect(
            await waitUntil {
                batcher.queuedCount == 0 && batcher.freePermits == batcher.configuration.maxConcurrentRequests - 1
            })
        let first = Task { try await batcher.submit([7], tokenCounts: [4]) }
        #expect(await waitUntil { batcher.queuedCount == 1 })
        gate.signal()
        #expect(await encoder.started([7]))
        let second = Task { try await batcher.submit([8], tokenCounts: [4]) }
        #expect(await waitUntil { batcher.queuedCount == 1 })
        encoder.gates[0]!.signal()
        let (bulkAnswer, firstAnswer, _) = try await (bulk.value[0], first.value[0], second.value)
        #expect(
            encoder.events.withLock { $0 }
                == ["start [1000]", "start [7]", "end [7]", "start [8]", "end [8]", "end [1000]"])
        #expect(firstAnswer.inferenceSeconds >= 0.3)
        // The bulk call's wall time less the two it made room for (at least 0.3 s): its own time.
        let wall = walls.seconds.withLock { $0 }
        let own = wall[1000, default: 0] - wall[7, default: 0] - wall[8, default: 0]
        #expect(abs(bulkAnswer.inferenceSeconds - own) < 0.1, "reported \(bulkAnswer.inferenceSeconds) s, own \(own) s")
    }
}

/// Wall time of each encode call, by its first input.
private final class WallClock: Sendable {
    let seconds = Mutex<[Int: Double]>([:])

    func add(_ input: Int, since start: UInt64) {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        seconds.withLock { $0[input] = elapsed }
    }
}
