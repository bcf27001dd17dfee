import Foundation
import TestSupport
import Testing

@testable import EmbeddingModel

/// sentence-transformers' `CrossEncoder.predict` on the tiny cross-encoders, written by
/// scripts/fixtures/make-tiny-cross-encoders.py: per case the tokenizer's ids and type ids, the logits and TEI's
/// scores.
struct CrossEncoderExpectations: Decodable {
    struct Case: Decodable {
        let texts: [String]
        let ids: [Int32]
        let types: [Int32]
        let logits: [Float]
        let scores: [Float]
    }

    struct Model: Decodable {
        let labels: [String]
        let cases: [Case]
    }

    static let models = ["tiny-cross-bert", "tiny-cross-roberta", "tiny-cross-xlmr", "tiny-cross-mpnet"]

    static let loaded = Result {
        try JSONDecoder().decode(
            [String: Model].self,
            from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tiny-cross-expected.json"))))
    }
}

/// Every value within `tolerance` of the reference.
private func close(_ a: [Float], _ b: [Float], tolerance: Float = 1e-4) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tolerance }
}

@Suite("Cross-encoders (*ForSequenceClassification) on tiny random models")
struct CrossEncoderModelTests {
    @Test(
        "logits and scores within 1e-4 of CrossEncoder.predict, each case alone",
        arguments: CrossEncoderExpectations.models)
    func alone(model name: String) throws {
        let expected = try #require(try CrossEncoderExpectations.loaded.get()[name])
        let model = try SentenceEmbedder(directory: Fixtures.path(name), pool: testPool)
        #expect(model.info.labels == expected.labels)
        #expect(model.info.embeddingDimensions == expected.labels.count)
        #expect(model.info.maxSequenceLength == 40)
        for reference in expected.cases {
            let logits = try model.embed([reference.ids], tokenTypes: [reference.types])[0]
            #expect(close(logits, reference.logits), "\(name) \(reference.texts): \(logits) vs \(reference.logits)")
            #expect(close(classificationScores(logits), reference.scores), "\(name) \(reference.texts)")
        }
    }

    @Test("a packed batch of every case gives each its own logits", arguments: CrossEncoderExpectations.models)
    func packed(model name: String) throws {
        let expected = try #require(try CrossEncoderExpectations.loaded.get()[name])
        let model = try SentenceEmbedder(directory: Fixtures.path(name), pool: testPool)
        let logits = try model.embed(expected.cases.map(\.ids), tokenTypes: expected.cases.map(\.types))
        for (row, reference) in zip(logits, expected.cases) {
            #expect(close(row, reference.logits), "\(name) \(reference.texts)")
        }
    }

    @Test("a BERT pair's second text is token type 1: type 0 throughout gives other logits")
    func tokenTypesMatter() throws {
        let expected = try #require(try CrossEncoderExpectations.loaded.get()["tiny-cross-bert"])
        let model = try SentenceEmbedder(directory: Fixtures.path("tiny-cross-bert"), pool: testPool)
        let pair = expected.cases[0]
        #expect(pair.types.contains(1))
        let untyped = try model.embed([pair.ids])[0]
        #expect(abs(untyped[0] - pair.logits[0]) > 1e-2)
    }

    @Test("token types that do not fit the sequence or the type table are refused before running")
    func invalidTokenTypes() throws {
        let model = try SentenceEmbedder(directory: Fixtures.path("tiny-cross-bert"), pool: testPool)
        #expect(throws: EmbeddingError.tokenTypesInvalid(sequence: 0, reason: "2 token types for 3 tokens")) {
            try model.embed([[2, 5, 3]], tokenTypes: [[0, 0]])
        }
        #expect(
            throws: EmbeddingError.tokenTypesInvalid(
                sequence: 1, reason: "token type 2 is outside the model's type table (0..<2)")
        ) {
            try model.embed([[2, 3], [2, 5, 3]], tokenTypes: [[0, 0], [0, 2, 1]])
        }
    }

    @Test("TEI's scores: sigmoid of one logit, softmax over several")
    func scores() {
        #expect(classificationScores([0]) == [0.5])
        #expect(abs(classificationScores([2])[0] - Float(1 / (1 + exp(-2.0)))) < 1e-7)
        let softmax = classificationScores([1, 2, 3])
        let sum = exp(1.0) + exp(2.0) + exp(3.0)
        #expect(close(softmax, [exp(1.0) / sum, exp(2.0) / sum, exp(3.0) / sum].map { Float($0) }, tolerance: 1e-7))
        // The maximum is subtracted first: large logits do not overflow.
        #expect(close(classificationScores([1000, 1000]), [0.5, 0.5], tolerance: 1e-7))
    }
}

/// A cross-encoder's config.json is untrusted like any other: its head and labels are checked.
@Suite("Cross-encoder configuration validation")
struct CrossEncoderConfigurationTests {
    private func expectLoadError(
        in model: String, _ edit: (inout [String: Any]) -> Void, _ expected: (String) -> ModelLoadError,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let directory = try copyOfDirectory(Fixtures.path(model))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try editJSON(directory, "config.json", edit)
        let path = (directory as NSString).appendingPathComponent("config.json")
        #expect(throws: expected(path), sourceLocation: sourceLocation) {
            _ = try SentenceEmbedder(directory: directory, pool: testPool)
        }
    }

    @Test("id2label must name ids 0..<n; without it num_labels gives transformers' default names")
    func labels() throws {
        try expectLoadError(in: "tiny-cross-roberta", { $0["id2label"] = ["0": "a", "2": "c"] }) {
            .invalidField(
                file: $0, field: "id2label", reason: "has 2 labels but no id 1: its keys must be 0...1")
        }
        try expectLoadError(in: "tiny-cross-roberta", { $0["id2label"] = [String: String]() }) {
            .invalidField(file: $0, field: "id2label", reason: "must have 1...65536 labels, has 0")
        }
        try expectLoadError(in: "tiny-cross-bert", { $0.removeValue(forKey: "id2label") }) {
            .missingField(file: $0, field: "num_labels")
        }
        let directory = try copyOfDirectory(Fixtures.path("tiny-cross-bert"))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try editJSON(directory, "config.json") {
            $0.removeValue(forKey: "id2label")
            $0["num_labels"] = 1
        }
        #expect(try SentenceEmbedder(directory: directory, pool: testPool).info.labels == ["LABEL_0"])
    }

    @Test("labels that do not match the head's weights are refused")
    func labelCountMismatch() throws {
        let directory = try copyOfDirectory(Fixtures.path("tiny-cross-roberta"))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try editJSON(directory, "config.json") { $0["id2label"] = ["0": "a", "1": "b"] }
        #expect(throws: (any Error).self) { _ = try SentenceEmbedder(directory: directory, pool: testPool) }
    }
}
