import Foundation
import TestSupport
import Testing

@testable import EmbeddingAPI

/// sentence-transformers' outputs for the tiny model (scripts/fixtures/make-tiny-mpnet.py).
private let expectations = TinyModelExpectations.load("tiny-mpnet")

/// The fixture's max_seq_length: texts with this many ids were truncated by sentence-transformers.
private let maxSequenceLength = 200

/// Loaded once for the suite.
private let mpnetServer = Result {
    try LoopbackServer(
        router: liveRouter(
            directory: TinyModelExpectations.modelDirectory("tiny-mpnet"),
            modelID: "tiny-mpnet"))
}

@Suite("HTTP server with a tiny MPNet (WordPiece, relative position bias)")
struct MPNetServerTests {
    @Test("/embed and /tokenize equal sentence-transformers for every text: ids, and vectors at cosine ≥ 0.99999")
    func embedParity() async throws {
        try await expectEmbedParity(mpnetServer.get(), expectations.get(), maxSequenceLength: maxSequenceLength)
    }

    @Test("/v1/embeddings of 32 untruncated texts in one request equals sentence-transformers; usage counts tokens")
    func openAIParity() async throws {
        let server = try mpnetServer.get()
        let expected = try expectations.get()
        // The last 32 (the server's default batch limit), which hold the long texts.
        let cases = zip(expected.texts, expected.cases).filter {
            !$0.0.isEmpty && $0.1.ids.count < maxSequenceLength
        }.suffix(32)
        #expect(cases.count(where: { $0.1.ids.count > 128 }) >= 2)
        let response = try await server.post(
            "/v1/embeddings", try jsonText(["input": cases.map(\.0), "model": "tiny-mpnet"]))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
        let data = try #require(object["data"] as? [[String: Any]], "\(response.text.prefix(200))")
        #expect(data.count == cases.count)
        for (item, (text, golden)) in zip(data, cases) {
            let vector = try #require(item["embedding"] as? [Double]).map(Float.init)
            #expect(cosine(vector, golden.embedding) >= 0.99999, "\(text.prefix(40).debugDescription)")
        }
        let usage = try #require(object["usage"] as? [String: Any])
        #expect(usage["prompt_tokens"] as? Int == cases.reduce(0) { $0 + $1.1.ids.count })
    }
}
