internal import EmbeddingModel

extension Embedder {
    /// What a model computes from its input.
    public enum Kind: Sendable, Hashable {
        /// One vector per text: a sentence-transformers embedding model, for
        /// ``Embedder/embed(_:prompt:dimensions:normalize:truncation:)-([String],_,_,_,_)``.
        case embedding
        /// One score per label for a text or a pair of texts: a cross-encoder (a `*ForSequenceClassification`
        /// checkpoint of BERT, RoBERTa or XLM-RoBERTa), for ``Embedder/classify(_:rawScores:truncation:)-([ClassifierInput],_,_)``
        /// and, with one label, ``Embedder/rerank(query:documents:rawScores:truncation:)``. `labels` is `id2label`
        /// in id order.
        case classifier(labels: [String])
    }

    /// What a loaded model is: its sizes, limits and prompts.
    public struct Info: Sendable, Hashable {
        /// An embedding model or a classifier, and the classifier's labels.
        public let kind: Kind
        /// Length of an embedding before any `dimensions` cut (768 for EmbeddingGemma); for a classifier, its number
        /// of labels.
        public let dimensions: Int
        /// Most tokens one input may have, special and prompt tokens included (`max_seq_length`, 2048 for
        /// EmbeddingGemma); longer inputs are cut as ``Truncation`` says.
        public let maxSequenceLength: Int
        /// The model's prompts by name (`prompts` in `config_sentence_transformers.json`).
        public let prompts: [String: String]
        /// The prompt ``Prompt/modelDefault`` applies, if the model names one (EmbeddingGemma names none).
        public let defaultPromptName: String?
        /// Token ids below this have a row in the embedding table; the tokenizer may know a few more.
        public let vocabularySize: Int
        /// Width of the encoder's token states (768 for EmbeddingGemma).
        public let hiddenSize: Int
        /// The encoder architecture, `model_type` in `config.json` (`gemma3_text`, `bert`, `roberta`, `xlm-roberta`,
        /// `mpnet`).
        public let modelType: String
        /// How token states become one vector, from `1_Pooling/config.json`: `mean`, `cls`, `max`, `mean_sqrt_len`
        /// or `last_token` (the names Text Embeddings Inference's `/info` uses where it has them); `cls` for a
        /// classifier, whose head reads the first token.
        public let pooling: String
    }
}

extension PoolingMode {
    /// TEI's spelling where it has one (`last_token`), the sentence-transformers mode's otherwise.
    var infoName: String {
        switch self {
        case .cls: "cls"
        case .mean: "mean"
        case .max: "max"
        case .meanSquareRootLength: "mean_sqrt_len"
        case .lastToken: "last_token"
        }
    }
}
