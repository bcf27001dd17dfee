import Foundation
import TestSupport
import Testing

@testable import EmbeddingAPI

/// The real sentence-transformers/all-MiniLM-L6-v2 snapshot, which scripts/test exports as EMBED_MINILM_DIR.
private func miniLMDirectory() throws -> String {
    guard let directory = ProcessInfo.processInfo.environment["EMBED_MINILM_DIR"], !directory.isEmpty else {
        throw TestClientError(
            description:
                "EMBED_MINILM_DIR is not set: point it at the sentence-transformers/all-MiniLM-L6-v2 snapshot (scripts/fetch-model.sh sentence-transformers/all-MiniLM-L6-v2 prints it; scripts/test exports it)"
        )
    }
    return directory
}

/// Loaded once for the suite.
private let miniLMServer = Result {
    try LoopbackServer(
        router: liveRouter(directory: miniLMDirectory(), modelID: "sentence-transformers/all-MiniLM-L6-v2"))
}

/// sentence-transformers' outputs for all-MiniLM-L6-v2 (scripts/fixtures/make-bert-golden.py), shared with
/// EmbeddingModelTests.
private struct MiniLMGolden: Decodable {
    let text: String
    let ids: [Int32]
    let raw: [Float]
    let normalized: [Float]
}

private func miniLMGoldens() throws -> [MiniLMGolden] {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../EmbeddingModelTests/Fixtures/minilm-golden.jsonl").standardizedFileURL.path
    return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        .map { try JSONDecoder().decode(MiniLMGolden.self, from: Data($0.utf8)) }
}

@Suite("HTTP server with the real all-MiniLM-L6-v2 (BERT)")
struct MiniLMServerTests {
    @Test("/embed equals sentence-transformers for every golden text (cosine ≥ 0.99999), normalized by default")
    func embedParity() async throws {
        let server = try miniLMServer.get()
        var checked = 0
        for golden in try miniLMGoldens() where !golden.text.isEmpty {
            let response = try await server.post("/embed", try jsonText(["inputs": golden.text]))
            let vector = try #require(response.vectors.first, "\(response.status) \(response.text.prefix(200))")
            #expect(cosine(vector, golden.normalized) >= 0.99999, "\(golden.text.prefix(40))")
            // Normalized as TEI's /embed is by default: unit length, not just the right direction.
            let norm = vector.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(abs(norm - 1) < 1e-5)
            // Texts over 256 tokens are cut to the model's max_seq_length, as sentence-transformers cuts them.
            #expect(response.headers["x-compute-tokens"] == String(golden.ids.count), "\(golden.text.prefix(40))")
            checked += 1
        }
        #expect(checked >= 200)
    }

    @Test("normalize false gives the pooled vector itself; a batch answers in order")
    func rawBatch() async throws {
        let server = try miniLMServer.get()
        let goldens = Array(try miniLMGoldens().filter { !$0.text.isEmpty }.prefix(32))
        let response = try await server.post(
            "/embed", try jsonText(["inputs": goldens.map(\.text), "normalize": false] as [String: Any]))
        #expect(response.vectors.count == goldens.count)
        for (vector, golden) in zip(response.vectors, goldens) {
            #expect(cosine(vector, golden.raw) >= 0.99999)
            let scale =
                zip(vector, golden.raw).reduce(0) { $0 + Double($1.0) * Double($1.1) }
                / golden.raw.reduce(0) { $0 + Double($1) * Double($1) }
            #expect(abs(scale - 1) < 1e-4, "the raw vector's length, not only its direction")
        }
    }

    @Test("/v1/embeddings equals sentence-transformers; usage counts the tokens")
    func openAIParity() async throws {
        let server = try miniLMServer.get()
        let goldens = Array(try miniLMGoldens().filter { !$0.text.isEmpty }.suffix(16))
        let response = try await server.post(
            "/v1/embeddings", try jsonText(["input": goldens.map(\.text), "model": "all-MiniLM-L6-v2"]))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.text.utf8)) as? [String: Any])
        let data = try #require(object["data"] as? [[String: Any]], "\(response.text.prefix(200))")
        #expect(data.count == goldens.count)
        for (item, golden) in zip(data, goldens) {
            let vector = try #require(item["embedding"] as? [Double]).map(Float.init)
            #expect(cosine(vector, golden.normalized) >= 0.99999)
        }
        let usage = try #require(object["usage"] as? [String: Any])
        #expect(usage["prompt_tokens"] as? Int == goldens.reduce(0) { $0 + $1.ids.count })
    }

    @Test("/info and /tokenize follow the served model: BERT, 384 dimensions, 256 tokens, mean pooling, WordPiece")
    func infoAndTokenize() async throws {
        let server = try miniLMServer.get()
        let info = try #require(
            try JSONSerialization.jsonObject(
                with: Data(try await server.send("GET", "/info", body: nil, headers: []).text.utf8)) as? [String: Any])
        #expect(info["max_input_length"] as? Int == 256)
        let modelType = try #require(info["model_type"] as? [String: Any])
        #expect((modelType["embedding"] as? [String: Any])?["pooling"] as? String == "mean")
        let golden = try #require(try miniLMGoldens().first { $0.ids.count > 4 && $0.ids.count < 64 })
        let tokens = try await server.post("/tokenize", try jsonText(["inputs": golden.text]))
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(tokens.text.utf8)) as? [[[String: Any]]])
        #expect(rows.first?.compactMap { $0["id"] as? Int } == golden.ids.map(Int.init))
    }
}
