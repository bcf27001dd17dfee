import Foundation
import TestSupport
import Testing

@testable import EmbeddingModel
@testable import Kernels

/// The real sentence-transformers/all-MiniLM-L6-v2 directory, from EMBED_MINILM_DIR (scripts/test exports it).
private func miniLMDirectory() throws -> String {
    guard let directory = ProcessInfo.processInfo.environment["EMBED_MINILM_DIR"], !directory.isEmpty else {
        throw MiniLMMissing()
    }
    return directory
}

struct MiniLMMissing: Error, CustomStringConvertible {
    var description: String {
        "the real all-MiniLM-L6-v2 model is not available: set EMBED_MINILM_DIR to its directory (scripts/test does it with scripts/fetch-model.sh sentence-transformers/all-MiniLM-L6-v2)"
    }
}

/// Loaded once for the suite.
private let miniLM = Result { try SentenceEmbedder(directory: miniLMDirectory(), pool: testPool) }

/// One line of Fixtures/minilm-golden.jsonl (scripts/fixtures/make-bert-golden.py): Hugging Face token ids, truncated to
/// 256, the Pooling module's output and the model's normalised output.
private struct MiniLMGolden: Decodable {
    let text: String
    let ids: [Int32]
    let raw: [Float]
    let normalized: [Float]

    static func load() throws -> [MiniLMGolden] {
        let text = try String(contentsOfFile: Fixtures.path("minilm-golden.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Self.self, from: Data($0.utf8)) }
    }
}

/// Packed batches of at most `maxTokens` tokens, in order.
private func batches(_ golden: [MiniLMGolden], maxTokens: Int) -> [Range<Int>] {
    var ranges: [Range<Int>] = []
    var start = 0, tokens = 0
    for (index, item) in golden.enumerated() {
        if index > start && tokens + item.ids.count > maxTokens {
            ranges.append(start..<index)
            start = index
            tokens = 0
        }
        tokens += item.ids.count
    }
    if start < golden.count { ranges.append(start..<golden.count) }
    return ranges
}

/// Cosines of every golden case embedded in packed batches: (raw, normalised) minima, with a failed expectation per
/// case under `minimum`.
private func goldenCosines(_ embedder: SentenceEmbedder, minimum: Double, label: String) throws -> (Double, Double) {
    let golden = try MiniLMGolden.load()
    var vectors: [[Float]] = []
    for range in batches(golden, maxTokens: 2048) { vectors += try embedder.embed(golden[range].map(\.ids)) }
    var minRaw = 1.0, minNormalized = 1.0
    for (item, vector) in zip(golden, vectors) {
        let raw = cosine(vector, item.raw)
        let normalized = cosine(finalizeEmbedding(vector, dimensions: nil, normalize: true), item.normalized)
        #expect(raw >= minimum, "\(label), \(item.ids.count) tokens: \(item.text.prefix(40).debugDescription)")
        #expect(normalized >= minimum)
        minRaw = min(minRaw, raw)
        minNormalized = min(minNormalized, normalized)
    }
    print(
        "all-MiniLM-L6-v2 \(label), \(golden.count) golden cases: min cosine raw \(minRaw), normalized \(minNormalized)"
    )
    return (minRaw, minNormalized)
}

@Suite("Real all-MiniLM-L6-v2 against sentence-transformers", .serialized)
struct MiniLMRealModelTests {
    @Test("model info reads the published configuration: BERT, 384 wide, 256 tokens, mean pooling, Normalize")
    func info() throws {
        let info = try miniLM.get().info
        #expect(info.modelType == "bert")
        #expect(info.hiddenSize == 384)
        #expect(info.embeddingDimensions == 384)
        #expect(info.maxSequenceLength == 256)
        #expect(info.vocabularySize == 30522)
        #expect(info.pooling == .mean)
        #expect(info.normalizes)
        #expect(info.prompts.isEmpty && info.defaultPromptName == nil)
    }

    @Test("every golden case (truncated to 256 tokens) matches raw and normalised within cosine 0.99999, fp32")
    func golden() throws {
        let golden = try MiniLMGolden.load()
        #expect(golden.count >= 200)
        #expect(golden.contains { $0.ids.count == 256 } && golden.contains { $0.ids.count == 2 })
        _ = try goldenCosines(miniLM.get(), minimum: 0.99999, label: "fp32")

        // Alone gives what packed among others gave.
        let embedder = try miniLM.get()
        let longest = try #require(golden.firstIndex { $0.ids.count == 256 })
        let packed = try embedder.embed([golden[0].ids, golden[longest].ids, golden[1].ids])
        for (slot, index) in [0, longest, 1].enumerated() {
            #expect(cosine(try embedder.embed([golden[index].ids])[0], packed[slot]) >= 0.999999)
        }
    }

    @Test("with bfloat16 Linear weights every golden case stays within cosine 0.9999")
    func bfloat16() throws {
        let embedder = try SentenceEmbedder(directory: miniLMDirectory(), pool: testPool, precision: .bfloat16)
        _ = try goldenCosines(embedder, minimum: 0.9999, label: "bf16")
    }
}
