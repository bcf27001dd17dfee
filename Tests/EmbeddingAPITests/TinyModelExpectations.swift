import Foundation
import TestSupport
import Testing

/// `value` (arrays, dictionaries, strings, numbers, as JSONSerialization takes them; a bare string too) as JSON text,
/// for request bodies.
func jsonText(_ value: Any) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]), as: UTF8.self)
}

/// sentence-transformers' ids and embeddings for one of the tiny models in EmbeddingModelTests/Fixtures, as its
/// generator in scripts/fixtures writes them: the model in the directory `name`, the outputs in `name-expected.json`.
struct TinyModelExpectations: Decodable {
    struct Case: Decodable {
        let ids: [Int]
        let embedding: [Float]
    }

    let texts: [String]
    let cases: [Case]

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../EmbeddingModelTests/Fixtures").standardizedFileURL

    static func load(_ name: String) -> Result<TinyModelExpectations, any Error> {
        Result {
            try JSONDecoder().decode(
                TinyModelExpectations.self,
                from: Data(contentsOf: fixtures.appendingPathComponent("\(name)-expected.json")))
        }
    }

    static func modelDirectory(_ name: String) -> String { fixtures.appendingPathComponent(name).path }
}

/// Every non-empty text of `expected` through `/embed` (truncated as sentence-transformers truncates) at cosine
/// ≥ 0.99999 with its token count in `x-compute-tokens`, and through `/tokenize` with the same ids when it was not cut
/// at the fixture's `maxSequenceLength`.
func expectEmbedParity(
    _ server: LoopbackServer, _ expected: TinyModelExpectations, maxSequenceLength: Int,
    sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    #expect(expected.texts.count >= 30, sourceLocation: sourceLocation)
    for (text, item) in zip(expected.texts, expected.cases) where !text.isEmpty {
        let label = text.prefix(40).debugDescription
        let response = try await server.post("/embed", try jsonText(["inputs": text, "truncate": true]))
        let vector = try #require(
            response.vectors.first, "\(response.status) \(response.text.prefix(200))", sourceLocation: sourceLocation)
        #expect(cosine(vector, item.embedding) >= 0.99999, "\(label)", sourceLocation: sourceLocation)
        #expect(
            response.headers["x-compute-tokens"] == String(item.ids.count), "\(label)", sourceLocation: sourceLocation)
        let tokens = try await server.post("/tokenize", try jsonText(["inputs": text]))
        let rows = try #require(
            try JSONSerialization.jsonObject(with: Data(tokens.text.utf8)) as? [[[String: Any]]],
            sourceLocation: sourceLocation)
        if item.ids.count < maxSequenceLength {
            #expect(
                rows.first?.compactMap { $0["id"] as? Int } == item.ids, "\(label)", sourceLocation: sourceLocation)
        }
    }
}
