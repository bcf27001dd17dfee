import Foundation
import TestSupport
import Testing

@testable import EmbeddingAPI

/// The real google/embeddinggemma-300m directory: EMBED_MODEL_DIR, else the default Hugging Face cache snapshot.
private func realModelDirectory() throws -> String {
    let environment = ProcessInfo.processInfo.environment
    if let directory = environment["EMBED_MODEL_DIR"], !directory.isEmpty { return directory }
    let home = environment["HF_HOME"] ?? NSHomeDirectory() + "/.cache/huggingface"
    let snapshots = home + "/hub/models--google--embeddinggemma-300m/snapshots"
    for name in ((try? FileManager.default.contentsOfDirectory(atPath: snapshots)) ?? []).sorted()
    where FileManager.default.fileExists(atPath: snapshots + "/" + name + "/model.safetensors") {
        return snapshots + "/" + name
    }
    throw TestClientError(
        description:
            "the real model is not available: EMBED_MODEL_DIR is unset and \(snapshots) has no snapshot; run scripts/fetch-model.sh (scripts/test does it)"
    )
}

/// Loaded once for all real-model tests: packing the weights takes seconds.
private let realServer = Result {
    try LoopbackServer(router: liveRouter(directory: realModelDirectory(), modelID: "google/embeddinggemma-300m"))
}

private struct GoldenEmbedding: Decodable {
    let text: String
    // swift-format-ignore: AlwaysUseLowerCamelCase
    // Named as the golden file's JSON key.
    let prompt_name: String?
    let ids: [Int32]
    let normalized: [Float]
}

private struct GoldenTokens: Decodable {
    let text: String
    let ids: [Int32]
    let hidden: [[Float]]
}

private func goldenLines<T: Decodable>(_ name: String, as type: T.Type) throws -> [T] {
    try String(contentsOfFile: fixturePath(name), encoding: .utf8).split(separator: "\n")
        .map { try JSONDecoder().decode(T.self, from: Data($0.utf8)) }
}

@Suite("HTTP server with the real EmbeddingGemma")
struct RealModelServerTests {
    @Test("/embed over HTTP equals sentence-transformers (cosine ≥ 0.99999), prompts and truncation to 2048 included")
    func goldenParity() async throws {
        let server = try realServer.get()
        for golden in try goldenLines("golden-embeddings.jsonl", as: GoldenEmbedding.self) {
            var body: [String: Any] = ["inputs": golden.text]
            if let prompt = golden.prompt_name { body["prompt_name"] = prompt }
            let response = try await server.post("/embed", try jsonText(body))
            let vector = try #require(response.vectors.first, "\(response.status) \(response.text.prefix(200))")
            #expect(cosine(vector, golden.normalized) >= 0.99999, "\(golden.text.prefix(40))")
            #expect(response.headers["x-compute-tokens"] == String(golden.ids.count))
        }
    }

    @Test("a batch over HTTP matches each golden vector in order")
    func goldenBatch() async throws {
        let server = try realServer.get()
        let goldens = try goldenLines("golden-embeddings.jsonl", as: GoldenEmbedding.self).filter {
            $0.prompt_name == nil
        }
        let response = try await server.post("/embed", try jsonText(["inputs": goldens.map(\.text)]))
        #expect(response.vectors.count == goldens.count)
        for (vector, golden) in zip(response.vectors, goldens) {
            #expect(cosine(vector, golden.normalized) >= 0.99999)
        }
    }

    @Test("OpenAI base64 embeddings decode to the golden vectors; usage counts the tokens")
    func openAIBase64() async throws {
        let server = try realServer.get()
        let golden = try goldenLines("golden-embeddings.jsonl", as: GoldenEmbedding.self)[0]
        let response = try await server.post(
            "/v1/embeddings",
            try jsonText(["input": [golden.text], "model": "google/embeddinggemma-300m", "encoding_format": "base64"]))
        let object = try #require(response.json as? [String: Any])
        let data = try #require(object["data"] as? [[String: Any]])
        let text = try #require(data[0]["embedding"] as? String)
        let bytes = try #require(Data(base64Encoded: text))
        let vector = bytes.withUnsafeBytes { raw in
            (0..<raw.count / 4).map {
                Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))
            }
        }
        #expect(vector.count == 768)
        #expect(cosine(vector, golden.normalized) >= 0.99999)
        #expect((object["usage"] as? [String: Int])?["prompt_tokens"] == golden.ids.count)
    }

    @Test("dimensions cuts the Matryoshka prefix and renormalizes; above 768 is refused")
    func matryoshka() async throws {
        let server = try realServer.get()
        let golden = try goldenLines("golden-embeddings.jsonl", as: GoldenEmbedding.self)[0]
        let response = try await server.post("/embed", try jsonText(["inputs": golden.text, "dimensions": 128]))
        let vector = try #require(response.vectors.first)
        #expect(vector.count == 128)
        #expect(abs(norm(vector) - 1) < 1e-5)
        #expect(cosine(vector, Array(golden.normalized.prefix(128))) >= 0.99999)
        let refused = try await server.post("/embed", try jsonText(["inputs": "x", "dimensions": 769]))
        #expect(refused.status == 422)
    }

    @Test("/embed_all returns the golden last hidden states")
    func tokenStates() async throws {
        let server = try realServer.get()
        let golden = try goldenLines("golden-token-embeddings.jsonl", as: GoldenTokens.self)[0]
        let response = try await server.post("/embed_all", try jsonText(["inputs": golden.text]))
        let states = try #require((response.json as? [[[Double]]])?.first)
        #expect(states.count == golden.ids.count)
        for (row, expected) in zip(states, golden.hidden) {
            #expect(cosine(row.map(Float.init), expected) >= 0.9999)
        }
    }

    @Test("/tokenize gives the golden ids; <image_soft_token> (id 262144, no embedding row) is refused on /embed")
    func tokenizeAndOutOfTable() async throws {
        let server = try realServer.get()
        let golden = try goldenLines("golden-embeddings.jsonl", as: GoldenEmbedding.self)[0]
        let tokens = try #require(
            (try await server.post("/tokenize", try jsonText(["inputs": golden.text])).json as? [[[String: Any]]])?
                .first)
        #expect(tokens.map { $0["id"] as? Int } == golden.ids.map { Int($0) })
        let refused = try await server.post("/embed", try jsonText(["inputs": "look: <image_soft_token>"]))
        #expect(refused.status == 422)
        #expect(refused.teiError?.message.contains("262144") == true)
    }

    @Test("/info reports the model's limits and prompts")
    func info() async throws {
        let server = try realServer.get()
        let info = try #require(try await server.send("GET", "/info").json as? [String: Any])
        #expect(info["max_input_length"] as? Int == 2048)
        #expect((info["prompts"] as? [String: String])?["query"] == "task: search result | query: ")
    }
}
