/// The tokens of one text, as the model sees it.
public struct Tokenization: Sendable, Hashable {
    /// Token ids, special tokens included when they were asked for.
    public var ids: [Int]
    /// Token strings as in the vocabulary (`▁Hello`, `<0xE2>`, `<bos>`).
    public var tokens: [String]
    /// Where each token came from in the tokenized text (the prompt followed by the input), in Unicode scalars
    /// (Python `str` indices); `0..<0` for special tokens the template added.
    public var offsets: [Range<Int>]
    /// True for the special tokens the template added (`<bos>`, `<eos>`).
    public var isSpecial: [Bool]

    /// A tokenization from its parts, all of the same length.
    public init(ids: [Int], tokens: [String], offsets: [Range<Int>], isSpecial: [Bool]) {
        self.ids = ids
        self.tokens = tokens
        self.offsets = offsets
        self.isSpecial = isSpecial
    }
}

extension Embedder {
    /// The tokens the model sees for `text`: with the same defaults, the ids
    /// ``embed(_:prompt:dimensions:normalize:truncation:)-(String,_,_,_,_)`` embeds.
    ///
    /// With ``Truncation/disabled`` every token is returned, however many; use it to count an input's tokens
    /// against ``Info/maxSequenceLength``. Tokenizing takes microseconds per sentence and runs on the calling thread.
    /// - Throws: ``EmbeddingsError/unknownPrompt(name:available:)`` for a prompt name the model lacks.
    public func tokenize(
        _ text: String, prompt: Prompt = .modelDefault, addSpecialTokens: Bool = true, truncation: Truncation = .right
    ) throws(EmbeddingsError) -> Tokenization {
        let encoding = inputs.tokens(
            text, prompt: try prompts.text(for: prompt), addSpecialTokens: addSpecialTokens, truncation: truncation)
        return Tokenization(
            ids: encoding.ids.map(Int.init), tokens: encoding.tokens, offsets: encoding.offsets,
            isSpecial: encoding.specialTokensMask)
    }

    /// The text of token ids, as Hugging Face `tokenizers` decodes them; ids the tokenizer does not know are skipped.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        tokenizer.decode(ids.compactMap { Int32(exactly: $0) }, skipSpecialTokens: skipSpecialTokens)
    }
}
