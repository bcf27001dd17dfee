import Foundation

@testable import Embeddings

/// The tiny Gemma3 checkpoint with its tiny BPE tokenizer, shared with the API tests (SwiftPM lets a test read any
/// file by path; the fixture is not copied).
enum Fixtures {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let tinyModel = tests.appendingPathComponent("EmbeddingAPITests/Fixtures/tiny-model", isDirectory: true)
    static let tokenizerCases = tests.appendingPathComponent("EmbeddingAPITests/Fixtures/tiny-tokenizer-expected.jsonl")
}

/// Loaded once for all tests: every test may run concurrently against it, as an app's tasks would.
let tinyEmbedder = Result { () throws(EmbeddingsError) in
    try Embedder(directory: Fixtures.tinyModel, options: .init(computeThreads: 2))
}

func norm(_ vector: [Float]) -> Float {
    vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
}
