import Embeddings
import Foundation
import JSON
import TestSupport
import Testing
import Tokenizers

@testable import embed_server

/// The real model (EMBED_MODEL_DIR, else the default Hugging Face cache snapshot), loaded once.
private let realModel = Result { () throws -> Embedder in
    let environment = ProcessInfo.processInfo.environment
    var directory = environment["EMBED_MODEL_DIR"] ?? ""
    if directory.isEmpty {
        let home =
            environment["HF_HOME"] ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/huggingface")
        let snapshots = (home as NSString).appendingPathComponent("hub/models--google--embeddinggemma-300m/snapshots")
        guard let snapshot = try? FileManager.default.contentsOfDirectory(atPath: snapshots).sorted().first else {
            throw EmbedCommandError(
                "the real model is not available: set EMBED_MODEL_DIR or run scripts/fetch-model.sh")
        }
        directory = (snapshots as NSString).appendingPathComponent(snapshot)
    }
    return try Embedder(directory: URL(fileURLWithPath: directory), options: .init(maxBatchTokens: 512))
}

/// sentence-transformers' outputs for the golden texts (a copy of ../shared/golden/embeddings.jsonl, thinned).
private struct Golden: Decodable {
    let text: String
    // swift-format-ignore: AlwaysUseLowerCamelCase
    // Named as the golden file's JSON key.
    let prompt_name: String?
    let ids: [Int32]
    let raw: [Float]
    let normalized: [Float]
}

private func goldenCases() throws -> [Golden] {
    let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("EmbeddingModelTests/Fixtures/embeddings.jsonl")
    let decoder = JSONDecoder()
    return try String(contentsOf: path, encoding: .utf8).split(separator: "\n").map {
        try decoder.decode(Golden.self, from: Data($0.utf8))
    }
}

/// Runs an embed job over `lines` and returns the vectors it wrote, one per output line.
private func embed(
    _ lines: [String], prompt: Prompt, dimensions: Int? = nil, normalize: Bool = true, textsPerCall: Int = 256
) async throws -> (vectors: [[Float]], calls: Int) {
    var job = EmbedJob(embedder: try realModel.get(), prompt: prompt, dimensions: dimensions, normalize: normalize)
    job.textsPerCall = textsPerCall
    var remaining = lines[...]
    var output = ""
    var calls = 0
    try await job.run(next: { remaining.popFirst() }, write: { output += $0 }, batchDone: { _, _ in calls += 1 })
    struct Line: Decodable { let embedding: [Float] }
    let vectors = try output.split(separator: "\n").map {
        try JSONDecoder().decode(Line.self, from: Data($0.utf8)).embedding
    }
    return (vectors, calls)
}

@Suite("embed command on the real model", .serialized)
struct EmbedCommandTests {
    @Test("plain and JSON lines come out in input order, prompted, truncated, and equal to sentence-transformers")
    func matchesReference() async throws {
        let cases = try goldenCases().filter { $0.prompt_name == "document" }
        #expect(cases.contains { $0.ids.count == 2048 })
        // Every other text as a JSON line; texts with newlines must be JSON lines.
        let lines = cases.enumerated().map { index, item in
            index % 2 == 0 && !item.text.contains(where: \.isNewline)
                ? item.text : "{\"text\": \(JSONLines.quoted(item.text))}"
        }
        let (vectors, calls) = try await embed(lines, prompt: .named("document"), textsPerCall: 7)
        #expect(vectors.count == cases.count)
        #expect(calls > 2)
        for (item, vector) in zip(cases, vectors) {
            #expect(vector.count == 768)
            #expect(cosine(vector, item.normalized) >= 0.99999, "\(item.ids.count) tokens: \(item.text.prefix(40))")
        }
    }

    @Test("--dimensions cuts and --no-normalize keeps the raw values")
    func dimensionsAndRaw() async throws {
        let item = try #require(try goldenCases().first { $0.prompt_name == nil && $0.ids.count > 5 })
        let (vectors, _) = try await embed([item.text], prompt: .none, dimensions: 5, normalize: false)
        let vector = try #require(vectors.first)
        #expect(vector.count == 5)
        for (value, expected) in zip(vector, item.raw.prefix(5)) {
            #expect(abs(value - expected) <= 1e-3 * max(1, abs(expected)))
        }
        let (normalized, _) = try await embed([item.text], prompt: .none, dimensions: 5, normalize: true)
        let norm = normalized[0].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(norm - 1) < 1e-6)
    }

    @Test("a line containing <image_soft_token> is an error naming the line")
    func imageSoftToken() async throws {
        await #expect(throws: EmbedCommandError.self) {
            _ = try await embed(["fine", "bad <image_soft_token>"], prompt: .none)
        }
        do {
            _ = try await embed(["fine", "bad <image_soft_token>"], prompt: .none)
        } catch let error as EmbedCommandError {
            #expect(error.description.contains("input line 2") && error.description.contains("262144"))
        }
    }
}
