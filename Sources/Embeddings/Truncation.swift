internal import Tokenizers

/// What to do with an input longer than the model's ``Embedder/Info/maxSequenceLength``.
public enum Truncation: Sendable, Hashable, CaseIterable {
    /// Keep the first tokens and drop the rest (sentence-transformers' behaviour; the special tokens stay).
    case right
    /// Keep the last tokens and drop the first ones (the special tokens stay).
    case left
    /// Do not truncate: embedding an input that is too long throws ``EmbeddingsError/inputTooLong(index:tokens:maxTokens:)``;
    /// tokenizing returns every token.
    case disabled

    /// The tokenizer's direction, nil when nothing is cut.
    var direction: TruncationDirection? {
        switch self {
        case .right: .right
        case .left: .left
        case .disabled: nil
        }
    }
}
