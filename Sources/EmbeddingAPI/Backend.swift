import Tokenizers

/// What the API needs to know about the served model and how it was started.
public struct ModelDescription: Sendable, Equatable {
    /// `--model-id` as given (TEI's `/info.model_id`).
    public var modelID: String
    /// `--served-model-name`, the OpenAI `model` field.
    public var servedModelName: String
    /// `--revision` (TEI's `/info.model_sha`).
    public var revision: String?
    /// Weight precision (`float32`).
    public var dtype: String
    /// The CPU kernel variant the encoder runs (`avx512bf16`, `avx512`, `avx2`, `portable`), if known: `/info.kernels`.
    public var kernels: String?
    /// Pooling strategy name (`mean`).
    public var pooling: String
    /// Longest input in tokens, special and prompt tokens included.
    public var maxInputLength: Int
    /// Length of a pooled embedding.
    public var embeddingDimensions: Int
    /// Width of a token-level hidden state.
    public var hiddenSize: Int
    /// Rows of the model's token-embedding table: ids at or above it cannot be embedded.
    public var vocabularySize: Int
    /// Sentence Transformers prompts by name.
    public var prompts: [String: String]

    /// Describes a model; `servedModelName` defaults to `modelID`.
    public init(
        modelID: String, servedModelName: String? = nil, revision: String? = nil, dtype: String = "float32",
        kernels: String? = nil, pooling: String = "mean", maxInputLength: Int, embeddingDimensions: Int,
        hiddenSize: Int, vocabularySize: Int, prompts: [String: String]
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
    }
}

/// The tokenizer and encoder behind the API, as closures so the API logic is testable on any model.
///
/// `tokenize` and `decode` are called concurrently, from the tokenization workers and from request handlers; `embed` and `tokenEmbeddings`
/// only from the single encoder thread.
public struct EmbeddingBackend: Sendable {
    /// Tokenizes a text, adding special tokens if asked, truncating to `maxLength` tokens from `direction` if given.
    public var tokenize:
        @Sendable (
            _ text: String, _ addSpecialTokens: Bool, _ maxLength: Int?, _ direction: TruncationDirection
        ) throws -> Encoding
    /// Turns ids back into text.
    public var decode: @Sendable (_ ids: [Int32], _ skipSpecialTokens: Bool) throws -> String
    /// Pooled (and Dense-projected) embeddings, not normalized: one vector per sequence.
    public var embed: @Sendable (_ sequences: [[Int32]]) throws -> [[Float]]
    /// Last-layer hidden states: per sequence a flattened `[tokens × hiddenSize]` matrix.
    public var tokenEmbeddings: @Sendable (_ sequences: [[Int32]]) throws -> [[Float]]
    /// Cuts a raw embedding to `dimensions` (if given), then L2-normalizes it if asked.
    public var finalize: @Sendable (_ raw: [Float], _ dimensions: Int?, _ normalize: Bool) -> [Float]

    /// Bundles the closures.
    public init(
        tokenize: @escaping @Sendable (String, Bool, Int?, TruncationDirection) throws -> Encoding,
        decode: @escaping @Sendable ([Int32], Bool) throws -> String,
        embed: @escaping @Sendable ([[Int32]]) throws -> [[Float]],
        tokenEmbeddings: @escaping @Sendable ([[Int32]]) throws -> [[Float]],
        finalize: @escaping @Sendable ([Float], Int?, Bool) -> [Float]
    ) {
        self.tokenize = tokenize
        self.decode = decode
        self.embed = embed
        self.tokenEmbeddings = tokenEmbeddings
        self.finalize = finalize
    }
}

/// Server-wide settings that shape the API (TEI's flags), all with TEI's defaults.
public struct APIConfiguration: Sendable, Equatable {
    public var maxConcurrentRequests = 512
    public var maxBatchTokens = 16384
    public var maxBatchRequests: Int?
    /// Target run time of one batch (`--max-batch-time-ms`); nil: tokens alone size batches, as in TEI.
    public var maxBatchSeconds: Double?
    public var maxClientBatchSize = 32
    public var autoTruncate = true
    /// `--default-prompt-name`: a key of the model's prompts, applied when a request names none.
    public var defaultPromptName: String?
    /// `--default-prompt`: literal prompt text, applied when a request names none.
    public var defaultPrompt: String?
    public var tokenizationWorkers = 1
    /// `--api-key`: when set, protected routes need `Authorization: Bearer <key>`.
    public var apiKey: String?
    /// `/info.version`.
    public var version = "1.9.3"
    /// `/info.sha`: the build's git commit, if known.
    public var sha: String?
    /// `/info.docker_label`.
    public var dockerLabel: String?

    /// TEI's defaults.
    public init() {}
}
