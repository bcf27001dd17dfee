import Foundation
import Kernels
import TestSupport
import Testing

@testable import EmbeddingModel

/// Expected outputs of the tiny BERT and RoBERTa models, written by scripts/fixtures/make-tiny-bert.py from
/// sentence-transformers with each pooling mode.
private struct TinyBertExpectations: Decodable {
    struct Case: Decodable {
        let ids: [Int32]
        let raw: [Float]
        let normalized: [Float]
    }

    struct Model: Decodable {
        let hidden: [[Float]]
        let cases: [String: [Case]]

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            hidden = try container.decode([[Float]].self, forKey: AnyKey("hidden"))
            var cases: [String: [Case]] = [:]
            for key in container.allKeys where key.stringValue != "hidden" {
                cases[key.stringValue] = try container.decode([Case].self, forKey: key)
            }
            self.cases = cases
        }
    }

    struct Pair: Decodable {
        let ids: [Int32]
        let types: [Int32]
        let hidden: [Float]
    }

    struct AnyKey: CodingKey {
        let stringValue: String
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    let bert: Model
    let roberta: Model
    let pair: Pair

    enum CodingKeys: String, CodingKey {
        case bert = "tiny-bert"
        case roberta = "tiny-roberta"
        case pair
    }

    static let loaded = Result {
        try JSONDecoder().decode(
            TinyBertExpectations.self,
            from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tiny-bert-expected.json"))))
    }
}

/// A copy of a tiny model directory whose 1_Pooling/config.json names `mode`.
private func tinyModelCopy(_ name: String, pooling mode: PoolingMode) throws -> String {
    let directory = try copyOfDirectory(Fixtures.path(name))
    try editJSON(directory, "1_Pooling/config.json") {
        $0["pooling_mode"] = mode == .meanSquareRootLength ? "mean_sqrt_len_tokens" : mode.rawValue
    }
    return directory
}

@Suite("BERT family on tiny random models")
struct BertModelTests {
    @Test(
        "tiny BERT (mean/Dense+tanh/Normalize head) and RoBERTa agree with sentence-transformers in every pooling mode",
        arguments: ["tiny-bert", "tiny-roberta"], PoolingMode.allCases)
    func poolingModes(model name: String, mode: PoolingMode) throws {
        let expected = try TinyBertExpectations.loaded.get()
        let model = name == "tiny-bert" ? expected.bert : expected.roberta
        let cases = try #require(model.cases[mode == .meanSquareRootLength ? "mean_sqrt_len_tokens" : mode.rawValue])
        let directory = try tinyModelCopy(name, pooling: mode)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for precision in WeightPrecision.allCases {
            let embedder = try SentenceEmbedder(directory: directory, pool: testPool, precision: precision)
            #expect(embedder.info.modelType == (name == "tiny-bert" ? "bert" : "roberta"))
            #expect(embedder.info.pooling == mode)
            #expect(embedder.info.normalizes)
            #expect(embedder.info.embeddingDimensions == (name == "tiny-bert" ? 16 : 32))
            #expect(embedder.info.maxSequenceLength == 40)
            // One packed batch of every sequence, and each alone: packing must not leak between sequences.
            let batched = try embedder.embed(cases.map(\.ids))
            let minimum = precision == .float32 ? 0.99999 : 0.999
            for (index, item) in cases.enumerated() {
                let alone = try embedder.embed([item.ids])[0]
                for vector in [batched[index], alone] {
                    #expect(cosine(vector, item.raw) >= minimum, "\(name) \(mode) \(precision) case \(index)")
                    let normalized = finalizeEmbedding(vector, dimensions: nil, normalize: true)
                    #expect(cosine(normalized, item.normalized) >= minimum)
                }
                if precision == .float32 {
                    #expect(maxAbsDifference(batched[index], item.raw) < 1e-4, "\(name) \(mode) case \(index)")
                }
            }
        }
    }

    @Test("token states match transformers' last_hidden_state, RoBERTa's positions after a padding id included")
    func tokenStates() throws {
        let expected = try TinyBertExpectations.loaded.get()
        for (name, model) in [("tiny-bert", expected.bert), ("tiny-roberta", expected.roberta)] {
            let embedder = try SentenceEmbedder(directory: Fixtures.path(name), pool: testPool)
            let ids = model.cases["mean"]!.map(\.ids)
            let states = try embedder.tokenEmbeddings(ids)
            for (index, hidden) in model.hidden.enumerated() {
                #expect(maxAbsDifference(states[index], hidden) < 1e-4, "\(name) sequence \(index)")
            }
        }
    }

    @Test("a pair's token types (0 then 1) reach the embeddings, as a cross-encoder needs")
    func tokenTypes() throws {
        let pair = try TinyBertExpectations.loaded.get().pair
        let directory = Fixtures.path("tiny-bert")
        let config = try BertConfiguration(path: Fixtures.path("tiny-bert/config.json"))
        let weights = try BertWeights(directory: directory, config: config, precision: .float32)
        let encoder = BertEncoder(config: config, weights: weights, maxPositions: 40)
        let scratch = EncoderScratch()
        encoder.reserve(scratch, tokens: pair.ids.count, sequences: 1, headWidth: config.hiddenSize)
        try encoder.forward(
            ids: pair.ids, tokenTypes: pair.types, lengths: [pair.ids.count], scratch: scratch, pool: testPool)
        let states = Array(UnsafeBufferPointer(start: scratch.residual.pointer, count: pair.hidden.count))
        #expect(maxAbsDifference(states, pair.hidden) < 1e-4)
        // Type 0 throughout gives other states: the types were not ignored.
        try encoder.forward(ids: pair.ids, lengths: [pair.ids.count], scratch: scratch, pool: testPool)
        let untyped = Array(UnsafeBufferPointer(start: scratch.residual.pointer, count: pair.hidden.count))
        #expect(maxAbsDifference(untyped, pair.hidden) > 1e-2)
    }

    @Test("sequences longer than max_seq_length and ids outside the vocabulary are refused before running")
    func limits() throws {
        let embedder = try SentenceEmbedder(directory: Fixtures.path("tiny-bert"), pool: testPool)
        #expect(throws: EmbeddingError.sequenceTooLong(index: 0, tokens: 41, maxTokens: 40)) {
            _ = try embedder.embed([[Int32](repeating: 5, count: 41)])
        }
        #expect(throws: EmbeddingError.tokenOutOfRange(sequence: 0, position: 1, id: 200, vocabularySize: 200)) {
            _ = try embedder.embed([[2, 200]])
        }
    }
}

