internal import EmbeddingModel
import Foundation
internal import Kernels
import Synchronization
internal import Tokenizers

/// A sentence-embedding model loaded in process: EmbeddingGemma, a BERT-family sentence-transformers model
/// (all-MiniLM-L6-v2), or a BERT-family cross-encoder for classifying and reranking, with its tokenizer, run on
/// the CPU by pure-Swift kernels.
///
/// Load one with ``load(modelID:revision:hub:options:progress:)`` or ``load(directory:options:)`` and share it: it is
/// `Sendable`, and calls from many tasks at once are packed into shared forward passes (up to
/// ``Options/maxBatchTokens`` tokens each), which is how a CPU encoder reaches its throughput. A forward pass runs on
/// the embedder's own threads, never on the cooperative pool; the calling task is suspended meanwhile.
///
/// ```swift
/// let embedder = try await Embedder.load(modelID: "google/embeddinggemma-300m")
/// let query = try await embedder.embed("Which planet is red?", prompt: .named("query"))
/// let documents = try await embedder.embed(["Mars is red.", "Venus is hot."], prompt: .named("document"))
/// let scores = documents.map { cosineSimilarity(query, $0) }
/// ```
public final class Embedder: Sendable {
    /// The model's sizes, limits and prompts.
    public let info: Info
    /// The directory the model was loaded from (for a Hub id, its snapshot in the Hugging Face cache).
    public let directory: URL
    /// The options it was loaded with.
    public let options: Options
    /// Threads that run each forward pass (``Options/computeThreads``, or the processors available).
    public var computeThreads: Int { pool.threadCount }

    let tokenizer: Tokenizer
    let model: SentenceEmbedder
    let prompts: PromptCatalog
    let inputs: InputEncoder
    private let pool: ComputePool
    /// Started by the first `embed` call: a server that runs its own batcher over this model never starts one.
    private let pipeline = Mutex<EmbeddingPipeline?>(nil)

    /// Loads the model in `directory` on the calling thread. Takes seconds (the weights are read and packed), so
    /// from async code prefer ``load(directory:options:)``.
    public init(directory: URL, options: Options = Options()) throws(EmbeddingsError) {
        try options.validate()
        let path = directory.path
        let pool = ComputePool(threadCount: options.computeThreads ?? ComputePool.availableProcessorCount)
        do {
            tokenizer = try Tokenizer(directory: path)
            model = try SentenceEmbedder(directory: path, pool: pool, precision: options.precision.weightPrecision)
        } catch {
            throw .invalidModel(directory: path, reason: "\(error)")
        }
        let loaded = model.info
        if loaded.labels != nil {
            // The post-processor's template fixes every token's type: one pair shows whether the model has them all.
            let types = tokenizer.encode("a", pair: "b", maxLength: nil, direction: .right).typeIDs
            if let type = types.first(where: { Int($0) >= loaded.typeVocabularySize }) {
                throw .invalidModel(
                    directory: path,
                    reason:
                        "tokenizer.json's post-processor gives a pair token type \(type), but the model has \(loaded.typeVocabularySize) (type_vocab_size in config.json)"
                )
            }
        }
        info = Info(
            kind: loaded.labels.map { .classifier(labels: $0) } ?? .embedding,
            dimensions: loaded.embeddingDimensions, maxSequenceLength: loaded.maxSequenceLength,
            prompts: loaded.prompts, defaultPromptName: loaded.defaultPromptName,
            // An id the tokenizer knows but the table lacks must be refused before the encoder sees it.
            vocabularySize: min(loaded.vocabularySize, tokenizer.vocabularySize),
            hiddenSize: loaded.hiddenSize, modelType: loaded.modelType, pooling: loaded.pooling.infoName)
        prompts = PromptCatalog(prompts: loaded.prompts, defaultName: loaded.defaultPromptName)
        inputs = InputEncoder(
            tokenizer: tokenizer, maxSequenceLength: loaded.maxSequenceLength, vocabularySize: info.vocabularySize)
        self.directory = directory
        self.options = options
        self.pool = pool
    }

    deinit {
        pipeline.withLock { $0?.shutdown() }
    }

    /// Loads the model in `directory` (config, tokenizer, weights) on a thread of its own.
    public static func load(directory: URL, options: Options = Options()) async throws(EmbeddingsError) -> Embedder {
        try await onOwnThread { () throws(EmbeddingsError) in try Embedder(directory: directory, options: options) }
    }

