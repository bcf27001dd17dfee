internal import Tokenizers

/// Turns one input text into the token ids the encoder runs, or the error that keeps it from running: the checks
/// happen here, before the input joins a shared batch, because an input that fails inside a batch fails every call
/// packed with it.
struct InputEncoder: Sendable {
    let tokenizer: Tokenizer
    let maxSequenceLength: Int
    let vocabularySize: Int

    /// The ids of `prompt` + `text` with the special tokens, cut to `maxSequenceLength` as `truncation` says.
    func ids(_ text: String, prompt: String?, truncation: Truncation, index: Int) throws(EmbeddingsError) -> [Int32] {
        try checked(tokens(text, prompt: prompt, addSpecialTokens: true, truncation: truncation).ids, index: index)
    }

    /// A cross-encoder's input: the ids and token types of a text, or of a pair with the tokenizer's pair template,
    /// cut to `maxSequenceLength` (a pair with `longest_first`, as Hugging Face does).
    func classifierInput(
        _ input: ClassifierInput, truncation: Truncation, index: Int
    ) throws(EmbeddingsError) -> ModelInput {
        let maxLength = truncation.direction == nil ? nil : maxSequenceLength
        let direction = truncation.direction ?? .right
        let encoding =
            switch input {
            case .text(let text):
                tokenizer.encode(text, addSpecialTokens: true, maxLength: maxLength, direction: direction)
            case .pair(let text, let pair):
                tokenizer.encode(text, pair: pair, addSpecialTokens: true, maxLength: maxLength, direction: direction)
            }
        return ModelInput(ids: try checked(encoding.ids, index: index), types: encoding.typeIDs)
    }

    /// `ids` if the encoder can run them: not empty, not too long, every id in the embedding table.
    private func checked(_ ids: [Int32], index: Int) throws(EmbeddingsError) -> [Int32] {
        if ids.isEmpty { throw .emptyInput(index: index) }
        if ids.count > maxSequenceLength {
            throw .inputTooLong(index: index, tokens: ids.count, maxTokens: maxSequenceLength)
        }
        if let outside = ids.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw .tokenOutsideVocabulary(index: index, id: Int(outside), vocabularySize: vocabularySize)
        }
        return ids
    }

    /// The tokenizer's full result for `prompt` + `text`; nothing is cut when `truncation` is disabled.
    func tokens(_ text: String, prompt: String?, addSpecialTokens: Bool, truncation: Truncation) -> Encoding {
        tokenizer.encode(
            PromptCatalog.apply(prompt, to: text), addSpecialTokens: addSpecialTokens,
            maxLength: truncation.direction == nil ? nil : maxSequenceLength,
            direction: truncation.direction ?? .right)
    }
}
