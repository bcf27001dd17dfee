import Dispatch
import Synchronization
import TestSupport
import Testing

@testable import Batching

#if canImport(Glibc)
    import Glibc
#endif

/// Records every batch the encoder ran; `gate` lets a test hold the encoder thread inside a batch.
private final class EncoderProbe: Sendable {
    let batches = Mutex<[[Int]]>([])
    let gate: DispatchSemaphore?

    init(holding: Bool = false) {
        gate = holding ? DispatchSemaphore(value: 0) : nil
    }

    func encode(_ inputs: [Int]) throws -> [Int] {
        batches.withLock { $0.append(inputs) }
        gate?.wait()
        if inputs.contains(-1) { throw ProbeError.poisoned }
        return inputs.map { $0 * 10 }
    }

    /// Waits until the encoder has entered its first batch (polling: blocking here would starve the task pool).
    func waitUntilEntered() async {
        #expect(await waitUntil { !batches.withLock(\.isEmpty) }, "the encoder never entered a batch")
    }
}

private enum ProbeError: Error { case poisoned }

private func makeBatcher(
    _ probe: EncoderProbe, maxBatchTokens: Int = 100, maxBatchRequests: Int? = nil, permits: Int = 512
) -> Batcher<Int, Int> {
    Batcher(
        configuration: BatcherConfiguration(
            maxBatchTokens: maxBatchTokens, maxBatchRequests: maxBatchRequests, maxConcurrentRequests: permits),
        encode: { inputs, _ in try probe.encode(inputs) })
}

/// A gather window bounded only by `maxGatherSeconds` (10 s), so staggered clients cannot miss it on a slow machine.
private func makeGatheringBatcher(_ probe: EncoderProbe) -> Batcher<Int, Int> {
    Batcher(
        configuration: BatcherConfiguration(maxBatchTokens: 100, maxGatherSeconds: 10, gatherFraction: 1e9),
        encode: { inputs, _ in try probe.encode(inputs) })
}

/// A closed-loop client: one request, a think time of `value` × 10 ms, then the next request (`value + 10`).
private func closedLoopClient(_ batcher: Batcher<Int, Int>, _ value: Int) async throws -> [Int] {
    _ = try await batcher.submit([value], tokenCounts: [1])
    try await Task.sleep(nanoseconds: UInt64(value) * 10_000_000)
    return try await batcher.submit([value + 10], tokenCounts: [1]).map(\.output)
}

@Suite("Batcher")
struct BatcherTests {
    @Test("a submission's outputs come back in input order")
    func ordering() async throws {
        let probe = EncoderProbe()
        let batcher = makeBatcher(probe)
        defer { batcher.shutdown() }
        let outputs = try await batcher.submit([3, 1, 2], tokenCounts: [1, 1, 1])
        #expect(outputs.map(\.output) == [30, 10, 20])
    }

