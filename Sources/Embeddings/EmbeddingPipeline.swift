internal import Batching
internal import EmbeddingModel
import Synchronization

/// One tokenized input as the encoder runs it: its ids and, for a cross-encoder's input, its token types.
struct ModelInput: Sendable {
    var ids: [Int32]
    var types: [Int32]?
}

/// The path of an `embed` or `classify` call: tokenization on a worker thread, then the batcher, whose encoder
/// thread packs the inputs of every pending call into one forward pass. The same `Batcher` and `WorkerPool` the
/// server runs.
final class EmbeddingPipeline: Sendable {
    private let batcher: Batcher<ModelInput, [Float]>
    private let tokenizers: WorkerPool
    private let inputs: InputEncoder
    /// Forward passes run and inputs they held, for tests that check that concurrent calls share passes.
    let counts: BatchCounts

    init(model: SentenceEmbedder, inputs: InputEncoder, maxBatchTokens: Int) {
        self.inputs = inputs
        let counts = BatchCounts()
        self.counts = counts
        // One tokenization thread, as the server's default `--tokenization-workers`: tokenizing is about 1% of a
        // forward pass's time, so one thread keeps the encoder fed.
        tokenizers = WorkerPool(threadCount: 1, name: "embeddings-tokenizer")
        batcher = Batcher(
            configuration: BatcherConfiguration(
                maxBatchTokens: maxBatchTokens,
                // In process a caller waits for its turn rather than being refused: no permit limit.
                maxConcurrentRequests: Int.max),
            threadName: "embeddings-encoder",
            encode: { inputs, betweenLayers in
                let types = inputs.contains { $0.types != nil }
                return try model.embed(
                    inputs.map(\.ids),
                    tokenTypes: types ? inputs.map { $0.types ?? Array(repeating: 0, count: $0.ids.count) } : nil,
                    betweenLayers: betweenLayers)
            },
            onBatch: { record in counts.add(record.size) })
    }

    /// Lets queued work finish, then lets the threads exit.
    func shutdown() {
        tokenizers.shutdown()
        batcher.shutdown()
    }

    /// Raw pooled vectors (not cut, not normalized) for `texts` with `prompt` in front.
    func embed(_ texts: [String], prompt: String?, truncation: Truncation) async throws(EmbeddingsError) -> [[Float]] {
        let inputs = self.inputs
        return try await run { () throws(EmbeddingsError) -> [ModelInput] in
            var prepared: [ModelInput] = []
            prepared.reserveCapacity(texts.count)
            for (index, text) in texts.enumerated() {
                prepared.append(
                    ModelInput(ids: try inputs.ids(text, prompt: prompt, truncation: truncation, index: index)))
            }
            return prepared
        }
    }

    /// A cross-encoder's logits for each text or pair.
    func classify(_ texts: [ClassifierInput], truncation: Truncation) async throws(EmbeddingsError) -> [[Float]] {
        let inputs = self.inputs
        return try await run { () throws(EmbeddingsError) -> [ModelInput] in
            var prepared: [ModelInput] = []
            prepared.reserveCapacity(texts.count)
            for (index, text) in texts.enumerated() {
                prepared.append(try inputs.classifierInput(text, truncation: truncation, index: index))
            }
            return prepared
        }
    }

    /// Tokenizes on the worker thread with `prepare`, then runs the inputs through the batcher.
    private func run(
        _ prepare: @escaping @Sendable () throws(EmbeddingsError) -> [ModelInput]
    ) async throws(EmbeddingsError) -> [[Float]] {
        let prepared: [ModelInput]
        do {
            prepared = try await tokenizers.run(prepare)
        } catch let error as EmbeddingsError {
            throw error
        } catch {
            throw .inferenceFailed(reason: "\(error)")
        }
        do {
            return try await batcher.submit(prepared, tokenCounts: prepared.map(\.ids.count)).map(\.output)
        } catch is CancellationError {
            throw .cancelled
        } catch {
            throw .inferenceFailed(reason: "\(error)")
        }
    }
}

/// Forward passes run and the inputs they held.
final class BatchCounts: Sendable {
    private let counts = Mutex<(batches: Int, inputs: Int)>((0, 0))

    var value: (batches: Int, inputs: Int) { counts.withLock { $0 } }

    func add(_ inputs: Int) { counts.withLock { $0 = ($0.batches + 1, $0.inputs + inputs) } }
}
