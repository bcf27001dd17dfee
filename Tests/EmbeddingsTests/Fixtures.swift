import Foundation
import TestSupport

@testable import Embeddings

/// The shared tiny Gemma3 checkpoint with its tiny BPE tokenizer, and the tokenizer's expected encodings.
enum Fixtures {
    static let tinyModel = URL(fileURLWithPath: SharedFixtures.tinyModel, isDirectory: true)
    static let tokenizerCases = URL(fileURLWithPath: SharedFixtures.tinyTokenizerCases)
}

/// Loaded once for all tests: every test may run concurrently against it, as an app's tasks would.
let tinyEmbedder = Result { () throws(EmbeddingsError) in
    try Embedder(directory: Fixtures.tinyModel, options: .init(computeThreads: 2))
}
