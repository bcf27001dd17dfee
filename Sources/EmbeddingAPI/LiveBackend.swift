import EmbeddingModel
import Embeddings
import Tokenizers

extension EmbeddingBackend {
    /// The library's loaded model behind the API: its tokenizer, and its encoder run on the API's batcher thread.
    public static func live(_ embedder: Embedder) -> EmbeddingBackend {
        EmbeddingBackend(
            tokenize: { text, addSpecialTokens, maxLength, direction in
                embedder.encoding(
                    text, addSpecialTokens: addSpecialTokens, maxLength: maxLength,
                    direction: direction == .left ? .left : .right)
            },
            decode: { ids, skipSpecialTokens in
                embedder.decode(ids.map { Int($0) }, skipSpecialTokens: skipSpecialTokens)
            },
            embed: { try embedder.embedPacked($0) },
            tokenEmbeddings: { try embedder.tokenEmbeddingsPacked($0) },
            finalize: { raw, dimensions, normalize in
                finalizeEmbedding(raw, dimensions: dimensions, normalize: normalize)
            })
    }

    /// The real tokenizer and EmbeddingGemma behind the API.
    public static func live(tokenizer: Tokenizer, embedder: SentenceEmbedder) -> EmbeddingBackend {
        EmbeddingBackend(
            tokenize: { text, addSpecialTokens, maxLength, direction in
                tokenizer.encode(
                    text, addSpecialTokens: addSpecialTokens, maxLength: maxLength,
                    direction: direction == .left ? .left : .right)
            },
            decode: { ids, skipSpecialTokens in tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens) },
            embed: { try embedder.embed($0) },
            tokenEmbeddings: { try embedder.tokenEmbeddings($0) },
            finalize: { raw, dimensions, normalize in
                finalizeEmbedding(raw, dimensions: dimensions, normalize: normalize)
            })
    }
}
