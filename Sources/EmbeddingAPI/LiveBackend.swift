import Embeddings
import Tokenizers

/// The library's loaded model behind the API: its tokenizer, and its encoder run on the API's batcher thread.
package struct LiveBackend: EmbeddingBackend {
    let embedder: Embedder

    package init(_ embedder: Embedder) {
        self.embedder = embedder
    }

    package func tokenize(_ text: String, addSpecialTokens: Bool, maxLength: Int?, direction: TruncationDirection)
        -> Encoding
    {
        embedder.encoding(
            text, addSpecialTokens: addSpecialTokens, maxLength: maxLength,
            direction: direction)
    }

    package func tokenize(_ text: String, pair: String, maxLength: Int?, direction: TruncationDirection) -> Encoding {
        embedder.encoding(text, pair: pair, maxLength: maxLength, direction: direction)
    }

    package func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        embedder.decode(ids.map { Int($0) }, skipSpecialTokens: skipSpecialTokens)
    }

    package func embed(_ sequences: [[Int32]], betweenLayers: () -> Void) throws -> [[Float]] {
        try embedder.embedPacked(sequences, betweenLayers: betweenLayers)
    }

    package func tokenEmbeddings(_ sequences: [[Int32]], betweenLayers: () -> Void) throws -> [[Float]] {
        try embedder.tokenEmbeddingsPacked(sequences, betweenLayers: betweenLayers)
    }

    package func classify(_ sequences: [[Int32]], tokenTypes: [[Int32]], betweenLayers: () -> Void) throws -> [[Float]]
    {
        try embedder.embedPacked(sequences, tokenTypes: tokenTypes, betweenLayers: betweenLayers)
    }
}
