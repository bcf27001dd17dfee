import Foundation

/// Test data shared by several test targets, found from this file's path (SwiftPM lets a test read any file by path,
/// so a fixture is committed once and never copied into a bundle).
package enum SharedFixtures {
    /// The `Tests/` directory.
    package static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    /// A tiny Gemma3 checkpoint in the sentence-transformers layout (2 layers, 256-token vocabulary, Dense and
    /// Normalize modules) with a small Gemma-style BPE tokenizer: `scripts/fixtures/make-tiny-model.py` writes it.
    package static let tinyModel = tests.appendingPathComponent("Fixtures/tiny-model", isDirectory: true).path

    /// Hugging Face `tokenizers`' encodings of a few texts with the tiny model's tokenizer (ids, tokens, offsets).
    package static let tinyTokenizerCases = tests.appendingPathComponent("Fixtures/tiny-tokenizer-expected.jsonl").path
}

/// A scratch copy of a model directory, for tests that break one file of it.
package func copyOfDirectory(_ source: String) throws -> String {
    let target = FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID().uuidString)").path
    try FileManager.default.copyItem(atPath: source, toPath: target)
    return target
}
