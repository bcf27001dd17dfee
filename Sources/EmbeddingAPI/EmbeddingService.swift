import Batching
import Dispatch
import EmbeddingModel
import Embeddings
import Synchronization

/// One sequence handed to the encoder thread: its final ids, and what is wanted of it.
struct EncoderJob: Sendable {
    /// What the encoder returns for a job.
    enum Output: Sendable {
        /// The pooled (and Dense-projected) vector.
        case pooled
        /// The last layer's token states.
        case tokenLevel
        /// A classifier's logits.
        case logits
    }

    var ids: [Int32]
    var output: Output
    /// Token types, one per id, for `.logits` (a BERT pair's second text is type 1).
    var typeIDs: [Int32]? = nil
}

/// What an embedding request wants of each input.
enum EmbeddingOutput: Sendable, Equatable {
    /// The pooled vector cut to `dimensions` (all of it when nil), then L2-normalized if `normalize`.
    case pooled(dimensions: Int?, normalize: Bool)
    /// The last layer's token states, as they are.
    case tokenLevel
}

/// A tokenized input ready to queue.
struct PreparedInput: Sendable {
    var ids: [Int32]
    var typeIDs: [Int32]? = nil
}

/// Results of one embedding request with TEI's per-request accounting.
struct EncodedBatch: Sendable {
    /// Per input: the pooled vector as the request asked for it (cut and normalized), a flattened
    /// `[tokens × hidden]` matrix for token-level requests, or a classifier's logits.
    var outputs: [[Float]]
    /// Final token count per input (prompt and special tokens included).
    var tokenCounts: [Int]
    var characters: Int
    /// Means over inputs, in seconds.
    var tokenizationSeconds: Double
    var queueSeconds: Double
    var inferenceSeconds: Double
    /// For token-level requests, their share of the server-wide token-level budget, held until the response is built.
    var tokenLevelReservation: TokenLevelReservation?
}

/// Tokens of token-level (`/embed_all`) requests being computed or encoded at once, server-wide: each token returns
/// `hidden` floats, about 8.8 KB of JSON at 768 floats, so 8 × 2,048 tokens answer with 144 MB. The budget is one
/// batch (`--max-batch-tokens`); a request past what is free gets TEI's 429, as when permits run out.
final class TokenLevelBudget: Sendable {
    private let free: Mutex<Int>

    init(tokens: Int) { free = Mutex(tokens) }

    var freeTokens: Int { free.withLock { $0 } }

    func reserve(_ tokens: Int) -> TokenLevelReservation? {
        let granted = free.withLock { free -> Bool in
            guard free >= tokens else { return false }
            free -= tokens
            return true
        }
        return granted ? TokenLevelReservation(tokens: tokens, budget: self) : nil
    }

    fileprivate func release(_ tokens: Int) { free.withLock { $0 += tokens } }
}

/// Tokens taken from a `TokenLevelBudget`; given back when the last copy of the batch holding it goes away.
final class TokenLevelReservation: Sendable {
    let tokens: Int
    private let budget: TokenLevelBudget

    fileprivate init(tokens: Int, budget: TokenLevelBudget) {
        self.tokens = tokens
        self.budget = budget
    }

    deinit { budget.release(tokens) }
}