/// config.json and the weights of a BERT model are untrusted: every field is checked before it sizes anything.
@Suite("BERT model directory validation")
struct BertConfigurationTests {
    private func expectLoadError(
        in model: String = "tiny-bert", _ edit: (inout [String: Any]) -> Void,
        _ expected: (String) -> ModelLoadError, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let directory = try copyOfDirectory(Fixtures.path(model))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = "config.json"
        try editJSON(directory, file, edit)
        #expect(throws: expected((directory as NSString).appendingPathComponent(file)), sourceLocation: sourceLocation)
        {
            _ = try SentenceEmbedder(directory: directory, pool: testPool)
        }
    }

    @Test("sizes out of bounds are refused, naming the field")
    func sizes() throws {
        try expectLoadError({ $0["hidden_size"] = 1 << 20 }) {
            .invalidField(file: $0, field: "hidden_size", reason: "must be in 1...65536, is 1048576")
        }
        try expectLoadError({ $0["num_hidden_layers"] = 0 }) {
            .invalidField(file: $0, field: "num_hidden_layers", reason: "must be in 1...1024, is 0")
        }
        try expectLoadError({ $0["max_position_embeddings"] = -3 }) {
            .invalidField(file: $0, field: "max_position_embeddings", reason: "must be in 1...131072, is -3")
        }
        try expectLoadError({ $0["num_attention_heads"] = 5 }) {
            .invalidField(file: $0, field: "num_attention_heads", reason: "(5) must divide hidden_size (32)")
        }
        try expectLoadError({ $0["layer_norm_eps"] = -1.0 }) {
            .invalidField(file: $0, field: "layer_norm_eps", reason: "must be a positive finite float, is -1.0")
        }
        try expectLoadError({ $0.removeValue(forKey: "vocab_size") }) { .missingField(file: $0, field: "vocab_size") }
    }

