import EmbeddingModel
import Embeddings

extension EmbeddingBackend {
    /// The library's loaded model behind the API: its tokenizer, and its encoder run on the API's batcher thread.
    package static func live(_ embedder: Embedder) -> EmbeddingBackend {
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
            },
            tokenizePair: { text, pair, maxLength, direction in
                embedder.encoding(
                    text, pair: pair, maxLength: maxLength, direction: direction == .left ? .left : .right)
            },
            classify: { try embedder.embedPacked($0, tokenTypes: $1) })
    }
}