    /// Loads a model by Hugging Face id (`"google/embeddinggemma-300m"`) or directory path.
    ///
    /// An id is looked up in the Hugging Face cache first, in the same layout as `huggingface_hub`, and downloaded
    /// into it when missing, unless ``Hub/offline``. `progress` receives one line per step (the cache hit, each
    /// file downloaded). Everything runs on a thread of its own.
    public static func load(
        modelID: String, revision: String = "main", hub: Hub = Hub(), options: Options = Options(),
        progress: @escaping @Sendable (String) -> Void = { _ in }
    ) async throws(EmbeddingsError) -> Embedder {
        try await onOwnThread { () throws(EmbeddingsError) in
            let directory = try hub.resolve(modelID: modelID, revision: revision, progress: progress)
            return try Embedder(directory: directory, options: options)
        }
    }

    /// Embeds one text; see ``embed(_:prompt:dimensions:normalize:truncation:)-([String],_,_,_,_)``.
    public func embed(
        _ text: String, prompt: Prompt = .modelDefault, dimensions: Int? = nil, normalize: Bool = true,
        truncation: Truncation = .right
    ) async throws(EmbeddingsError) -> [Float] {
        try await embed(
            [text], prompt: prompt, dimensions: dimensions, normalize: normalize, truncation: truncation)[0]
    }

    /// Embeds texts, one vector per text in order.
    ///
    /// - Parameters:
    ///   - texts: The inputs. Concurrent calls, from any tasks, share forward passes.
    ///   - prompt: Put in front of every text before tokenizing; by default the model's default prompt (none for
    ///     EmbeddingGemma). Use `.named("query")` for search queries and `.named("document")` for what they search.
    ///   - dimensions: Keep only the first this many values (a Matryoshka cut: 512, 256 or 128 for EmbeddingGemma),
    ///     before normalizing; nil keeps all ``Info/dimensions``.
    ///   - normalize: Scale each vector to length 1 (after the cut), so a dot product is the cosine similarity.
    ///   - truncation: What to do with a text longer than ``Info/maxSequenceLength`` tokens.
    /// - Returns: One vector of `dimensions` (or ``Info/dimensions``) values per text.
    /// - Throws: ``EmbeddingsError``: an unknown prompt name, out-of-range dimensions, a text too long with
    ///   truncation disabled, a token outside the vocabulary, cancellation, or a failed forward pass;
    ///   ``EmbeddingsError/notAnEmbeddingModel`` for a classifier.
    public func embed(
        _ texts: [String], prompt: Prompt = .modelDefault, dimensions: Int? = nil, normalize: Bool = true,
        truncation: Truncation = .right
    ) async throws(EmbeddingsError) -> [[Float]] {
        guard info.kind == .embedding else { throw .notAnEmbeddingModel }
        if let dimensions, !(1...info.dimensions).contains(dimensions) {
            throw .invalidDimensions(requested: dimensions, maximum: info.dimensions)
        }
        let promptText = try prompts.text(for: prompt)
        if texts.isEmpty { return [] }
        let raw = try await startedPipeline().embed(texts, prompt: promptText, truncation: truncation)
        return raw.map { finalizeEmbedding($0, dimensions: dimensions, normalize: normalize) }
    }

    /// The pipeline if an `embed` call has started it.
    var runningPipeline: EmbeddingPipeline? { pipeline.withLock { $0 } }

    /// The running batcher and tokenization thread, started on first use.
    func startedPipeline() -> EmbeddingPipeline {
        pipeline.withLock { pipeline in
            if let running = pipeline { return running }
            let started = EmbeddingPipeline(model: model, inputs: inputs, maxBatchTokens: options.maxBatchTokens)
            pipeline = started
            return started
        }
    }
}

/// Runs `work` on a new thread and suspends the caller until it returns: loading reads and packs a gigabyte of
/// weights for seconds, which would hold a cooperative-pool thread (of only 2 on a 2-core machine) all that time.
private func onOwnThread<T: Sendable>(
    _ work: @escaping @Sendable () throws(EmbeddingsError) -> T
) async throws(EmbeddingsError) -> T {
    let result = await withCheckedContinuation {
        (continuation: CheckedContinuation<Result<T, EmbeddingsError>, Never>) in
        let thread = Thread {
            continuation.resume(returning: Result { () throws(EmbeddingsError) in try work() })
        }
        thread.name = "embeddings-load"
        thread.start()
    }
    return try result.get()
}