/// The request pipeline behind every route: validation, prompts, tokenization (on worker threads past 1 KB), the
/// batcher.
package final class EmbeddingService: Sendable {
    /// The served model.
    package let model: ModelDescription
    /// The server's settings.
    package let configuration: APIConfiguration
    /// TEI's metrics, rendered at `/metrics`.
    package let metrics: Metrics
    let backend: any EmbeddingBackend
    let batcher: Batcher<EncoderJob, [Float]>
    let tokenizers: WorkerPool
    /// The prompt applied when a request names none (`--default-prompt` or `--default-prompt-name`).
    let defaultPrompt: String?
    /// False from a failed batch until the next successful one.
    let health: HealthFlag
    let tokenLevelBudget: TokenLevelBudget

    /// Checks the settings against the model, then starts the tokenization workers and the encoder thread.
    package init(model: ModelDescription, configuration: APIConfiguration, backend: any EmbeddingBackend)
        throws(APIError)
    {
        self.model = model
        self.configuration = configuration
        self.backend = backend
        if let name = configuration.defaultPromptName {
            defaultPrompt = try Self.prompt(named: name, in: model.prompts)
        } else {
            defaultPrompt = configuration.defaultPrompt
        }
        let metrics = Metrics(maxInputLength: model.maxInputLength)
        self.metrics = metrics
        let health = HealthFlag()
        self.health = health
        tokenLevelBudget = TokenLevelBudget(tokens: configuration.maxBatchTokens)
        tokenizers = WorkerPool(threadCount: max(1, configuration.tokenizationWorkers), name: "tokenizer")
        batcher = Batcher(
            configuration: BatcherConfiguration(
                maxBatchTokens: configuration.maxBatchTokens, maxBatchRequests: configuration.maxBatchRequests,
                maxConcurrentRequests: configuration.maxConcurrentRequests,
                maxBatchSeconds: configuration.maxBatchSeconds),
            encode: { jobs, betweenLayers in try Self.encode(jobs, with: backend, betweenLayers: betweenLayers) },
            onBatch: { record in
                health.healthy.withLock { $0 = !record.failed }
                metrics.set("te_queue_size", Double(record.queuedAfter))
                metrics.observe("te_batch_next_size", Double(record.size))
                metrics.observe("te_batch_next_tokens", Double(record.tokens))
            })
    }

    /// Lets queued work finish, then stops the encoder thread and the tokenization workers.
    package func shutdown() async {
        tokenizers.shutdown()
        await tokenizers.stopped()
        batcher.shutdown()
        await batcher.stopped()
    }

    /// Tokenizes and embeds one short text straight through the backend, outside the batcher and the metrics, so
    /// the first client request does not pay the first-touch costs (weight pages, activation buffers, compute
    /// threads). Meant for start-up, before the server listens; returns the seconds it took.
    package func warmUp() throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        let ids = try backend.tokenize(
            "warm-up", addSpecialTokens: true, maxLength: model.maxInputLength, direction: .right
        ).ids
        _ = try backend.embed([ids], betweenLayers: {})
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// Runs pooled, token-level and classifier jobs of one batch as (at most) one packed encoder call each (a
    /// server's model takes one kind of job besides the health probe's pooled one), each pausing at `betweenLayers`.
    private static func encode(
        _ jobs: [EncoderJob], with backend: any EmbeddingBackend, betweenLayers: () -> Void
    ) throws -> [[Float]] {
        var outputs = [[Float]](repeating: [], count: jobs.count)
        let pooled = jobs.indices.filter { jobs[$0].output == .pooled }
        let tokenLevel = jobs.indices.filter { jobs[$0].output == .tokenLevel }
        let logits = jobs.indices.filter { jobs[$0].output == .logits }
        if !pooled.isEmpty {
            let vectors = try backend.embed(pooled.map { jobs[$0].ids }, betweenLayers: betweenLayers)
            for (index, vector) in zip(pooled, vectors) { outputs[index] = vector }
        }
        if !tokenLevel.isEmpty {
            let states = try backend.tokenEmbeddings(tokenLevel.map { jobs[$0].ids }, betweenLayers: betweenLayers)
            for (index, matrix) in zip(tokenLevel, states) { outputs[index] = matrix }
        }
        if !logits.isEmpty {
            let scores = try backend.classify(
                logits.map { jobs[$0].ids },
                tokenTypes: logits.map { jobs[$0].typeIDs ?? Array(repeating: 0, count: jobs[$0].ids.count) },
                betweenLayers: betweenLayers)
            for (index, row) in zip(logits, scores) { outputs[index] = row }
        }
        return outputs
    }

    /// Looks a prompt up by name with the library's rule (`Prompt.named`), with TEI's message when it is missing.
    static func prompt(named name: String, in prompts: [String: String]) throws(APIError) -> String {
        do throws(EmbeddingsError) {
            return try PromptCatalog(prompts: prompts).text(for: .named(name)) ?? ""
        } catch {
            guard case .unknownPrompt(_, let available) = error, !available.isEmpty else {
                throw .inputValidation(
                    "`default-prompt-name` is set to `\(name)` but no prompts were found in the Sentence Transformers configuration"
                )
            }
            let quoted = available.map { "\"\($0)\"" }.joined(separator: ", ")
            throw .inputValidation(
                "`default-prompt-name` is set to `\(name)` but it was not found in the Sentence Transformers prompts. Available prompts: [\(quoted)]"
            )
        }
    }

    /// The prompt for a request: its `prompt_name`, else the server default.
    func resolvePrompt(_ promptName: String?) throws(APIError) -> String? {
        guard let promptName else { return defaultPrompt }
        return try Self.prompt(named: promptName, in: model.prompts)
    }

    /// TEI's character limit per input.
    var maxInputCharacters: Int { model.maxInputLength * 250 }

    /// Tokenizes one input the way TEI's tokenization stage does (empty check, prompt, char limit, truncation,
    /// token limit), plus a vocabulary check the encoder needs.
    func prepare(
        _ input: EmbedInput, prompt: String?, truncate: Bool, direction: TruncationDirection
    ) throws(APIError) -> PreparedInput {
        let maxLength = truncate ? model.maxInputLength : nil
        var ids: [Int32]
        switch input {
        case .text(var text):
            if text.isEmpty { throw .emptyInput }
            let characters = text.unicodeScalars.count
            if characters > maxInputCharacters {
                guard truncate else { throw .tooManyCharacters(characters, maximum: maxInputCharacters) }
                text = Self.cut(text, toBytes: maxInputCharacters)
            }
            ids = try tokenize(
                PromptCatalog.apply(prompt, to: text), addSpecialTokens: true, maxLength: maxLength,
                direction: direction)
        case .ids(let given):
            if given.isEmpty { throw .emptyInput }
            let converted = given.map { Int32(bitPattern: $0) }
            if given.contains(where: { $0 >= UInt32(model.vocabularySize) }) {
                throw Self.outOfVocabulary(given.first { $0 >= UInt32(model.vocabularySize) }!, model.vocabularySize)
            }
            if let prompt {
                // As TEI: ids with a prompt are decoded, prefixed and re-encoded with special tokens.
                let text: String
                do {
                    text = try backend.decode(converted, skipSpecialTokens: true)
                } catch {
                    throw APIError(.tokenizer, "tokenizer error \(error)")
                }
                ids = try tokenize(
                    PromptCatalog.apply(prompt, to: text), addSpecialTokens: true, maxLength: maxLength,
                    direction: direction)
            } else {
                ids = converted
                if let maxLength, ids.count > maxLength {
                    ids = direction == .right ? Array(ids.prefix(maxLength)) : Array(ids.suffix(maxLength))
                }
            }
        }
        if ids.count > model.maxInputLength {
            throw .tooManyTokens(ids.count, maximum: model.maxInputLength)
        }
        if let outside = ids.first(where: { $0 < 0 || Int($0) >= model.vocabularySize }) {
            throw Self.outOfVocabulary(UInt32(bitPattern: outside), model.vocabularySize)
        }
        return PreparedInput(ids: ids)
    }

    /// TEI's cut of a text past the character limit: its first `limit` UTF-8 bytes, unless that splits a character,
    /// in which case (as Rust's `String::truncate` guarded by `is_char_boundary`) the text stays whole.
    static func cut(_ text: String, toBytes limit: Int) -> String {
        let utf8 = text.utf8
        guard utf8.count > limit else { return text }
        let end = utf8.index(utf8.startIndex, offsetBy: limit)
        guard let boundary = end.samePosition(in: text.unicodeScalars) else { return text }
        return String(text.unicodeScalars[..<boundary])
    }

    private static func outOfVocabulary(_ id: UInt32, _ vocabularySize: Int) -> APIError {
        .inputValidation("token id \(id) is outside the model's vocabulary of \(vocabularySize) tokens")
    }

    private func tokenize(
        _ text: String, addSpecialTokens: Bool, maxLength: Int?, direction: TruncationDirection
    ) throws(APIError) -> [Int32] {
        do {
            return try backend.tokenize(
                text, addSpecialTokens: addSpecialTokens, maxLength: maxLength, direction: direction
            ).ids
        } catch {
            throw APIError(.tokenizer, "tokenizer error \(error)")
        }
    }

    /// Inputs of at most this many bytes in all are tokenized by the caller instead of a tokenizer worker: the trip to
    /// a worker and back (two thread wake-ups) added 40 µs to a lone 11-token query on the 2-core VM, as much as
    /// tokenizing it took; 1 KB of text tokenizes in about 0.3 ms, short enough not to hold the caller's other work.
    static let inlineTokenizationBytes = 1024

    /// Whether `inputs` are small enough to tokenize on the calling thread.
    static func tokenizesInline(_ inputs: [EmbedInput]) -> Bool {
        var bytes = 0
        for input in inputs {
            switch input {
            case .text(let text): bytes += text.utf8.count
            case .ids(let ids): bytes += ids.count * 4
            }
            if bytes > inlineTokenizationBytes { return false }
        }
        return true
    }

    /// Resolves the prompt and prepares every input, reporting an empty input before a bad prompt name, as TEI does.
    private func prepareAll(
        _ inputs: [EmbedInput], promptName: String?, truncate: Bool, direction: TruncationDirection
    ) throws(APIError) -> [PreparedInput] {
        var prompt: String?
        var promptError: APIError?
        do throws(APIError) {
            prompt = try resolvePrompt(promptName)
        } catch {
            promptError = error
        }
        return try inputs.map { input throws(APIError) in
            if let promptError {
                switch input {
                case .text(let text) where text.isEmpty: throw .emptyInput
                case .ids(let ids) where ids.isEmpty: throw .emptyInput
                default: throw promptError
                }
            }
            return try prepare(input, prompt: prompt, truncate: truncate, direction: direction)
        }
    }

    /// Validates, tokenizes and encodes `inputs`; returns each one's `output`.
    func encode(
        _ inputs: [EmbedInput], promptName: String?, truncate: Bool?, direction: TruncationDirection,
        output: EmbeddingOutput
    ) async throws(APIError) -> EncodedBatch {
        try await counted(method: inputs.count == 1 ? "single" : "batch") { () throws(APIError) in
            try await encodeCounted(
                inputs, promptName: promptName, truncate: truncate, direction: direction, output: output)
        }
    }

    /// Runs one request's work under TEI's request counters: `te_request_count` and `te_request_success` by
    /// `method`, a failure by its error's label, or `te_request_cancelled` when the client left.
    func counted<Result>(
        method: String, _ work: () async throws(APIError) -> Result
    ) async throws(APIError) -> Result {
        metrics.increment("te_request_count", label: ("method", method))
        do {
            let result = try await work()
            metrics.increment("te_request_success", label: ("method", method))
            return result
        } catch {
            if Task.isCancelled {
                // The client left: no failure of the server, so counted apart from te_request_failure.
                metrics.increment("te_request_cancelled", label: ("method", method))
            } else {
                metrics.increment("te_request_failure", label: ("err", error.metricLabel))
            }
            throw error
        }
    }

    private func encodeCounted(
        _ inputs: [EmbedInput], promptName: String?, truncate: Bool?, direction: TruncationDirection,
        output: EmbeddingOutput
    ) async throws(APIError) -> EncodedBatch {
        let (dimensions, tokenLevel): (Int?, Bool) =
            switch output {
            case .pooled(let dimensions, _): (dimensions, false)
            case .tokenLevel: (nil, true)
            }
        let start = DispatchTime.now().uptimeNanoseconds
        if inputs.isEmpty { throw .emptyInput }
        if inputs.count > configuration.maxClientBatchSize {
            throw .batchSize(inputs.count, maximum: configuration.maxClientBatchSize)
        }
        if model.labels != nil { throw .notEmbeddingModel }
        let permits: PermitReservation
        do {
            permits = try batcher.reservePermits(inputs.count)
        } catch {
            throw .overloaded
        }
        if dimensions == 0 { throw .inputValidation("`dimensions` should be positive") }
        let truncate = truncate ?? configuration.autoTruncate
        let prepared: [PreparedInput]
        if Self.tokenizesInline(inputs) {
            prepared = try prepareAll(inputs, promptName: promptName, truncate: truncate, direction: direction)
        } else {
            do {
                prepared = try await tokenizers.run { [self] () throws(APIError) -> [PreparedInput] in
                    try prepareAll(inputs, promptName: promptName, truncate: truncate, direction: direction)
                }
            } catch let error as APIError {
                throw error
            } catch {
                throw .backend("\(error)")
            }
        }
        let tokenized = DispatchTime.now().uptimeNanoseconds
        if let dimensions, dimensions > model.embeddingDimensions, !tokenLevel {
            throw .inputValidation("`dimensions` should be smaller than the maximum embedding dimension.")
        }
        var reservation: TokenLevelReservation?
        if tokenLevel {
            let total = prepared.reduce(0) { $0 + $1.ids.count }
            if total > configuration.maxBatchTokens {
                throw .inputValidation(
                    "token-level outputs of at most \(configuration.maxBatchTokens) tokens per request (`--max-batch-tokens`). Given: \(total)"
                )
            }
            guard let granted = tokenLevelBudget.reserve(total) else { throw .overloaded }
            reservation = granted
        }
        var batch = try await submit(
            prepared.map { EncoderJob(ids: $0.ids, output: tokenLevel ? .tokenLevel : .pooled) }, permits: permits,
            characters: inputs.reduce(0) { $0 + $1.characterCount }, metric: "te_embed", start: start,
            tokenized: tokenized, reservation: reservation)
        if case .pooled(let dimensions, let normalize) = output {
            batch.outputs = batch.outputs.map { finalizeEmbedding($0, dimensions: dimensions, normalize: normalize) }
        }
        return batch
    }

    /// Queues tokenized jobs under `permits` and waits for them, with TEI's metrics (`te_embed_*` or
    /// `te_predict_*` as `metric` says) and per-request timings.
    func submit(
        _ jobs: [EncoderJob], permits: PermitReservation, characters: Int, metric: String, start: UInt64,
        tokenized: UInt64, reservation: TokenLevelReservation? = nil
    ) async throws(APIError) -> EncodedBatch {
        let tokenCounts = jobs.map(\.ids.count)
        for count in tokenCounts { metrics.observe("te_request_input_length", Double(count)) }
        metrics.increment("\(metric)_count", by: UInt64(jobs.count))
        metrics.set("te_queue_size", Double(batcher.queuedCount + jobs.count))
        let outputs: [BatchedOutput<[Float]>]
        do {
            outputs = try await batcher.submit(jobs, tokenCounts: tokenCounts, permits: permits)
        } catch BatcherError.overloaded {
            throw .overloaded
        } catch is CancellationError {
            throw .backend("request cancelled")
        } catch {
            throw .backend("\(error)")
        }
        metrics.increment("\(metric)_success", by: UInt64(jobs.count))
        let count = Double(jobs.count)
        let tokenizationSeconds = Double(tokenized - start) / 1e9
        let queueSeconds = outputs.reduce(0) { $0 + $1.queueSeconds } / count
        let inferenceSeconds = outputs.reduce(0) { $0 + $1.inferenceSeconds } / count
        let totalSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        metrics.observe("te_request_duration", totalSeconds)
        metrics.observe("te_request_tokenization_duration", tokenizationSeconds)
        metrics.observe("te_request_queue_duration", queueSeconds)
        metrics.observe("te_request_inference_duration", inferenceSeconds)
        for output in outputs {
            metrics.observe("\(metric)_duration", tokenizationSeconds + output.queueSeconds + output.inferenceSeconds)
            metrics.observe("\(metric)_tokenization_duration", tokenizationSeconds)
            metrics.observe("\(metric)_queue_duration", output.queueSeconds)
            metrics.observe("\(metric)_inference_duration", output.inferenceSeconds)
        }
        return EncodedBatch(
            outputs: outputs.map(\.output), tokenCounts: tokenCounts, characters: characters,
            tokenizationSeconds: tokenizationSeconds, queueSeconds: queueSeconds, inferenceSeconds: inferenceSeconds,
            tokenLevelReservation: reservation)
    }
}

/// Whether the encoder's last batch succeeded (TEI reports unhealthy after a failed batch).
final class HealthFlag: Sendable {
    let healthy = Mutex(true)
}