    @Test("inputs queued while a batch runs are packed together into the next batch, within the token budget")
    func packingWithinTokenBudget() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = makeBatcher(probe, maxBatchTokens: 10)
        defer { batcher.shutdown() }
        let first = Task { try await batcher.submit([0], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        // While batch [0] runs: five inputs of 4 tokens each; only two fit in 10 tokens.
        let waiting = (1...5).map { value in
            Task { try await batcher.submit([value], tokenCounts: [4]) }
        }
        #expect(await waitUntil { batcher.queuedCount == 5 })
        for _ in 0..<4 { probe.gate!.signal() }
        _ = try await first.value
        var values: [Int] = []
        for task in waiting { values += try await task.value.map(\.output) }
        #expect(values.sorted() == [10, 20, 30, 40, 50])
        let sizes = probe.batches.withLock { $0.map(\.count) }
        #expect(sizes == [1, 2, 2, 1])
    }

    @Test("after a batch of several inputs, its clients' next requests are gathered into one batch, not run one by one")
    func gathersClosedLoopClients() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = makeGatheringBatcher(probe)
        defer { batcher.shutdown() }
        let blocker = Task { try await batcher.submit([0], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        let clients = (1...4).map { value in Task { try await closedLoopClient(batcher, value) } }
        #expect(await waitUntil { batcher.queuedCount == 4 })
        // Enough for the six batches an ungathered run would form, so a regression fails instead of hanging.
        for _ in 0..<6 { probe.gate!.signal() }
        _ = try await blocker.value
        var second: [Int] = []
        for client in clients { second += try await client.value }
        #expect(second == [110, 120, 130, 140])
        #expect(probe.batches.withLock { $0.map(\.count) } == [1, 4, 4])
    }

    @Test("the gathered batch joins what queued during the last batch with that batch's returning clients")
    func gatherJoinsQueuedAndReturningClients() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = makeGatheringBatcher(probe)
        defer { batcher.shutdown() }
        let blocker = Task { try await batcher.submit([0], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        let returning = (1...4).map { value in Task { try await closedLoopClient(batcher, value) } }
        #expect(await waitUntil { batcher.queuedCount == 4 })
        probe.gate!.signal()
        _ = try await blocker.value
        #expect(await waitUntil { probe.batches.withLock(\.count) == 2 })
        // Two more clients arrive while the batch of four runs.
        let late = (5...6).map { value in Task { try await batcher.submit([value], tokenCounts: [1]) } }
        #expect(await waitUntil { batcher.queuedCount == 2 })
        for _ in 0..<6 { probe.gate!.signal() }
        for task in late { _ = try await task.value }
        for task in returning { _ = try await task.value }
        #expect(probe.batches.withLock { $0.map(\.count) } == [1, 4, 6])
    }

    @Test("a batch never holds more sequences than maxBatchRequests")
    func requestLimit() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = makeBatcher(probe, maxBatchTokens: 1000, maxBatchRequests: 3)
        defer { batcher.shutdown() }
        let blocker = Task { try await batcher.submit([0], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        let big = Task { try await batcher.submit(Array(1...7), tokenCounts: Array(repeating: 1, count: 7)) }
        #expect(await waitUntil { batcher.queuedCount == 7 })
        for _ in 0..<4 { probe.gate!.signal() }
        _ = try await blocker.value
        #expect(try await big.value.map(\.output) == (1...7).map { $0 * 10 })
        #expect(probe.batches.withLock { $0.map(\.count) } == [1, 3, 3, 1])
    }

    @Test("a sequence longer than the token budget still runs, alone")
    func oversizedSequenceRunsAlone() async throws {
        let probe = EncoderProbe()
        let batcher = makeBatcher(probe, maxBatchTokens: 5)
        defer { batcher.shutdown() }
        let outputs = try await batcher.submit([7, 8], tokenCounts: [50, 2])
        #expect(outputs.map(\.output) == [70, 80])
        #expect(probe.batches.withLock { $0 } == [[7], [8]])
    }

    @Test("a short submission queued behind bulk work runs in the next batch, and the bulk fills the rest")
    func shortSubmissionOvertakesBulk() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = makeBatcher(probe, maxBatchTokens: 10)
        defer { batcher.shutdown() }
        let blocker = Task { try await batcher.submit([0], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        let bulk = Task { try await batcher.submit(Array(1...6), tokenCounts: Array(repeating: 5, count: 6)) }
        #expect(await waitUntil { batcher.queuedCount == 6 })
        let query = Task { try await batcher.submit([99], tokenCounts: [2]) }
        #expect(await waitUntil { batcher.queuedCount == 7 })
        for _ in 0..<6 { probe.gate!.signal() }
        _ = try await blocker.value
        #expect(try await query.value.map(\.output) == [990])
        #expect(try await bulk.value.map(\.output) == (1...6).map { $0 * 10 })
        // Strict FIFO ran [1, 2], [3, 4], [5, 6], then [99]: the query waited for all the bulk work.
        #expect(probe.batches.withLock { $0 } == [[0], [99, 1], [2, 3], [4, 5], [6]])
    }

    @Test("a submission that has waited maxQueueSeconds leads the next batch, so it cannot starve")
    func agedSubmissionGoesFirst() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = Batcher<Int, Int>(
            configuration: BatcherConfiguration(maxBatchTokens: 10, maxQueueSeconds: 0.05),
            encode: { inputs, _ in try probe.encode(inputs) })
        defer { batcher.shutdown() }
        let blocker = Task { try await batcher.submit([0], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        let long = Task { try await batcher.submit([7], tokenCounts: [10]) }
        #expect(await waitUntil { batcher.queuedCount == 1 })
        try await Task.sleep(nanoseconds: 100_000_000)
        let short = Task { try await batcher.submit([8], tokenCounts: [1]) }
        #expect(await waitUntil { batcher.queuedCount == 2 })
        for _ in 0..<3 { probe.gate!.signal() }
        _ = try await blocker.value
        _ = try await long.value
        _ = try await short.value
        #expect(probe.batches.withLock { $0 } == [[0], [7], [8]])
    }

    @Test("an unserved oldest submission leads the next batch with one input; a short request still joins it")
    func starvingSubmissionLeadsWithOneInput() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = Batcher<Int, Int>(
            configuration: BatcherConfiguration(maxBatchTokens: 8, maxQueueSeconds: 0.05),
            encode: { inputs, _ in try probe.encode(inputs) })
        defer { batcher.shutdown() }
        let blocker = Task { try await batcher.submit([0], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        let first = Task { try await batcher.submit([11, 12, 13], tokenCounts: [4, 4, 4]) }
        #expect(await waitUntil { batcher.queuedCount == 3 })
        let second = Task { try await batcher.submit([21, 22, 23], tokenCounts: [4, 4, 4]) }
        #expect(await waitUntil { batcher.queuedCount == 6 })
        try await Task.sleep(nanoseconds: 100_000_000)
        let query = Task { try await batcher.submit([99], tokenCounts: [1]) }
        #expect(await waitUntil { batcher.queuedCount == 7 })
        for _ in 0..<8 { probe.gate!.signal() }
        _ = try await blocker.value
        _ = try await (first.value, second.value, query.value)
        // Aged submissions going first, oldest first, would have run [11, 12] and left the query behind both.
        #expect(probe.batches.withLock { $0 } == [[0], [11, 99], [12, 13], [21, 22], [23]])
    }

    @Test("younger submissions waiting behind a bulk request that is being served do not hold a short one back")
    func waitingBehindServedBulkIsNotStarving() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = Batcher<Int, Int>(
            configuration: BatcherConfiguration(maxBatchTokens: 4, maxQueueSeconds: 0.05),
            encode: { inputs, _ in try probe.encode(inputs) })
        defer { batcher.shutdown() }
        let first = Task { try await batcher.submit([11, 12, 13], tokenCounts: [4, 4, 4]) }
        await probe.waitUntilEntered()
        let second = Task { try await batcher.submit([21, 22], tokenCounts: [4, 4]) }
        #expect(await waitUntil { batcher.queuedCount == 4 })
        let query = Task { try await batcher.submit([99], tokenCounts: [1]) }
        #expect(await waitUntil { batcher.queuedCount == 5 })
        try await Task.sleep(nanoseconds: 100_000_000)
        for _ in 0..<6 { probe.gate!.signal() }
        _ = try await (first.value, second.value, query.value)
        // Leading with any submission that had waited maxQueueSeconds ran the query last, after [12], [13], [21], [22].
        #expect(probe.batches.withLock { $0 } == [[11], [99], [12], [13], [21], [22]])
    }

    @Test("a submission that waited behind older work is not starving the moment it becomes the oldest")
    func starvationCountsFromReachingTheHead() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = Batcher<Int, Int>(
            configuration: BatcherConfiguration(maxBatchTokens: 4, maxQueueSeconds: 0.3),
            encode: { inputs, _ in try probe.encode(inputs) })
        defer { batcher.shutdown() }
        let first = Task { try await batcher.submit([11, 12], tokenCounts: [4, 4]) }
        await probe.waitUntilEntered()
        let second = Task { try await batcher.submit([21, 22], tokenCounts: [4, 4]) }
        #expect(await waitUntil { batcher.queuedCount == 3 })
        try await Task.sleep(nanoseconds: 400_000_000) // the second submission is now older than maxQueueSeconds
        probe.gate!.signal()
        // [12] runs; the second is now the oldest queued.
        #expect(await waitUntil { probe.batches.withLock(\.count) == 2 })
        let query = Task { try await batcher.submit([99], tokenCounts: [1]) }
        #expect(await waitUntil { batcher.queuedCount == 3 })
        for _ in 0..<4 { probe.gate!.signal() }
        _ = try await (first.value, second.value, query.value)
        // Counting from submission, [21] led the batch after [12] and the query waited for it.
        #expect(probe.batches.withLock { $0 } == [[11], [12], [99], [21], [22]])
    }

    @Test("after a batch of short work that left a long input out, the next batch goes by arrival")
    func shortAndLongBatchesAlternate() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = makeBatcher(probe, maxBatchTokens: 8)
        defer { batcher.shutdown() }
        let blocker = Task { try await batcher.submit([0], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        let bulk = Task { try await batcher.submit([11, 12, 13], tokenCounts: [8, 8, 8]) }
        #expect(await waitUntil { batcher.queuedCount == 3 })
        let first = Task { try await batcher.submit([91], tokenCounts: [1]) }
        #expect(await waitUntil { batcher.queuedCount == 4 })
        probe.gate!.signal()
        #expect(await waitUntil { probe.batches.withLock(\.count) == 2 })
        let second = Task { try await batcher.submit([92], tokenCounts: [1]) }
        #expect(await waitUntil { batcher.queuedCount == 4 })
        for _ in 0..<6 { probe.gate!.signal() }
        _ = try await (blocker.value, bulk.value, first.value, second.value)
        // Fewest tokens first every time ran [91], [92], then the bulk: queries back to back would starve it.
        #expect(probe.batches.withLock { $0 } == [[0], [91], [11], [92], [12], [13]])
    }

    @Test("a request admitted during a batch and still being tokenized when it ends joins the next batch")
    func waitsForAdmittedRequests() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = makeGatheringBatcher(probe)
        defer { batcher.shutdown() }
        let blocker = Task { try await batcher.submit([0], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        let bulk = Task { try await batcher.submit([11], tokenCounts: [50]) }
        #expect(await waitUntil { batcher.queuedCount == 1 })
        let permits = try batcher.reservePermits(1) // a query whose tokenization is still running
        probe.gate!.signal()
        _ = try await blocker.value
        try await Task.sleep(nanoseconds: 50_000_000)
        let query = Task { try await batcher.submit([91], tokenCounts: [1], permits: permits) }
        for _ in 0..<2 { probe.gate!.signal() }
        _ = try await (bulk.value, query.value)
        // Without the wait, [11] ran the moment [0] ended and the query waited for it.
        #expect(probe.batches.withLock { $0 } == [[0], [91, 11]])
    }

    @Test("with a time budget, batches hold about that many seconds of the measured throughput")
    func timeBudgetCapsBatches() async throws {
        let batches = Mutex<[Int]>([])
        // At least 1 ms per token, so the measured rate is at most 1,000 tokens/s and 20 ms holds at most 20 tokens.
        let batcher = Batcher<Int, Int>(
            configuration: BatcherConfiguration(maxBatchTokens: 1000, maxBatchSeconds: 0.02, minBatchTokens: 4),
            encode: { inputs, _ in
                batches.withLock { $0.append(inputs.count * 2) }
                usleep(UInt32(inputs.count * 2 * 1000))
                return inputs
            })
        defer { batcher.shutdown() }
        let outputs = try await batcher.submit(Array(0..<100), tokenCounts: Array(repeating: 2, count: 100))
        #expect(outputs.map(\.output) == Array(0..<100))
        let tokens = batches.withLock { $0 }
        #expect(tokens.first == 4, "the first batch holds minBatchTokens, before any throughput is measured")
        #expect(tokens.count > 5 && tokens.allSatisfy { $0 <= 20 }, "batches: \(tokens)")
    }

    @Test("without enough free permits a submission is refused at once as overloaded, and others still run")
    func overload() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = makeBatcher(probe, permits: 3)
        defer { batcher.shutdown() }
        let holder = Task { try await batcher.submit([1, 2], tokenCounts: [1, 1]) }
        await probe.waitUntilEntered()
        #expect(batcher.freePermits == 1)
        await #expect(throws: BatcherError.overloaded) {
            try await batcher.submit([3, 4], tokenCounts: [1, 1])
        }
        #expect(batcher.freePermits == 1, "a refused submission gives back what it took")
        probe.gate!.signal()
        #expect(try await holder.value.map(\.output) == [10, 20])
        #expect(await waitUntil { batcher.freePermits == 3 })
        probe.gate!.signal()
        #expect(try await batcher.submit([3, 4], tokenCounts: [1, 1]).map(\.output) == [30, 40])
    }

    @Test("cancelling a queued submission removes its inputs from the queue and frees its permits")
    func cancellationDropsQueuedWork() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = makeBatcher(probe, permits: 10)
        defer { batcher.shutdown() }
        let running = Task { try await batcher.submit([1], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        let doomed = Task { try await batcher.submit([2, 3, 4], tokenCounts: [1, 1, 1]) }
        #expect(await waitUntil { batcher.queuedCount == 3 })
        doomed.cancel()
        await #expect(throws: CancellationError.self) { try await doomed.value }
        #expect(batcher.queuedCount == 0)
        #expect(batcher.freePermits == 9)
        probe.gate!.signal()
        _ = try await running.value
        probe.gate!.signal()
        #expect(try await batcher.submit([5], tokenCounts: [1]).map(\.output) == [50])
        #expect(probe.batches.withLock { $0 } == [[1], [5]], "the cancelled inputs never reached the encoder")
    }

    @Test("a failed batch fails every submission in it with the encoder's error, and the batcher goes on")
    func failurePropagates() async throws {
        let probe = EncoderProbe()
        let batcher = makeBatcher(probe)
        defer { batcher.shutdown() }
        await #expect(throws: ProbeError.poisoned) {
            try await batcher.submit([1, -1], tokenCounts: [1, 1])
        }
        #expect(try await batcher.submit([2], tokenCounts: [1]).map(\.output) == [20])
        #expect(batcher.freePermits == 512)
    }

    @Test("timings: queue time covers the wait behind a running batch, inference time the batch itself")
    func timings() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = makeBatcher(probe)
        defer { batcher.shutdown() }
        let first = Task { try await batcher.submit([1], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        let second = Task { try await batcher.submit([2], tokenCounts: [1]) }
        #expect(await waitUntil { batcher.queuedCount == 1 })
        // Only bounds a stalled machine cannot break: the first batch is held for a second, the second batch is not
        // held at all (both gate passes given now), so counting the queue wait as inference would show ≥ 1 s.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        probe.gate!.signal()
        probe.gate!.signal()
        let firstOutput = try await first.value[0]
        let secondOutput = try await second.value[0]
        #expect(firstOutput.inferenceSeconds >= 0.95)
        #expect(secondOutput.queueSeconds >= 0.95)
        #expect(secondOutput.inferenceSeconds < 0.5)
    }

    @Test("many concurrent submitters are all answered, each with its own outputs")
    func manySubmitters() async throws {
        let probe = EncoderProbe()
        let batcher = makeBatcher(probe, maxBatchTokens: 16)
        defer { batcher.shutdown() }
        try await withThrowingTaskGroup(of: (Int, [Int]).self) { group in
            for client in 0..<64 {
                group.addTask {
                    let inputs = [client * 100, client * 100 + 1]
                    return (client, try await batcher.submit(inputs, tokenCounts: [3, 3]).map(\.output))
                }
            }
            for try await (client, outputs) in group {
                #expect(outputs == [client * 1000, client * 1000 + 10])
            }
        }
        let batches = probe.batches.withLock { $0 }
        #expect(batches.allSatisfy { $0.count * 3 <= 16 })
        #expect(batches.reduce(0) { $0 + $1.count } == 128)
    }

    @Test("the batch observer sees the size and tokens of every batch")
    func batchRecords() async throws {
        let records = Mutex<[BatchRecord]>([])
        let batcher = Batcher<Int, Int>(
            configuration: BatcherConfiguration(maxBatchTokens: 100),
            encode: { inputs, _ in inputs },
            onBatch: { record in records.withLock { $0.append(record) } })
        _ = try await batcher.submit([1, 2, 3], tokenCounts: [5, 6, 7])
        batcher.shutdown()
        await batcher.stopped()
        let seen = records.withLock { $0 }
        #expect(seen.map(\.size) == [3])
        #expect(seen.map(\.tokens) == [18])
        #expect(seen.map(\.queuedAfter) == [0])
    }

    @Test("shutdown lets the queued work finish before the encoder thread exits")
    func shutdownDrains() async throws {
        let probe = EncoderProbe(holding: true)
        let batcher = makeBatcher(probe, maxBatchTokens: 1)
        let first = Task { try await batcher.submit([1], tokenCounts: [1]) }
        await probe.waitUntilEntered()
        let queued = Task { try await batcher.submit([2, 3], tokenCounts: [1, 1]) }
        #expect(await waitUntil { batcher.queuedCount == 2 })
        batcher.shutdown()
        for _ in 0..<3 { probe.gate!.signal() }
        await batcher.stopped()
        #expect(try await first.value.map(\.output) == [10])
        #expect(try await queued.value.map(\.output) == [20, 30])
    }

    @Test("after shutdown, submissions are refused")
    func shutdownRefuses() async throws {
        let batcher = Batcher<Int, Int>(configuration: BatcherConfiguration(), encode: { inputs, _ in inputs })
        batcher.shutdown()
        await #expect(throws: BatcherError.shutDown) { try await batcher.submit([1], tokenCounts: [1]) }
    }
}

@Suite("WorkerPool")
struct WorkerPoolTests {
    @Test("jobs run off the calling task and return their values or errors")
    func runsJobs() async throws {
        let pool = WorkerPool(threadCount: 2, name: "test-worker")
        defer { pool.shutdown() }
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 0..<50 { group.addTask { try await pool.run { value * 2 } } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(results.sorted() == (0..<50).map { $0 * 2 })
        await #expect(throws: ProbeError.poisoned) { try await pool.run { throw ProbeError.poisoned } }
    }
}
