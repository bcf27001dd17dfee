import Dispatch
import Foundation
import Synchronization

/// Why the batcher refused or failed a submission.
package enum BatcherError: Error, Equatable, Sendable {
    /// Not enough free concurrency permits for the submission's inputs (TEI's 429 `overloaded`).
    case overloaded
    /// The batcher was shut down before the submission was run.
    case shutDown
}

/// What the batcher limits: TEI's `--max-batch-tokens`, `--max-batch-requests` and `--max-concurrent-requests`, plus
/// a time budget per batch and the wait after which queued work goes first whatever its size.
package struct BatcherConfiguration: Sendable, Equatable {
    /// Largest number of tokens packed into one batch (a single longer sequence still runs alone).
    package var maxBatchTokens: Int
    /// Largest number of sequences in one batch, if any.
    package var maxBatchRequests: Int?
    /// Permits, one per queued or running input sequence.
    package var maxConcurrentRequests: Int
    /// Longest wait, after a batch of several inputs, for the next requests of its clients to arrive.
    package var maxGatherSeconds: Double
    /// That wait as a fraction of the previous batch's run time (the smaller of the two bounds applies).
    package var gatherFraction: Double
    /// Target run time of one batch: its tokens are capped at this many seconds of the measured throughput (never
    /// below `minBatchTokens`). A request that arrives while a batch runs waits for it, then for its own batch, so
    /// this bounds a short request's wait behind bulk work to about twice itself. Nil: tokens alone size batches.
    package var maxBatchSeconds: Double?
    /// The floor of that cap, and the cap until a batch of at least this size has been measured.
    package var minBatchTokens: Int
    /// Once the oldest queued submission has gone this long without any of its inputs run, the next batch starts with
    /// one of them, so a stream of shorter work cannot starve it.
    package var maxQueueSeconds: Double
    /// Short work: submissions of at most this many tokens. While longer work is queued or running, short work is
    /// due once its last batch and the pause since keep it within `shortShare` of the encoder's time, or, at the
    /// latest, when waiting one more layer could make its oldest submission's answer later than twice
    /// `maxBatchSeconds` after it was queued; it then runs between two layers of the batch in progress (a batch of
    /// short submissions, at most this many tokens) instead of waiting for that batch to end: one 512-token input
    /// alone, which no batch can split, takes 0.7–1.05 s in fp32 on a 2-core Zen 3. Until due, a batch boundary
    /// passes it over for longer work. 0 (or no `maxBatchSeconds`): short work is not told apart.
    package var preemptingTokens: Int
    /// The most of the encoder's time short work takes while longer work waits: each short batch of a few queries
    /// still streams every weight and computes its rows, which took 0.06–0.13 s for 4 queries on that Zen 3, and
    /// closed-loop clients served at once would send the next at once.
    package var shortShare: Double

    /// Creates a configuration; the token and permit limits' defaults are TEI's.
    package init(
        maxBatchTokens: Int = 16384, maxBatchRequests: Int? = nil, maxConcurrentRequests: Int = 512,
        maxGatherSeconds: Double = 0.02, gatherFraction: Double = 0.05, maxBatchSeconds: Double? = nil,
        minBatchTokens: Int = 512, maxQueueSeconds: Double = 10, preemptingTokens: Int = 128,
        shortShare: Double = 0.1
    ) {
        self.maxBatchTokens = maxBatchTokens
        self.maxBatchRequests = maxBatchRequests
        self.maxConcurrentRequests = maxConcurrentRequests
        self.maxGatherSeconds = maxGatherSeconds
        self.gatherFraction = gatherFraction
        self.maxBatchSeconds = maxBatchSeconds
        self.minBatchTokens = minBatchTokens
        self.maxQueueSeconds = maxQueueSeconds
        self.preemptingTokens = preemptingTokens
        self.shortShare = shortShare
    }

    /// The largest short submission told apart from longer work: `preemptingTokens`, or 0 without a time budget.
    var shortTokens: Int { maxBatchSeconds == nil ? 0 : preemptingTokens }
}

