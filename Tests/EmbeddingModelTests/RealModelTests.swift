import Foundation
import TestSupport
import Testing

@testable import EmbeddingModel
@testable import Kernels

/// The real google/embeddinggemma-300m directory: EMBED_MODEL_DIR, else the default Hugging Face cache snapshot.
private func realModelDirectory() throws -> String {
    let environment = ProcessInfo.processInfo.environment
    if let directory = environment["EMBED_MODEL_DIR"], !directory.isEmpty { return directory }
    let home = environment["HF_HOME"] ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/huggingface")
    let snapshots = (home as NSString).appendingPathComponent("hub/models--google--embeddinggemma-300m/snapshots")
    let candidates = (try? FileManager.default.contentsOfDirectory(atPath: snapshots)) ?? []
    for name in candidates.sorted() {
        let directory = (snapshots as NSString).appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent("model.safetensors")) {
            return directory
        }
    }
    throw RealModelMissing(searched: snapshots)
}

struct RealModelMissing: Error, CustomStringConvertible {
    let searched: String
    var description: String {
        "the real model is not available: EMBED_MODEL_DIR is unset and \(searched) has no snapshot; run scripts/fetch-model.sh (scripts/test does it)"
    }
}

/// Loaded once for the whole suite: packing the weights is the slow part.
private let realModel = Result { try SentenceEmbedder(directory: realModelDirectory(), pool: testPool) }

/// One line of Fixtures/embeddings.jsonl (sentence-transformers' output for `ids`, prompt included).
private struct GoldenEmbedding: Decodable {
    let text: String
    // swift-format-ignore: AlwaysUseLowerCamelCase
    // Named as the golden file's JSON key.
    let prompt_name: String?
    let ids: [Int32]
    let raw: [Float]
    let normalized: [Float]
}

/// One line of Fixtures/token_embeddings.jsonl (last_hidden_state, `[n × 768]`).
private struct GoldenTokenStates: Decodable {
    let text: String
    let ids: [Int32]
    let hidden: [[Float]]
}

private func readLines<Row: Decodable>(_ name: String, as _: Row.Type) throws -> [Row] {
    let text = try String(contentsOfFile: Fixtures.path(name), encoding: .utf8)
    let decoder = JSONDecoder()
    return try text.split(separator: "\n").map { try decoder.decode(Row.self, from: Data($0.utf8)) }
}

/// Splits `count` sequences into packed batches of at most `maxTokens` tokens (a longer sequence goes alone).
private func packedBatches(_ lengths: [Int], maxTokens: Int) -> [Range<Int>] {
    var batches: [Range<Int>] = []
    var start = 0, tokens = 0
    for (index, length) in lengths.enumerated() {
        if index > start && tokens + length > maxTokens {
            batches.append(start..<index)
            start = index
            tokens = 0
        }
        tokens += length
    }
    if start < lengths.count { batches.append(start..<lengths.count) }
    return batches
}

@Suite("Real EmbeddingGemma-300m against sentence-transformers", .serialized)
struct RealModelTests {
    @Test("model info reads the published configuration")
    func info() throws {
        let info = try realModel.get().info
        #expect(info.hiddenSize == 768)
        #expect(info.embeddingDimensions == 768)
        #expect(info.maxSequenceLength == 2048)
        #expect(info.vocabularySize == 262_144)
        #expect(info.modelType == "gemma3_text")
        #expect(info.prompts.count == 14)
        #expect(info.prompts["query"] == "task: search result | query: ")
        #expect(info.prompts["document"] == "title: none | text: ")
        #expect(info.defaultPromptName == nil)
    }

    @Test(
        "every golden case, packed with cases of other lengths, matches raw and normalised within cosine 0.99999, and alone gives the same vector"
    )
    func goldenEmbeddings() throws {
        let embedder = try realModel.get()
        let golden = try readLines("embeddings.jsonl", as: GoldenEmbedding.self)
        #expect(golden.contains { $0.ids.count == 2048 } && golden.contains { $0.prompt_name != nil })
        var packed: [[Float]] = []
        for batch in packedBatches(golden.map(\.ids.count), maxTokens: 4096) {
            packed += try embedder.embed(golden[batch].map(\.ids))
        }
        var minRawCosine = 1.0, minNormalizedCosine = 1.0
        for (item, raw) in zip(golden, packed) {
            let rawCosine = cosine(raw, item.raw)
            let normalizedCosine = cosine(finalizeEmbedding(raw, dimensions: nil, normalize: true), item.normalized)
            #expect(
                rawCosine >= 0.99999,
                "\(item.ids.count) tokens, prompt \(item.prompt_name ?? "none"): \(item.text.prefix(40))")
            #expect(normalizedCosine >= 0.99999, "\(item.ids.count) tokens: \(item.text.prefix(40))")
            minRawCosine = min(minRawCosine, rawCosine)
            minNormalizedCosine = min(minNormalizedCosine, normalizedCosine)
        }
        print(
            "real model, \(golden.count) golden cases: min cosine raw \(minRawCosine), normalized \(minNormalizedCosine)"
        )