    @Test("RoBERTa's pad_token_id must leave room in the position table")
    func robertaPadding() throws {
        try expectLoadError(in: "tiny-roberta", { $0["pad_token_id"] = 41 }) {
            .invalidField(
                file: $0, field: "pad_token_id", reason: "must be in 0..<41 (max_position_embeddings − 1), is 41")
        }
        try expectLoadError(in: "tiny-roberta", { $0.removeValue(forKey: "pad_token_id") }) {
            .missingField(file: $0, field: "pad_token_id")
        }
    }

    @Test("what the encoder does not implement is refused: activation, relative positions, decoder, other heads")
    func unsupported() throws {
        try expectLoadError({ $0["hidden_act"] = "relu" }) {
            .unsupported(file: $0, field: "hidden_act", value: "relu", supported: "gelu (exact, erf)")
        }
        try expectLoadError({ $0["position_embedding_type"] = "relative_key" }) {
            .unsupported(file: $0, field: "position_embedding_type", value: "relative_key", supported: "absolute")
        }
        try expectLoadError({ $0["add_cross_attention"] = "yes" }) {
            .unsupported(file: $0, field: "add_cross_attention", value: "yes", supported: "false")
        }
        try expectLoadError({ $0["architectures"] = ["DistilBertForSequenceClassification"] }) {
            .unsupported(
                file: $0, field: "architectures", value: "DistilBertForSequenceClassification",
                supported:
                    "BertForSequenceClassification, MPNetForSequenceClassification, RobertaForSequenceClassification, "
                    + "XLMRobertaForSequenceClassification"
            )
        }
    }

    @Test("a config that does not describe the checkpoint is refused: fewer layers leave tensors unused")
    func unusedTensors() throws {
        let directory = try copyOfDirectory(Fixtures.path("tiny-bert"))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try editJSON(directory, "config.json") { $0["num_hidden_layers"] = 1 }
        #expect {
            _ = try SentenceEmbedder(directory: directory, pool: testPool)
        } throws: { error in
            guard case ModelLoadError.unusedTensors(_, let names, _)? = error as? ModelLoadError else { return false }
            return names.allSatisfy { $0.hasPrefix("encoder.layer.1.") }
        }
    }
}

/// sentence-transformers' ids and embeddings for the tiny XLM-RoBERTa (scripts/fixtures/make-tiny-xlmr.py).
private struct TinyXLMRExpectations: Decodable {
    struct Case: Decodable {
        let ids: [Int32]
        let embedding: [Float]
    }

    let cases: [Case]
}

@Suite("XLM-RoBERTa on a tiny random model")
struct XLMRobertaModelTests {
    @Test("tiny XLM-R (mean pooling, Normalize) agrees with sentence-transformers, batched and alone")
    func embeddings() throws {
        let expected = try JSONDecoder().decode(
            TinyXLMRExpectations.self,
            from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tiny-xlmr-expected.json"))))
        let embedder = try SentenceEmbedder(directory: Fixtures.path("tiny-xlmr"), pool: testPool)
        #expect(embedder.info.modelType == "xlm-roberta")
        #expect(embedder.info.pooling == .mean)
        #expect(embedder.info.maxSequenceLength == 64)
        let batched = try embedder.embed(expected.cases.map(\.ids))
        for (index, item) in expected.cases.enumerated() {
            let alone = try embedder.embed([item.ids])[0]
            for vector in [batched[index], alone] {
                let normalized = finalizeEmbedding(vector, dimensions: nil, normalize: true)
                #expect(cosine(normalized, item.embedding) >= 0.99999, "case \(index)")
                #expect(maxAbsDifference(normalized, item.embedding) < 1e-4, "case \(index)")
            }
        }
    }
}
