import Foundation
import TestSupport
import Testing

@testable import Embeddings

/// sentence-transformers' `CrossEncoder.predict` on the tiny cross-encoders
/// (scripts/fixtures/make-tiny-cross-encoders.py), shared with the model tests: the texts of each case, its logits and
/// TEI's scores.
private struct Expected: Decodable {
    struct Case: Decodable {
        let texts: [String]
        let logits: [Float]
        let scores: [Float]
    }

    let labels: [String]
    let cases: [Case]

    static func load(_ model: String) throws -> Expected {
        let url = SharedFixtures.tests.appendingPathComponent("EmbeddingModelTests/Fixtures/tiny-cross-expected.json")
        let all = try JSONDecoder().decode([String: Expected].self, from: Data(contentsOf: url))
        return try #require(all[model])
    }
}

private func crossEncoder(_ name: String) throws(EmbeddingsError) -> Embedder {
    let directory = SharedFixtures.tests.appendingPathComponent("EmbeddingModelTests/Fixtures/\(name)")
    return try Embedder(directory: directory, options: .init(computeThreads: 2))
}

private let reranker = Result { () throws(EmbeddingsError) in try crossEncoder("tiny-cross-bert") }
private let classifier = Result { () throws(EmbeddingsError) in try crossEncoder("tiny-cross-roberta") }

private func close(_ a: [Float], _ b: [Float]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-4 }
}

private extension Expected.Case {
    var input: ClassifierInput { texts.count == 2 ? .pair(texts[0], texts[1]) : .text(texts[0]) }
}

@Suite("Embedder with cross-encoders: classify and rerank")
struct ClassifierTests {
    @Test("info names the kind and the labels")
    func info() throws {
        #expect(try reranker.get().info.kind == .classifier(labels: ["LABEL_0"]))
        #expect(try classifier.get().info.kind == .classifier(labels: ["contradiction", "entailment", "neutral"]))
        #expect(try classifier.get().info.dimensions == 3)
        #expect(try tinyEmbedder.get().info.kind == .embedding)
    }

    @Test("rerank gives CrossEncoder.predict's sigmoid scores within 1e-4, tokenizing each pair as HF does")
    func rerankScores() async throws {
        let expected = try Expected.load("tiny-cross-bert")
        let pairs = expected.cases.filter { $0.texts.count == 2 }
        let query = pairs[0].texts[0]
        let scores = try await reranker.get().rerank(query: query, documents: pairs.map { $0.texts[1] })
        #expect(close(scores, pairs.map { $0.scores[0] }), "\(scores)")
        let raw = try await reranker.get().rerank(
            query: query, documents: pairs.map { $0.texts[1] }, rawScores: true)
        #expect(close(raw, pairs.map { $0.logits[0] }), "\(raw)")
    }

    @Test("classify gives the softmax over the labels (or the logits) for texts and pairs, within 1e-4")
    func classifyScores() async throws {
        for model in ["tiny-cross-roberta", "tiny-cross-xlmr", "tiny-cross-mpnet"] {
            let expected = try Expected.load(model)
            let embedder = try crossEncoder(model)
            let scores = try await embedder.classify(expected.cases.map(\.input))
            let logits = try await embedder.classify(expected.cases.map(\.input), rawScores: true)
            for (index, reference) in expected.cases.enumerated() {
                #expect(close(scores[index], reference.scores), "\(model) \(reference.texts)")
                #expect(close(logits[index], reference.logits), "\(model) \(reference.texts)")
            }
            let single = try await embedder.classify(expected.cases[0].input)
            #expect(close(single, expected.cases[0].scores))
        }
    }

    @Test("concurrent calls share forward passes and each gets its own scores")
    func concurrent() async throws {
        let expected = try Expected.load("tiny-cross-bert")
        let embedder = try reranker.get()
        try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
            for (index, reference) in expected.cases.enumerated() {
                group.addTask { (index, try await embedder.classify(reference.input)) }
            }
            for try await (index, scores) in group { #expect(close(scores, expected.cases[index].scores)) }
        }
    }

    @Test("each kind of model refuses the other's calls with a typed error")
    func wrongKind() async throws {
        await #expect(throws: EmbeddingsError.notAnEmbeddingModel) { try await reranker.get().embed("x") }
        await #expect(throws: EmbeddingsError.notAClassifier) {
            try await tinyEmbedder.get().classify(.text("x"))
        }
        await #expect(throws: EmbeddingsError.notAClassifier) {
            try await tinyEmbedder.get().rerank(query: "q", documents: ["d"])
        }
        await #expect(throws: EmbeddingsError.notAReranker(labels: 3)) {
            try await classifier.get().rerank(query: "q", documents: ["d"])
        }
        #expect(try await reranker.get().rerank(query: "q", documents: []) == [])
    }

    @Test("a pair too long is cut longest_first; with truncation disabled it is refused")
    func truncation() async throws {
        let expected = try Expected.load("tiny-cross-bert")
        let long = try #require(expected.cases.first { $0.texts.count == 2 && $0.texts[1].count > 150 })
        #expect(close(try await reranker.get().classify(long.input), long.scores))
        await #expect {
            try await reranker.get().classify(long.input, truncation: .disabled)
        } throws: { error in
            guard case .inputTooLong(0, _, 40) = error as? EmbeddingsError else { return false }
            return true
        }
    }

    @Test("bfloat16 weights, the head's one-row and three-row matrices included, stay near the float32 scores")
    func bfloat16() async throws {
        for model in ["tiny-cross-bert", "tiny-cross-roberta"] {
            let expected = try Expected.load(model)
            let embedder = try Embedder(
                directory: SharedFixtures.tests.appendingPathComponent("EmbeddingModelTests/Fixtures/\(model)"),
                options: .init(precision: .bfloat16, computeThreads: 2))
            let scores = try await embedder.classify(expected.cases.map(\.input))
            for (row, reference) in zip(scores, expected.cases) {
                #expect(
                    zip(row, reference.scores).allSatisfy { abs($0 - $1) < 0.02 }, "\(model) \(row) \(reference.scores)"
                )
            }
        }
    }

    @Test("a tokenizer whose pair template gives a type the model lacks is refused at load")
    func typeTemplate() throws {
        let source = SharedFixtures.tests.appendingPathComponent("EmbeddingModelTests/Fixtures/tiny-cross-roberta")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cross-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: source, to: directory)
        defer { try? FileManager.default.removeItem(at: directory) }
        // RoBERTa's one type row, and a BERT-style template that gives the second text type 1.
        let path = directory.appendingPathComponent("tokenizer.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: path)) as! [String: Any]
        json["post_processor"] = [
            "type": "TemplateProcessing",
            "single": [["Sequence": ["id": "A", "type_id": 0]]],
            "pair": [["Sequence": ["id": "A", "type_id": 0]], ["Sequence": ["id": "B", "type_id": 1]]],
            "special_tokens": [String: Any](),
        ]
        try JSONSerialization.data(withJSONObject: json).write(to: path)
        #expect {
            _ = try Embedder(directory: directory)
        } throws: { error in
            guard case .invalidModel(_, let reason) = error as? EmbeddingsError else { return false }
            return reason.contains("token type 1") && reason.contains("type_vocab_size")
        }
    }
}
