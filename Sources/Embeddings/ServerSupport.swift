internal import EmbeddingModel
package import Tokenizers

/// What the HTTP server needs beyond the public API: it runs its own batcher (with TEI's permits, metrics and
/// token-level outputs) over the same loaded model, so it takes the synchronous, unbatched steps here.
extension Embedder {
    /// The tokenizer's full encoding, for `/tokenize` and the API's own input checks.
    package func encoding(
        _ text: String, addSpecialTokens: Bool, maxLength: Int?, direction: TruncationDirection
    ) -> Encoding {
        tokenizer.encode(text, addSpecialTokens: addSpecialTokens, maxLength: maxLength, direction: direction)
    }

    /// The tokenizer's encoding of a pair of texts (a cross-encoder's input), with its token types.
    package func encoding(
        _ text: String, pair: String, maxLength: Int?, direction: TruncationDirection
    ) -> Encoding {
        tokenizer.encode(text, pair: pair, addSpecialTokens: true, maxLength: maxLength, direction: direction)
    }

    /// Raw pooled vectors for a packed batch, or a classifier's logits, on the calling thread (the server's encoder
    /// thread); `tokenTypes` as the tokenizer gave them, nil for type 0 throughout. `betweenLayers` runs after each
    /// encoder layer but the last, on this thread, and may run one short batch of its own through this model.
    package func embedPacked(
        _ sequences: [[Int32]], tokenTypes: [[Int32]]? = nil, betweenLayers: () -> Void = {}
    ) throws -> [[Float]] {
        try model.embed(sequences, tokenTypes: tokenTypes, betweenLayers: betweenLayers)
    }

    /// Final-norm token states per sequence, `[tokens × hiddenSize]` flattened, on the calling thread;
    /// `betweenLayers` as in `embedPacked`.
    package func tokenEmbeddingsPacked(_ sequences: [[Int32]], betweenLayers: () -> Void = {}) throws -> [[Float]] {
        try model.tokenEmbeddings(sequences, betweenLayers: betweenLayers)
    }

    /// Forward passes the in-process batcher has run and the inputs they held; zeros before the first `embed`.
    package var batchCounts: (batches: Int, inputs: Int) { runningPipeline?.counts.value ?? (0, 0) }

    /// Why the tokenizer's table cache was rebuilt at load, for the server's start-up log; nil if it was not.
    package var tokenizerCacheRebuildReason: String? { tokenizer.cacheRebuildReason }
}
