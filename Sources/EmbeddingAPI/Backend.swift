import Tokenizers

/// What the API needs to know about the served model and how it was started.
package struct ModelDescription: Sendable, Equatable {
    /// `--model-id` as given (TEI's `/info.model_id`).
    package var modelID: String
    /// `--served-model-name`, the OpenAI `model` field.
    package var servedModelName: String
    /// `--revision` (TEI's `/info.model_sha`).
    package var revision: String?
    /// Weight precision (`float32`).
    package var dtype: String
    /// The CPU kernel variant the encoder runs (`avx512bf16`, `avx512`, `avx2`, `portable`), if known: `/info.kernels`.
    package var kernels: String?
    /// Pooling strategy name (`mean`).
    package var pooling: String
    /// Longest input in tokens, special and prompt tokens included.
    package var maxInputLength: Int
    /// Length of a pooled embedding.
    package var embeddingDimensions: Int
    /// Width of a token-level hidden state.
    package var hiddenSize: Int
    /// Rows of the model's token-embedding table: ids at or above it cannot be embedded.
    package var vocabularySize: Int
    /// Sentence Transformers prompts by name.
    package var prompts: [String: String]
    /// A classifier's labels (`id2label` in id order), nil for an embedding model. TEI's rule: with one label the
    /// model is a reranker (`/rerank` and `/predict`), with several a classifier (`/predict` only).
    package var labels: [String]?

    /// Describes a model; `servedModelName` defaults to `modelID`.
    package init(
        modelID: String, servedModelName: String? = nil, revision: String? = nil, dtype: String = "float32",
        kernels: String? = nil, pooling: String = "mean", maxInputLength: Int, embeddingDimensions: Int,
        hiddenSize: Int, vocabularySize: Int, prompts: [String: String], labels: [String]? = nil
    ) {
        self.modelID = modelID
        self.servedModelName = servedModelName ?? modelID
        self.revision = revision
        self.dtype = dtype
        self.kernels = kernels
        self.pooling = pooling
        self.maxInputLength = maxInputLength
        self.embeddingDimensions = embeddingDimensions
        self.hiddenSize = hiddenSize
        self.vocabularySize = vocabularySize
        self.prompts = prompts
        self.labels = labels
    }

    /// A reranker: a classifier with one label.
    package var isReranker: Bool { labels?.count == 1 }
}

/// The tokenizer and encoder behind the API, as TEI's `trait Backend`: the library's loaded model (`LiveBackend`) in
/// the server, a stand-in in tests.
///
/// Tokenizing and decoding are called concurrently, from the tokenization workers and from request handlers;
/// `embed`, `tokenEmbeddings` and `classify` only from the single encoder thread. Called once per request or batch,
/// never per element, so an existential costs nothing measurable here.
package protocol EmbeddingBackend: Sendable {
    /// Tokenizes a text, adding special tokens if asked, truncating to `maxLength` tokens from `direction` if given.
    func tokenize(_ text: String, addSpecialTokens: Bool, maxLength: Int?, direction: TruncationDirection) throws
        -> Encoding
    /// Tokenizes a pair of texts with special tokens (a cross-encoder's input), `longest_first` to `maxLength`.
    func tokenize(_ text: String, pair: String, maxLength: Int?, direction: TruncationDirection) throws -> Encoding
    /// Turns ids back into text.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) throws -> String
    /// Pooled (and Dense-projected) embeddings, not normalized: one vector per sequence. `betweenLayers` is called
    /// after each encoder layer but the last, on the calling thread; it may run a short batch through this backend
    /// (the batcher's preemption), with a `betweenLayers` that does nothing.
    func embed(_ sequences: [[Int32]], betweenLayers: () -> Void) throws -> [[Float]]
    /// Last-layer hidden states: per sequence a flattened `[tokens × hiddenSize]` matrix; `betweenLayers` as in `embed`.
    func tokenEmbeddings(_ sequences: [[Int32]], betweenLayers: () -> Void) throws -> [[Float]]
    /// A classifier's logits per sequence, with each sequence's token types; `betweenLayers` as in `embed`.
    func classify(_ sequences: [[Int32]], tokenTypes: [[Int32]], betweenLayers: () -> Void) throws -> [[Float]]
}

extension EmbeddingBackend {
    /// An embedding model has no pair template for a classifier head: TEI's error.
    package func tokenize(_ text: String, pair: String, maxLength: Int?, direction: TruncationDirection) throws
        -> Encoding
    {
        throw APIError.notClassifier
    }

    /// An embedding model has no classifier head: TEI's error.
    package func classify(_ sequences: [[Int32]], tokenTypes: [[Int32]], betweenLayers: () -> Void) throws
        -> [[Float]]
    {
        throw APIError.notClassifier
    }
}

/// Server-wide settings that shape the API (TEI's flags), all with TEI's defaults.
package struct APIConfiguration: Sendable, Equatable {
    package var maxConcurrentRequests = 512
    package var maxBatchTokens = 16384
    package var maxBatchRequests: Int?
    /// Target run time of one batch (`--max-batch-time-ms`); nil: tokens alone size batches, as in TEI.
    package var maxBatchSeconds: Double?
    package var maxClientBatchSize = 32
    package var autoTruncate = true
    /// `--default-prompt-name`: a key of the model's prompts, applied when a request names none.
    package var defaultPromptName: String?
    /// `--default-prompt`: literal prompt text, applied when a request names none.
    package var defaultPrompt: String?
    package var tokenizationWorkers = 1
    /// `--api-key`: when set, protected routes need `Authorization: Bearer <key>`.
    package var apiKey: String?
    /// `/info.version`.
    package var version = "1.9.3"
    /// `/info.sha`: the build's git commit, if known.
    package var sha: String?
    /// `/info.docker_label`.
    package var dockerLabel: String?

    /// TEI's defaults.
    package init() {}
}
