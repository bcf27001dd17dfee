import Foundation

/// `value` (arrays, dictionaries, strings, numbers, as JSONSerialization takes them; a bare string too) as JSON text,
/// for request bodies.
func jsonText(_ value: Any) throws -> String {
    String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]), as: UTF8.self)
}

/// sentence-transformers' ids and embeddings for one of the tiny models in EmbeddingModelTests/Fixtures, as its
/// scripts/fixtures/make-tiny-….py writes them: the model in the directory `name`, the outputs in `name-expected.json`.
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