        // Each of these was packed above among sequences of other lengths (the 2048-token case after the 1892 one).
        let longest = try #require(golden.firstIndex { $0.ids.count == 2048 })
        let medium = try #require(golden.firstIndex { (500..<1000).contains($0.ids.count) })
        for index in [longest, medium, 0, 4, 20] {
            let alone = try embedder.embed([golden[index].ids])[0]
            #expect(cosine(alone, packed[index]) >= 0.999999, "\(golden[index].ids.count) tokens")
        }
    }

    /// bf16 weights take one of three GEMMs: widened to fp32 (avx512, avx2, portable), or multiplied in bf16 pairs
    /// with x rounded to bf16 too, on vdpbf16ps (avx512bf16) or AMX tiles (avx512amx). The widened one runs here on
    /// the best variant that has it, the others on theirs where the CPU has them. AMX, opt-in, is held to the
    /// 0.9998 it measured (`KernelVariant.isStartupChoice`); every variant start-up may choose, to 0.9999.
    @Test(
        "with bfloat16 Linear weights every golden case stays within cosine 0.9999 of the normalised reference",
        arguments: KernelVariant.supported.filter(\.multipliesBFloat16Pairs)
            + [KernelVariant.supported.first { !$0.multipliesBFloat16Pairs }!])
    func bfloat16GoldenEmbeddings(variant: KernelVariant) throws {
        try KernelVariant.$override.withValue(variant) {
            try bfloat16GoldenEmbeddings(minimumCosine: variant == .avx512amx ? 0.9998 : 0.9999)
        }
    }

    private func bfloat16GoldenEmbeddings(minimumCosine: Double) throws {
        let embedder = try SentenceEmbedder(directory: realModelDirectory(), pool: testPool, precision: .bfloat16)
        #expect(embedder.precision == .bfloat16)
        let golden = try readLines("embeddings.jsonl", as: GoldenEmbedding.self)
        #expect(golden.contains { $0.ids.count == 2048 })
        var vectors: [[Float]] = []
        for batch in packedBatches(golden.map(\.ids.count), maxTokens: 4096) {
            vectors += try embedder.embed(golden[batch].map(\.ids))
        }
        var minCosine = 1.0
        for (item, raw) in zip(golden, vectors) {
            let normalizedCosine = cosine(finalizeEmbedding(raw, dimensions: nil, normalize: true), item.normalized)
            #expect(normalizedCosine >= minimumCosine, "\(item.ids.count) tokens: \(item.text.prefix(40))")
            minCosine = min(minCosine, normalizedCosine)
        }
        // bf16 rounding must actually change the vectors: fp32 reaches ≥ 0.99999 on every case (test above).
        #expect(minCosine < 0.999999)
        print(
            "real model, bfloat16 weights, \(KernelVariant.current) kernels, \(golden.count) golden cases: min cosine normalized \(minCosine)"
        )
    }

    @Test("token states match last_hidden_state within 1e-3")
    func tokenStates() throws {
        let embedder = try realModel.get()
        let golden = try readLines("token_embeddings.jsonl", as: GoldenTokenStates.self)
        let states = try embedder.tokenEmbeddings(golden.map(\.ids))
        var worst: Float = 0
        for (item, hidden) in zip(golden, states) {
            let difference = maxAbsDifference(hidden, item.hidden.flatMap { $0 })
            #expect(difference <= 1e-3, "\(item.text.prefix(40))")
            worst = max(worst, difference)
        }
        print("real model token states: max abs error \(worst)")
    }

    @Test("<image_soft_token> (262144, one past the embedding table) is an error, not a crash")
    func imageSoftToken() throws {
        let embedder = try realModel.get()
        #expect(throws: EmbeddingError.tokenOutOfRange(sequence: 0, position: 1, id: 262_144, vocabularySize: 262_144))
        {
            try embedder.embed([[2, 262_144, 1]])
        }
    }
}
