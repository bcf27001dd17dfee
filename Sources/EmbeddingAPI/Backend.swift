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

/// The tokenizer and encoder behind the API, as closures so the API logic is testable on any model.
///
/// `tokenize`, `tokenizePair` and `decode` are called concurrently, from the tokenization workers and from request
/// handlers; `embed`, `tokenEmbeddings` and `classify` only from the single encoder thread.
package struct EmbeddingBackend: Sendable {
    /// Tokenizes a text, adding special tokens if asked, truncating to `maxLength` tokens from `direction` if given.
    package var tokenize:
        @Sendable (
            _ text: String, _ addSpecialTokens: Bool, _ maxLength: Int?, _ direction: TruncationDirection
        ) throws -> Encoding
    /// Turns ids back into text.
    package var decode: @Sendable (_ ids: [Int32], _ skipSpecialTokens: Bool) throws -> String
    /// Pooled (and Dense-projected) embeddings, not normalized: one vector per sequence.
    package var embed: @Sendable (_ sequences: [[Int32]]) throws -> [[Float]]
    /// Last-layer hidden states: per sequence a flattened `[tokens × hiddenSize]` matrix.
    package var tokenEmbeddings: @Sendable (_ sequences: [[Int32]]) throws -> [[Float]]
    /// Cuts a raw embedding to `dimensions` (if given), then L2-normalizes it if asked.
    package var finalize: @Sendable (_ raw: [Float], _ dimensions: Int?, _ normalize: Bool) -> [Float]
    /// Tokenizes a pair of texts with special tokens (a cross-encoder's input), `longest_first` to `maxLength`.
    package var tokenizePair:
        @Sendable (_ text: String, _ pair: String, _ maxLength: Int?, _ direction: TruncationDirection) throws
            -> Encoding
    /// A classifier's logits per sequence, with each sequence's token types.
    package var classify: @Sendable (_ sequences: [[Int32]], _ tokenTypes: [[Int32]]) throws -> [[Float]]

    /// Bundles the closures.
    package init(
        tokenize: @escaping @Sendable (String, Bool, Int?, TruncationDirection) throws -> Encoding,
        decode: @escaping @Sendable ([Int32], Bool) throws -> String,
        embed: @escaping @Sendable ([[Int32]]) throws -> [[Float]],
        tokenEmbeddings: @escaping @Sendable ([[Int32]]) throws -> [[Float]],
        finalize: @escaping @Sendable ([Float], Int?, Bool) -> [Float],
        tokenizePair: @escaping @Sendable (String, String, Int?, TruncationDirection) throws -> Encoding = {
            _, _, _, _ in
            throw APIError.notClassifier
        },
        classify: @escaping @Sendable ([[Int32]], [[Int32]]) throws -> [[Float]] = { _, _ in
            throw APIError.notClassifier
        }
    ) {
        self.tokenize = tokenize
        self.decode = decode
        self.embed = embed
        self.tokenEmbeddings = tokenEmbeddings
        self.finalize = finalize
        self.tokenizePair = tokenizePair
        self.classify = classify
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
