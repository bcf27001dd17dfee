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
        let server = try xlmrServer.get()
        let expected = try expectations.get()
        #expect(expected.texts.count >= 30)
        for (text, item) in zip(expected.texts, expected.cases) where !text.isEmpty {
            let response = try await server.post("/embed", try jsonText(["inputs": text, "truncate": true]))
            let vector = try #require(response.vectors.first, "\(response.status) \(response.text.prefix(200))")
            #expect(cosine(vector, item.embedding) >= 0.99999, "\(text.prefix(40).debugDescription)")
            #expect(response.headers["x-compute-tokens"] == String(item.ids.count), "\(text.prefix(40))")
            let tokens = try await server.post("/tokenize", try jsonText(["inputs": text]))
            let rows = try #require(
                try JSONSerialization.jsonObject(with: Data(tokens.text.utf8)) as? [[[String: Any]]])
            if item.ids.count < 64 {
                #expect(rows.first?.compactMap { $0["id"] as? Int } == item.ids, "\(text.prefix(40).debugDescription)")
            }
        }
    }
}