/// One input's result with the time it waited in the queue and the time its batch took to run.
package struct BatchedOutput<Output: Sendable>: Sendable {
    /// What the encode function returned for this input.
    package var output: Output
    /// From enqueue to the start of the batch that ran this input.
    package var queueSeconds: Double
    /// Wall time of the encode call of the batch that ran this input.
    package var inferenceSeconds: Double
}

/// What one formed batch looked like, for metrics.
package struct BatchRecord: Sendable, Equatable {
    /// Number of sequences in the batch.
    package var size: Int
    /// Total tokens in the batch.
    package var tokens: Int
    /// Wall time of the encode call.
    package var inferenceSeconds: Double
    /// Whether the encode call threw.
    package var failed: Bool
    /// Inputs left in the queue once this batch was taken from it.
    package var queuedAfter: Int
    /// Whether it ran between two layers of a longer batch (`preemptingTokens`).
    package var preempting = false
}

/// A queue of input sequences in front of one encoder thread that runs them in packed batches.
///
/// Each submission first takes one permit per input (none left: `BatcherError.overloaded` at once), then its inputs
/// are queued. A dedicated thread (never the cooperative pool, so compute cannot starve I/O) forms each batch from the
/// submissions with the fewest tokens left to run first (a submission's own inputs in order), so a short query waiting
/// behind bulk work runs in the next batch; once the oldest submission has gone `maxQueueSeconds` without service, the
/// next batch starts with one of its inputs, so nothing starves. It packs as many inputs as fit `maxBatchTokens`,
/// `maxBatchRequests` and the time budget, calls `encode` once with all of them, and answers each submission when all
/// its inputs are done. Inputs queued while a batch runs form the next one, except short submissions once due (see
/// `BatcherConfiguration.preemptingTokens`): `encode` calls back between two layers, and they run there in a batch of
/// their own. Cancelling the submitting task removes its still-queued inputs.
package final class Batcher<Input: Sendable, Output: Sendable>: Sendable {
    /// Runs one packed batch; must return one output per input, in order, and should call `betweenLayers` after each
    /// layer but the last, on the calling thread, when none of its own work is in flight: short work may run a whole
    /// batch of its own there (through this same function, with a `betweenLayers` that does nothing).
    package typealias EncodeFunction = @Sendable (_ inputs: [Input], _ betweenLayers: () -> Void) throws -> [Output]

    private struct Entry {
        var requestID: UInt64
        var index: Int
        var input: Input
        var tokens: Int
        var enqueuedAt: UInt64
    }

    private struct Pending {
        var continuation: CheckedContinuation<[BatchedOutput<Output>], any Error>?
        var results: [Result<BatchedOutput<Output>, any Error>?]
        var remaining: Int
        var permitsHeld: Int
        var cancelled = false
        /// When a batch with its inputs last ended (or it was submitted): how long it has gone without service.
        var servedAt: UInt64
    }

    private struct State {
        /// Queued inputs in arrival order; a submission's inputs are appended together, so they stay adjacent.
        var queue: [Entry] = []
        var pending: [UInt64: Pending] = [:]
        var nextRequestID: UInt64 = 0
        var freePermits: Int
        var stopping = false
        /// Encoder throughput measured on batches of at least `minBatchTokens` (nil until one has run).
        var tokensPerSecond: Double?
        /// The last batch was short work that left a larger input out for want of room: the next goes by arrival.
        var arrivalOrderNext = false
        /// The oldest queued submission, and since when it has been the oldest.
        var head: (requestID: UInt64, since: UInt64)?
        /// When the last batch of short work (`preemptingTokens`) ended, and how long it ran.
        var lastShort: (end: UInt64, seconds: Double)?
        /// The time between the last two layer boundaries of a batch: how long short work may wait for the next one.
        var layerSeconds = 0.0

        /// Notes a new oldest submission after the queue changed at `now`.
        mutating func updateHead(_ now: UInt64) {
            guard let first = queue.first else { return head = nil }
            if head?.requestID != first.requestID { head = (first.requestID, now) }
        }
        /// Permit reservations handed out and not yet submitted or given back (requests being tokenized), and how
        /// many have been submitted or given back so far.
        var admitted = 0
        var resolved = 0

        mutating func resolveAdmission() {
            admitted -= 1
            resolved += 1
        }

        var queuedCount: Int { queue.count }
    }

    /// The limits this batcher enforces.
    package let configuration: BatcherConfiguration
    private let encode: EncodeFunction
    private let onBatch: @Sendable (BatchRecord) -> Void
    private let state: Mutex<State>
    // Counts enqueues (and the stop request); the encoder thread waits on it only when the queue is empty.
    private let wakeUp = DispatchSemaphore(value: 0)
    private let exit = ExitSignal()

    /// Starts the encoder thread; `onBatch` is called on it after every batch.
    package init(
        configuration: BatcherConfiguration,
        threadName: String = "encoder",
        encode: @escaping EncodeFunction,
        onBatch: @escaping @Sendable (BatchRecord) -> Void = { _ in }
    ) {
        precondition(configuration.maxBatchTokens > 0, "maxBatchTokens must be positive")
        precondition((configuration.maxBatchRequests ?? 1) > 0, "maxBatchRequests must be positive")
        self.configuration = configuration
        self.encode = encode
        self.onBatch = onBatch
        self.state = Mutex(State(freePermits: configuration.maxConcurrentRequests))
        let thread = Thread { [self] in self.encoderLoop() }
        thread.name = threadName
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    /// Number of inputs waiting in the queue (TEI's `te_queue_size`).
    package var queuedCount: Int { state.withLock { $0.queuedCount } }

    /// Number of permits not held by a queued or running input.
    package var freePermits: Int { state.withLock { $0.freePermits } }

    /// Takes `count` permits now, for inputs that will be submitted once tokenized.
    ///
    /// Throws `BatcherError.overloaded` at once when fewer are free (TEI acquires its permits before tokenizing).
    /// Permits not handed to `submit` are given back when the reservation is released.
    package func reservePermits(_ count: Int) throws(BatcherError) -> PermitReservation {
        try state.withLock { state throws(BatcherError) in
            if state.stopping { throw .shutDown }
            guard state.freePermits >= count else { throw .overloaded }
            state.freePermits -= count
            state.admitted += 1
        }
        return PermitReservation(count: count) { [self] count in
            state.withLock { state in
                state.freePermits += count
                state.resolveAdmission()
            }
            wakeUp.signal()
        }
    }

    /// Queues `inputs` (with their token counts, which decide batch packing) and returns their outputs in order.
    ///
    /// Throws `BatcherError.overloaded` at once when fewer than `inputs.count` permits are free,
    /// `CancellationError` when the calling task is cancelled before its inputs ran, or the error `encode` threw
    /// for the first failed input.
    package func submit(_ inputs: [Input], tokenCounts: [Int]) async throws -> [BatchedOutput<Output>] {
        try await submit(inputs, tokenCounts: tokenCounts, permits: reservePermits(inputs.count))
    }

    /// Like `submit(_:tokenCounts:)`, with permits reserved beforehand (one per input).
    package func submit(
        _ inputs: [Input], tokenCounts: [Int], permits: PermitReservation
    ) async throws -> [BatchedOutput<Output>] {
        precondition(inputs.count == tokenCounts.count, "one token count per input")
        precondition(permits.count == inputs.count, "one permit per input")
        guard permits.take() else { preconditionFailure("a permit reservation is used once") }
        state.withLock { $0.resolveAdmission() }
        if inputs.isEmpty { return [] }
        let requestID = try state.withLock { state throws(BatcherError) -> UInt64 in
            if state.stopping {
                state.freePermits += inputs.count
                throw .shutDown
            }
            let id = state.nextRequestID
            state.nextRequestID += 1
            state.pending[id] = Pending(
                continuation: nil, results: Array(repeating: nil, count: inputs.count),
                remaining: inputs.count, permitsHeld: inputs.count, servedAt: DispatchTime.now().uptimeNanoseconds)
            return id
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let enqueued = state.withLock { state -> Bool in
                    guard state.pending[requestID]?.cancelled == false else { return false }
                    state.pending[requestID]?.continuation = continuation
                    let now = DispatchTime.now().uptimeNanoseconds
                    for (index, input) in inputs.enumerated() {
                        state.queue.append(
                            Entry(
                                requestID: requestID, index: index, input: input, tokens: tokenCounts[index],
                                enqueuedAt: now))
                    }
                    state.updateHead(now)
                    return true
                }
                if enqueued {
                    wakeUp.signal()
                } else {
                    state.withLock { state in Self.release(requestID, in: &state) }
                    continuation.resume(throwing: CancellationError())
                }
            }
        } onCancel: {
            cancel(requestID)
        }
    }

    /// Stops accepting work; the queued work still runs, then the encoder thread exits. Returns at once.
    package func shutdown() {
        let first = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        if first { wakeUp.signal() }
    }

    /// Returns once the encoder thread has run the last queued batch and exited (after `shutdown()`).
    package func stopped() async {
        await exit.wait()
    }

    private func cancel(_ requestID: UInt64) {
        let continuation = state.withLock { state -> CheckedContinuation<[BatchedOutput<Output>], any Error>? in
            guard var pending = state.pending[requestID] else { return nil }
            guard let continuation = pending.continuation else {
                // Cancelled before the inputs were queued: `submit` sees the flag and gives up.
                pending.cancelled = true
                state.pending[requestID] = pending
                return nil
            }
            let live = state.queue.filter { $0.requestID != requestID }
            let removed = state.queuedCount - live.count
            state.queue = live
            state.updateHead(DispatchTime.now().uptimeNanoseconds)
            // Inputs already in a running batch keep their permits until that batch returns.
            pending.remaining -= removed
            pending.permitsHeld -= removed
            state.freePermits += removed
            pending.continuation = nil
            pending.cancelled = true
            if pending.remaining == 0 {
                state.pending[requestID] = nil
            } else {
                state.pending[requestID] = pending
            }
            return continuation
        }
        continuation?.resume(throwing: CancellationError())
    }

    private static func release(_ requestID: UInt64, in state: inout State) {
        if let pending = state.pending.removeValue(forKey: requestID) {
            state.freePermits += pending.permitsHeld
        }
    }

    /// The token cap of the next batch: `maxBatchTokens`, lowered to `maxBatchSeconds` of measured throughput.
    private static func tokenCap(_ state: State, configuration: BatcherConfiguration) -> Int {
        guard let seconds = configuration.maxBatchSeconds else { return configuration.maxBatchTokens }
        let budget = state.tokensPerSecond.map { Int(min($0 * seconds, Double(Int.max / 2))) } ?? 0
        return min(configuration.maxBatchTokens, max(configuration.minBatchTokens, budget))
    }

    /// One run of adjacent queue entries per submission, in queue order: where it starts and ends, and its tokens.
    private static func submissionRuns(_ queue: [Entry]) -> [(start: Int, end: Int, tokens: Int)] {
        var runs: [(start: Int, end: Int, tokens: Int)] = []
        for (position, entry) in queue.enumerated() {
            if let last = runs.last, queue[last.start].requestID == entry.requestID {
                runs[runs.count - 1].end = position + 1
                runs[runs.count - 1].tokens += entry.tokens
            } else {
                runs.append((position, position + 1, entry.tokens))
            }
        }
        return runs
    }

    /// Whether short work told apart (`preemptingTokens`, `maxBatchSeconds`) whose oldest submission was queued at
    /// `enqueuedAt` may run now, while longer work waits: see `preemptingTokens`.
    private static func shortWorkDue(
        _ state: State, configuration: BatcherConfiguration, enqueuedAt: UInt64, now: UInt64
    ) -> Bool {
        guard let budget = configuration.maxBatchSeconds else { return true }
        // Twice the estimates (the next boundary and the short batch) as margin: both vary from one to the next.
        let latest = 2 * max(0, budget) - 2 * (state.layerSeconds + (state.lastShort?.seconds ?? 0))
        if now &- min(now, enqueuedAt) >= UInt64(max(0, latest) * 1e9) { return true }
        guard let last = state.lastShort else { return true }
        let share = min(max(configuration.shortShare, 0.01), 1)
        let pause = last.seconds * (1 - share) / share
        return now &- min(now, last.end) >= UInt64(min(pause, 1e6) * 1e9)
    }

    /// Takes the short submissions that may run between two layers of the batch in progress, if short work is due:
    /// the oldest first, then the others by fewest tokens while the batch stays within `preemptingTokens` (and
    /// `maxBatchRequests`). Empty when none is due.
    private static func preemptingBatch(from state: inout State, configuration: BatcherConfiguration, now: UInt64)
        -> [Entry]
    {
        let limit = configuration.shortTokens
        guard limit > 0, !state.queue.isEmpty else { return [] }
        let runs = submissionRuns(state.queue)
        let short = runs.filter { $0.tokens <= limit }
        // The queue is in arrival order: the first short run is the one that has waited longest.
        guard let oldest = short.first,
            shortWorkDue(
                state, configuration: configuration, enqueuedAt: state.queue[oldest.start].enqueuedAt, now: now)
        else { return [] }
        let ordered = [oldest] + short.dropFirst().sorted { $0.tokens < $1.tokens }
        var taken = [Bool](repeating: false, count: state.queue.count)
        var batch: [Entry] = []
        var tokens = 0
        for run in ordered where tokens + run.tokens <= limit {
            if let maxRequests = configuration.maxBatchRequests, batch.count + (run.end - run.start) > maxRequests {
                continue
            }
            for position in run.start..<run.end {
                batch.append(state.queue[position])
                taken[position] = true
            }
            tokens += run.tokens
        }
        state.queue = zip(state.queue, taken).filter { !$0.1 }.map(\.0)
        state.updateHead(now)
        return batch
    }

    /// Takes the next batch: the oldest submission's next input if it went `maxQueueSeconds` unserved, then submissions
    /// by fewest queued tokens (ties by arrival), each contributing its inputs in order while they fit the caps.
    private static func nextBatch(from state: inout State, configuration: BatcherConfiguration, now: UInt64) -> [Entry]
    {
        guard !state.queue.isEmpty else { return [] }
        let runs = submissionRuns(state.queue)
        // Only the oldest submission can starve, and only from when it became the oldest: before that it waited
        // behind older work, not passed over. Counting from submission let each bulk request that reached the head
        // lead a full batch at once and hold that batch's queries for one more (query p99 1.85 s behind bulk work).
        let ageLimit = UInt64(max(0, configuration.maxQueueSeconds) * 1e9)
        // The queue is in arrival order, so the first run is the oldest submission.
        state.updateHead(now)
        let headID = state.queue[0].requestID
        let servedAt = max(state.pending[headID]?.servedAt ?? now, state.head?.since ?? now)
        let starving = now &- min(now, servedAt) >= ageLimit
        // A batch of a few short rows still streams every weight (4 queries: ~0.1 s in fp32 on a 2-core Zen 3, one
        // 512-token input 0.9 s), so short batches back to back held bulk work to 53% of its rate alone. After one
        // that left a longer input out, the next goes by arrival: short and long batches alternate.
        let arrivalOrder = state.arrivalOrderNext
        state.arrivalOrderNext = false
        // Short work not yet due leaves this batch to longer work, and runs between its layers once due.
        let limit = configuration.shortTokens
        var passedOver = false
        if runs.contains(where: { $0.tokens > limit }), let oldestShort = runs.first(where: { $0.tokens <= limit }) {
            let enqueuedAt = state.queue[oldestShort.start].enqueuedAt
            passedOver = !shortWorkDue(state, configuration: configuration, enqueuedAt: enqueuedAt, now: now)
        }
        var slices = runs.indices.filter { !passedOver || runs[$0].tokens > limit }.sorted { a, b in
            arrivalOrder || runs[a].tokens == runs[b].tokens ? a < b : runs[a].tokens < runs[b].tokens
        }.map { runs[$0].start..<runs[$0].end }
        if starving {
            // Its first input goes first; the rest keep their place by size.
            slices = [0..<1] + slices.map { $0.lowerBound == 0 ? 1..<$0.upperBound : $0 }
        }
        let cap = tokenCap(state, configuration: configuration)
        var taken = [Bool](repeating: false, count: state.queue.count)
        var batch: [Entry] = []
        var tokens = 0
        var leftOut = false
        selection: for slice in slices {
            for position in slice {
                if let maxRequests = configuration.maxBatchRequests, batch.count >= maxRequests { break selection }
                let entry = state.queue[position]
                // Another submission's shorter inputs may still fit; this one's later inputs wait their turn.
                if !batch.isEmpty && tokens + entry.tokens > cap {
                    leftOut = true
                    break
                }
                batch.append(entry)
                tokens += entry.tokens
                taken[position] = true
            }
            if tokens >= cap { break }
        }
        state.arrivalOrderNext = !arrivalOrder && leftOut && tokens * 2 < cap
        state.queue = zip(state.queue, taken).filter { !$0.1 }.map(\.0)
        state.updateHead(now)
        return batch
    }

    private func encoderLoop() {
        var previous: (size: Int, seconds: Double)?
        while true {
            if let previous { gather(answered: previous.size, previousSeconds: previous.seconds) }
            let next = state.withLock { state -> (batch: [Entry], queuedAfter: Int)? in
                let batch = Self.nextBatch(
                    from: &state, configuration: configuration, now: DispatchTime.now().uptimeNanoseconds)
                if batch.isEmpty && state.stopping { return nil }
                return (batch, state.queuedCount)
            }
            guard let (batch, queuedAfter) = next else { break }
            if batch.isEmpty {
                wakeUp.wait()
                continue
            }
            previous = (batch.count, run(batch, queuedAfter: queuedAfter))
        }
        exit.fire()
    }

    /// Closed-loop clients answered by one batch send their next requests a moment after it ends. Taking the queue
    /// at once would run what queued during the batch plus the first of them, and leave the others to a batch of
    /// their own: the clients split into groups that alternate and each pass runs at a fraction of the batch size it
    /// could have. So after a batch of several inputs, wait until those inputs' worth of new ones has joined what is
    /// queued, or the queue fills a batch, or a window of at most `gatherFraction` of that batch's time (and
    /// `maxGatherSeconds`) has passed. Requests admitted during the batch and still being tokenized are waited for
    /// in the same window: otherwise a query that arrived during a long batch, but reached the queue a moment after
    /// it ended, would wait out one more long batch (0.7–1.05 s for one 512-token input on a 2-core Zen 3).
    private func gather(answered: Int, previousSeconds: Double) {
        let window = min(configuration.maxGatherSeconds, configuration.gatherFraction * previousSeconds)
        guard window > 0 else { return }
        let deadline = DispatchTime.now() + window
        let (queued, admitted, resolved) = state.withLock { ($0.queuedCount, $0.admitted, $0.resolved) }
        let needed = answered > 1 ? min(queued + answered, configuration.maxBatchRequests ?? .max) : 0
        let resolvedTarget = resolved + admitted
        guard needed > 0 || admitted > 0 else { return }
        while true {
            let enough = state.withLock { state -> Bool in
                if state.stopping { return true }
                if state.queuedCount >= needed && state.resolved >= resolvedTarget { return true }
                let queuedTokens = state.queue.reduce(0) { $0 + $1.tokens }
                return queuedTokens >= Self.tokenCap(state, configuration: configuration)
            }
            if enough || wakeUp.wait(timeout: deadline) == .timedOut { return }
        }
    }

    /// Runs one batch, answers the submissions it completes, and returns its encode time in seconds, less the time
    /// of the short batches it let run between its layers (only a batch that is not itself preempting lets them).
    private func run(_ batch: [Entry], queuedAfter: Int, preempting: Bool = false) -> Double {
        let tokens = batch.reduce(0) { $0 + $1.tokens }
        let start = DispatchTime.now().uptimeNanoseconds
        var pausedSeconds = 0.0
        var lastBoundary = start
        let outcome: Result<[Output], any Error> = Result {
            let outputs = try encode(batch.map(\.input)) {
                // A batch no longer than what may preempt it would gain nothing from pausing.
                guard !preempting, tokens > configuration.shortTokens else { return }
                let now = DispatchTime.now().uptimeNanoseconds
                let short = state.withLock { state -> (batch: [Entry], queuedAfter: Int) in
                    state.layerSeconds = Double(now &- min(now, lastBoundary)) / 1e9
                    let batch = Self.preemptingBatch(from: &state, configuration: configuration, now: now)
                    return (batch, state.queuedCount)
                }
                if !short.batch.isEmpty {
                    pausedSeconds += run(short.batch, queuedAfter: short.queuedAfter, preempting: true)
                }
                lastBoundary = DispatchTime.now().uptimeNanoseconds
            }
            precondition(outputs.count == batch.count, "encode must return one output per input")
            return outputs
        }
        let end = DispatchTime.now().uptimeNanoseconds
        let inferenceSeconds = max(0, Double(end - start) / 1e9 - pausedSeconds)
        var answers:
            [(CheckedContinuation<[BatchedOutput<Output>], any Error>, Result<[BatchedOutput<Output>], any Error>)] = []
        state.withLock { state in
            // Smaller batches stream the weights for few rows and understate the rate; a failed one measured nothing.
            if tokens >= configuration.minBatchTokens, inferenceSeconds > 0, (try? outcome.get()) != nil {
                let rate = Double(tokens) / inferenceSeconds
                state.tokensPerSecond = state.tokensPerSecond.map { 0.5 * $0 + 0.5 * rate } ?? rate
            }
            if tokens <= configuration.shortTokens { state.lastShort = (end, inferenceSeconds) }
            for (position, entry) in batch.enumerated() {
                guard var pending = state.pending[entry.requestID] else { continue }
                let queueSeconds = Double(start &- min(start, entry.enqueuedAt)) / 1e9
                pending.results[entry.index] = outcome.map {
                    BatchedOutput(output: $0[position], queueSeconds: queueSeconds, inferenceSeconds: inferenceSeconds)
                }
                pending.remaining -= 1
                pending.servedAt = end
                pending.permitsHeld -= 1
                state.freePermits += 1
                if pending.remaining > 0 {
                    state.pending[entry.requestID] = pending
                    continue
                }
                state.pending[entry.requestID] = nil
                guard let continuation = pending.continuation, !pending.cancelled else { continue }
                answers.append((continuation, Self.collect(pending.results)))
            }
        }
        for (continuation, result) in answers {
            continuation.resume(with: result)
        }
        onBatch(
            BatchRecord(
                size: batch.count, tokens: tokens, inferenceSeconds: inferenceSeconds,
                failed: (try? outcome.get()) == nil, queuedAfter: queuedAfter, preempting: preempting))
        return inferenceSeconds
    }

    /// All outputs in input order, or the first failure in input order.
    private static func collect(
        _ results: [Result<BatchedOutput<Output>, any Error>?]
    ) -> Result<[BatchedOutput<Output>], any Error> {
        Result {
            try results.map { try $0!.get() }
        }
    }
}

/// Permits taken from a batcher ahead of a submission; given back on release unless a submission used them.
package final class PermitReservation: Sendable {
    /// Number of permits held.
    package let count: Int
    private let giveBack: Mutex<(@Sendable (Int) -> Void)?>

    init(count: Int, giveBack: @escaping @Sendable (Int) -> Void) {
        self.count = count
        self.giveBack = Mutex(giveBack)
    }

    /// Hands the permits over to a submission; false if they were already handed over.
    func take() -> Bool {
        giveBack.withLock { $0.take() } != nil
    }

    deinit {
        if let giveBack = giveBack.withLock({ $0.take() }) { giveBack(count) }
    }
}

/// A one-shot event a thread fires and async code awaits without blocking a cooperative thread.
final class ExitSignal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiters = state.withLock { state in
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let fired = state.withLock { state in
                if !state.fired { state.waiters.append(continuation) }
                return state.fired
            }
            if fired { continuation.resume() }
        }
    }
}
