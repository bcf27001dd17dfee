import Foundation
import TestSupport
import Testing

@testable import EmbeddingAPI

/// sentence-transformers' outputs for the tiny model (scripts/fixtures/make-tiny-xlmr.py).
private let expectations = TinyModelExpectations.load("tiny-xlmr")

/// Loaded once for the suite.
private let xlmrServer = Result {
    try LoopbackServer(
        router: liveRouter(
            directory: TinyModelExpectations.modelDirectory("tiny-xlmr"), modelID: "tiny-xlmr"))
}

@Suite("HTTP server with a tiny XLM-RoBERTa (SentencePiece Unigram tokenizer)")
struct XLMRServerTests {
    @Test("/embed and /tokenize equal sentence-transformers for every text: ids, and vectors at cosine ≥ 0.99999")
    func embedParity() async throws {
        try await expectEmbedParity(xlmrServer.get(), expectations.get(), maxSequenceLength: 64)
    }
}
