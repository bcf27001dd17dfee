import Foundation
import Safetensors
import TestSupport
import Testing

@testable import EmbeddingModel

/// Rewrites one JSON file of a model directory through `edit`.
func editJSON(_ directory: String, _ file: String, _ edit: (inout [String: Any]) -> Void) throws {
    let path = (directory as NSString).appendingPathComponent(file)
    var object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
    edit(&object)
    try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
}

/// Edits one JSON file of a copy of the tiny model, loads it, and expects `expected(path of that file)`.
private func expectLoadError(
    afterEditing file: String, _ edit: (inout [String: Any]) -> Void,
    _ expected: (String) -> ModelLoadError,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let directory = try copyOfDirectory(Fixtures.tinyModel)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try editJSON(directory, file, edit)
    #expect(throws: expected((directory as NSString).appendingPathComponent(file)), sourceLocation: sourceLocation) {
        _ = try SentenceEmbedder(directory: directory, pool: testPool)
    }
}

@Suite("Model directory validation")
struct ModelConfigurationTests {
    @Test("an unknown model type is refused, naming model_type and the supported ones")
    func modelType() throws {
        try expectLoadError(afterEditing: "config.json", { $0["model_type"] = "llama" }) {
            .unsupported(
                file: $0, field: "model_type", value: "llama",
                supported: "gemma3_text, bert, mpnet, roberta, xlm-roberta")
        }
    }

    @Test("a causal (not bidirectional) Gemma3 is refused")
    func causal() throws {
        try expectLoadError(afterEditing: "config.json", { $0["use_bidirectional_attention"] = false }) {
            .unsupported(
                file: $0, field: "use_bidirectional_attention", value: "false",
                supported: "true (an embedding encoder attends both ways)")
        }
    }

    @Test("an activation other than GELU-tanh is refused")
    func activation() throws {
        try expectLoadError(afterEditing: "config.json", { $0["hidden_activation"] = "silu" }) {
            .unsupported(file: $0, field: "hidden_activation", value: "silu", supported: "gelu_pytorch_tanh, gelu_tanh")
        }
    }

    @Test("a missing required field is named")
    func missingField() throws {
        try expectLoadError(afterEditing: "config.json", { $0.removeValue(forKey: "sliding_window") }) {
            .missingField(file: $0, field: "sliding_window")
        }
    }

    @Test("a pooling mode that is not implemented is refused")
    func pooling() throws {
        try expectLoadError(afterEditing: "1_Pooling/config.json", { $0["pooling_mode"] = "weightedmean" }) {
            .unsupported(
                file: $0, field: "pooling_mode", value: "weightedmean",
                supported: "one of cls, mean, max, mean_sqrt_len_tokens, lasttoken")
        }
        try expectLoadError(
            afterEditing: "1_Pooling/config.json",
            {
                $0.removeValue(forKey: "pooling_mode")
                $0["pooling_mode_cls_token"] = true
                $0["pooling_mode_max_tokens"] = true
            }
        ) {
            .unsupported(
                file: $0, field: "pooling_mode_*", value: "cls + max",
                supported: "exactly one of the pooling_mode_* flags true")
        }
    }

    @Test("a Dense activation other than identity or tanh is refused")
    func denseActivation() throws {
        let relu = "torch.nn.modules.activation.ReLU"
        try expectLoadError(afterEditing: "2_Dense/config.json", { $0["activation_function"] = relu }) {
            .unsupported(
                file: $0, field: "activation_function", value: relu,
                supported: "torch.nn.modules.linear.Identity, torch.nn.modules.activation.Tanh")
        }
    }

    @Test("the published model's older spellings load: pooling flags, rope_theta pair, max_seq_length")
    func olderSpellings() throws {
        let directory = try copyOfDirectory(Fixtures.tinyModel)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try editJSON(directory, "config.json") {
            $0.removeValue(forKey: "rope_parameters")
            $0["rope_theta"] = 1_000_000.0
            $0["rope_local_base_freq"] = 10_000.0
        }
        try editJSON(directory, "1_Pooling/config.json") {
            $0 = [
                "word_embedding_dimension": 48, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
                "pooling_mode_max_tokens": false, "include_prompt": true,
            ]
        }
        try editJSON(directory, "sentence_bert_config.json") { $0["max_seq_length"] = 40 }
        let embedder = try SentenceEmbedder(directory: directory, pool: testPool)
        #expect(embedder.info.maxSequenceLength == 40)
        let expected = try TinyExpectations.load().cases[3]
        #expect(maxAbsDifference(try embedder.embed([expected.ids])[0], expected.raw) < 1e-4)
    }

    @Test("a missing weight tensor is named")
    func missingTensor() throws {
        let directory = try copyOfDirectory(Fixtures.tinyModel)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Rename one tensor in the header (same length, so the offsets stay valid).
        let path = (directory as NSString).appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let name = Data("layers.2.mlp.up_proj.weight".utf8)
        let range = try #require(bytes.range(of: name))
        bytes.replaceSubrange(range, with: Data("layers.2.mlp.up_proX.weight".utf8))
        try bytes.write(to: URL(fileURLWithPath: path))
        #expect(throws: SafetensorsError.missingTensor(path: path, name: "layers.2.mlp.up_proj.weight")) {
            _ = try SentenceEmbedder(directory: directory, pool: testPool)
        }
    }

    @Test("a weight of the wrong shape names expected and actual shapes")
    func wrongShape() throws {
        let directory = try copyOfDirectory(Fixtures.tinyModel)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try editJSON(directory, "config.json") { $0["intermediate_size"] = 32 }
        let path = (directory as NSString).appendingPathComponent("model.safetensors")
        #expect(
            throws: SafetensorsError.shapeMismatch(
                path: path, name: "layers.0.mlp.gate_proj.weight",
                expected: [32, 48], actual: [64, 48])
        ) {
            _ = try SentenceEmbedder(directory: directory, pool: testPool)
        }
    }

    @Test("a directory without config.json says which file is missing")
    func missingConfig() throws {
        let directory = try copyOfDirectory(Fixtures.tinyModel)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("config.json")
        try FileManager.default.removeItem(atPath: path)
        #expect(throws: ModelLoadError.missingFile(path: path)) {
            _ = try SentenceEmbedder(directory: directory, pool: testPool)
        }
    }
}
