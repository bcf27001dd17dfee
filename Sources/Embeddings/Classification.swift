internal import EmbeddingModel

/// One input of a cross-encoder: a text alone, or two texts read together (a query and a document, a premise and
/// a hypothesis).
public enum ClassifierInput: Sendable, Hashable {
    /// One text, with the tokenizer's single-text template (`[CLS] text [SEP]`).
    case text(String)
    /// Two texts, with the tokenizer's pair template (`[CLS] first [SEP] second [SEP]`, the second text of token
    /// type 1 for BERT). Too long a pair loses tokens from its longer text first.
    case pair(String, String)
}

extension Embedder {
    /// The score of each label for each input, in the order of the labels in ``Kind/classifier(labels:)``.
    ///
    /// Scores are Text Embeddings Inference's: the sigmoid of the logit for a model with one label, the softmax over
    /// the labels otherwise (for one label, what sentence-transformers' `CrossEncoder.predict` returns; for several,
    /// what it returns with `apply_softmax=True`). Concurrent calls share forward passes, as `embed` calls do.
    ///
    /// - Parameters:
    ///   - inputs: Texts or pairs of texts.
    ///   - rawScores: Return the logits themselves, without the sigmoid or softmax.
    ///   - truncation: What to do with an input longer than ``Info/maxSequenceLength`` tokens.
    /// - Throws: ``EmbeddingsError/notAClassifier`` for an embedding model; ``EmbeddingsError``'s input errors (too
    ///   long with truncation disabled, a token outside the vocabulary), cancellation, or a failed forward pass.
    public func classify(
        _ inputs: [ClassifierInput], rawScores: Bool = false, truncation: Truncation = .right
    ) async throws(EmbeddingsError) -> [[Float]] {
        guard case .classifier = info.kind else { throw .notAClassifier }
        if inputs.isEmpty { return [] }
        let logits = try await startedPipeline().classify(inputs, truncation: truncation)
        return rawScores ? logits : logits.map(classificationScores)
    }

    /// The score of each label for one input; see ``classify(_:rawScores:truncation:)-([ClassifierInput],_,_)``.
    public func classify(
        _ input: ClassifierInput, rawScores: Bool = false, truncation: Truncation = .right
    ) async throws(EmbeddingsError) -> [Float] {
        try await classify([input], rawScores: rawScores, truncation: truncation)[0]
    }

    /// How relevant each document is to `query`, by a reranker (a cross-encoder with one label): one score per
    /// document, in the order given; sort them to rank.
    ///
    /// A score is the sigmoid of the model's logit for the pair (query, document), in 0...1, or with `rawScores`
    /// the logit itself.
    /// - Throws: ``EmbeddingsError/notAClassifier`` for an embedding model,
    ///   ``EmbeddingsError/notAReranker(labels:)`` for a classifier with several labels, and
    ///   ``classify(_:rawScores:truncation:)-([ClassifierInput],_,_)``'s errors.
    public func rerank(
        query: String, documents: [String], rawScores: Bool = false, truncation: Truncation = .right
    ) async throws(EmbeddingsError) -> [Float] {
        guard case .classifier(let labels) = info.kind else { throw .notAClassifier }
        guard labels.count == 1 else { throw .notAReranker(labels: labels.count) }
        return try await classify(documents.map { .pair(query, $0) }, rawScores: rawScores, truncation: truncation)
            .map { $0[0] }
    }
}
