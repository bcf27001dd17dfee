/// Why loading a model, or embedding or tokenizing a text, failed.
///
/// Every throwing entry point of the library throws this type and nothing else, so a `switch` over it is exhaustive.
public enum EmbeddingsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The model id or directory could not be resolved: no such directory, an invalid id, a Hub or network failure.
    /// `reason` is the resolver's own message.
    case modelNotFound(modelID: String, reason: String)
    /// Offline mode is on (``Embedder/Hub/offline``, `HF_HUB_OFFLINE`) and the Hugging Face cache has no complete
    /// copy of the model. `reason` says where the cache was looked up and how to fill it.
    case modelNotCached(modelID: String, reason: String)
    /// The model directory was found but its files cannot be loaded (missing, malformed, or an unsupported
    /// architecture). `reason` names the file and the problem.
    case invalidModel(directory: String, reason: String)
    /// An ``Embedder/Options`` value is out of range (a thread count or batch size below one).
    case invalidOptions(reason: String)
    /// ``Prompt/named(_:)`` names a prompt the model does not define; `available` lists the ones it does.
    case unknownPrompt(name: String, available: [String])
    /// `dimensions` is below one or above the model's embedding width.
    case invalidDimensions(requested: Int, maximum: Int)
    /// The input at `index` tokenizes to no token at all, so it has nothing to embed.
    case emptyInput(index: Int)
    /// The input at `index` is longer than the model accepts and truncation is ``Truncation/disabled``.
    case inputTooLong(index: Int, tokens: Int, maxTokens: Int)
    /// The input at `index` contains a token with no row in the model's embedding table (for EmbeddingGemma the
    /// literal text `<image_soft_token>`).
    case tokenOutsideVocabulary(index: Int, id: Int, vocabularySize: Int)
    /// The forward pass failed, for example because the model produced NaN or infinity (corrupt weights).
    case inferenceFailed(reason: String)
    /// The calling task was cancelled before its inputs were run.
    case cancelled
    /// `embed` was called on a classifier (a cross-encoder), which scores texts instead: use
    /// ``Embedder/classify(_:rawScores:truncation:)-([ClassifierInput],_,_)`` or
    /// ``Embedder/rerank(query:documents:rawScores:truncation:)``.
    case notAnEmbeddingModel
    /// `classify` or `rerank` was called on an embedding model, which has no classification head.
    case notAClassifier
    /// `rerank` was called on a classifier with several labels; a reranker has exactly one.
    case notAReranker(labels: Int)

    /// A sentence that says what went wrong and, where it helps, what to do about it.
    public var description: String {
        switch self {
        case .modelNotFound(_, let reason), .modelNotCached(_, let reason):
            // The resolver's message already names the model, the cache and the way out.
            reason
        case .invalidModel(_, let reason):
            // The loaders' messages already name the file.
            reason
        case .invalidOptions(let reason):
            "invalid options: \(reason)"
        case .unknownPrompt(let name, let available):
            available.isEmpty
                ? "prompt '\(name)' was asked for, but the model defines no prompts"
                : "the model has no prompt named '\(name)'; its prompts are: \(available.joined(separator: ", "))"
        case .invalidDimensions(let requested, let maximum):
            "dimensions must be between 1 and the model's \(maximum), got \(requested)"
        case .emptyInput(let index):
            "input \(index) has no tokens to embed"
        case .inputTooLong(let index, let tokens, let maxTokens):
            "input \(index) has \(tokens) tokens; the model takes at most \(maxTokens) (truncation is disabled)"
        case .tokenOutsideVocabulary(let index, let id, let vocabularySize):
            "input \(index) contains token id \(id), outside the model's vocabulary of \(vocabularySize) tokens"
        case .inferenceFailed(let reason):
            "the forward pass failed: \(reason)"
        case .cancelled:
            "the embedding request was cancelled"
        case .notAnEmbeddingModel:
            "the model is a classifier (a cross-encoder), not an embedding model: use classify or rerank"
        case .notAClassifier:
            "the model is an embedding model, not a classifier (a cross-encoder): use embed"
        case .notAReranker(let labels):
            "the model is a classifier with \(labels) labels, not a reranker (one label): use classify"
        }
    }
}
