import Foundation
import Safetensors
import TestSupport
import Testing

@testable import EmbeddingModel

#if canImport(Glibc)
    import Glibc
#endif

/// A copy of the tiny model with `edit` applied to one of its JSON files.
private func tinyCopy(editing file: String? = nil, _ edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
    let directory = try copyOfDirectory(Fixtures.tinyModel)
    if let file { try editJSON(directory, file, edit) }
    return directory
}

/// Expects loading `directory` to throw a `ModelLoadError` whose description contains every phrase.
private func expectModelLoadError(
    _ directory: String, _ phrases: String...,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    do {
        _ = try SentenceEmbedder(directory: directory, pool: testPool)
        Issue.record("the model loaded", sourceLocation: sourceLocation)
    } catch let error as ModelLoadError {
        for phrase in phrases {
            #expect("\(error)".contains(phrase), "\(error)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a ModelLoadError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// Expects loading a copy of the tiny model with one JSON edit to fail naming that file and each phrase.
private func expectRefused(
    editing file: String, _ edit: (inout [String: Any]) -> Void, _ phrases: String...,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let directory = try tinyCopy(editing: file, edit)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    do {
        _ = try SentenceEmbedder(directory: directory, pool: testPool)
        Issue.record("the model loaded", sourceLocation: sourceLocation)
    } catch let error as ModelLoadError {
        #expect(
            "\(error)".contains((directory as NSString).appendingPathComponent(file)), "\(error)",
            sourceLocation: sourceLocation)
        for phrase in phrases {
            #expect("\(error)".contains(phrase), "\(error)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a ModelLoadError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// Overwrites the bytes of tensor `name` in `directory/model.safetensors` with `value`.
private func fill(_ directory: String, tensor name: String, with value: Float) throws {
    let path = (directory as NSString).appendingPathComponent("model.safetensors")
    let info = try SafetensorsFile(path: path).info(name)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(info.fileOffset))
    handle.write(Data([Float](repeating: value, count: info.elementCount).withUnsafeBytes { Array($0) }))
}

/// Model files from whoever published the repository: sizes may be absurd, files may be of the wrong kind,
/// weights may be NaN, and the weights file may change under the running server.
@Suite("Model directories from untrusted files")
struct UntrustedModelTests {
    @Test("an absurd max_position_embeddings (2^62, 1e12) is refused instead of sizing the RoPE tables")
    func hugePositionCount() throws {
        try expectRefused(
            editing: "config.json", { $0["max_position_embeddings"] = 1 << 62 },
            "max_position_embeddings")
        try expectRefused(editing: "config.json", { $0["max_position_embeddings"] = 1e12 }, "max_position_embeddings")
    }

    @Test("an absurd max_seq_length (1e12) in sentence_bert_config.json is refused")
    func hugeSequenceLength() throws {
        try expectRefused(editing: "sentence_bert_config.json", { $0["max_seq_length"] = 1e12 }, "max_seq_length")
        try expectRefused(
            editing: "sentence_bert_config.json", { $0["max_seq_length"] = 65 }, "max_seq_length",
            "max_position_embeddings")
    }

    @Test("an absurd layer count with a layer pattern (1e12 layers) is refused before the pattern is built")
    func hugeLayerCount() throws {
        try expectRefused(
            editing: "config.json",
            {
                $0.removeValue(forKey: "layer_types")
                $0["num_hidden_layers"] = 1e12
            }, "num_hidden_layers")
    }

    @Test("RoPE bases that are zero, negative or not finite are refused")
    func ropeTheta() throws {
        for theta in [0.0, -10_000.0] {
            try expectRefused(
                editing: "config.json",
                {
                    $0["rope_parameters"] = [
                        "full_attention": ["rope_theta": theta, "rope_type": "default"],
                        "sliding_attention": ["rope_theta": 10_000.0, "rope_type": "default"],
                    ]
                }, "rope_theta")
            try expectRefused(
                editing: "config.json",
                {
                    $0.removeValue(forKey: "rope_parameters")
                    $0["rope_theta"] = 1_000_000.0
                    $0["rope_local_base_freq"] = theta
                }, "rope_local_base_freq")
        }
    }

    @Test("a decimal field that overflows to infinity (1e999) is refused, not read as infinity")
    func overflowingDecimal() throws {
        for (file, key) in [
            ("config.json", "rms_norm_eps"), ("config.json", "rope_theta"), ("config.json", "query_pre_attn_scalar"),
        ] {
            let directory = try tinyCopy()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = (directory as NSString).appendingPathComponent(file)
            var object = try #require(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            object.removeValue(forKey: "rope_parameters")
            object[key] = "overflow"
            let text = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            try Data(text.replacingOccurrences(of: "\"overflow\"", with: "1e999").utf8).write(
                to: URL(fileURLWithPath: path))
            expectModelLoadError(directory, key, "finite")
        }
    }

    @Test("nonsensical sizes are start-up errors naming the field")
    func nonsensicalSizes() throws {
        try expectRefused(
            editing: "config.json",
            {
                $0.removeValue(forKey: "head_dim")
                $0["hidden_size"] = 47
            }, "num_attention_heads", "47")
        try expectRefused(editing: "config.json", { $0["num_key_value_heads"] = 4 }, "num_key_value_heads")
        try expectRefused(editing: "config.json", { $0["rms_norm_eps"] = -1e-6 }, "rms_norm_eps")
        try expectRefused(editing: "config.json", { $0["hidden_size"] = 1 << 40 }, "hidden_size")
        try expectRefused(editing: "config.json", { $0["vocab_size"] = 1 << 40 }, "vocab_size")
        try expectRefused(editing: "config.json", { $0["query_pre_attn_scalar"] = 0 }, "query_pre_attn_scalar")
        try expectRefused(editing: "3_Dense/config.json", { $0["out_features"] = 0 }, "out_features")
    }

    @Test("a config with fewer layers than the checkpoint is refused, naming tensors it would leave unused")
    func unusedTensors() throws {
        let directory = try tinyCopy(editing: "config.json") {
            $0["num_hidden_layers"] = 2
            $0["layer_types"] = ["sliding_attention", "full_attention"]
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        expectModelLoadError(
            directory, (directory as NSString).appendingPathComponent("model.safetensors"),
            "layers.2.", "26 tensors")
    }

    @Test("NaN weights make embed and tokenEmbeddings throw instead of returning NaN vectors")
    func nonFiniteOutput() throws {
        let directory = try tinyCopy()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try fill(directory, tensor: "norm.weight", with: .nan)
        let embedder = try SentenceEmbedder(directory: directory, pool: testPool)
        #expect(throws: EmbeddingError.self) { _ = try embedder.embed([[2, 5, 1]]) }
        #expect(throws: EmbeddingError.self) { _ = try embedder.tokenEmbeddings([[2, 5, 1]]) }
        do {
            _ = try embedder.embed([[2, 5, 1], [2, 6, 1]])
        } catch {
            #expect("\(error)".contains("not finite"), "\(error)")
        }
    }

    @Test("model.safetensors truncated while loaded makes embed throw, not SIGBUS; the embedder stays usable")
    func truncatedAfterLoad() throws {
        let directory = try tinyCopy()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let embedder = try SentenceEmbedder(directory: directory, pool: testPool)
        let before = try embedder.embed([[2, 200, 1]])
        let path = (directory as NSString).appendingPathComponent("model.safetensors")
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(truncate(path, 4096) == 0)
        #expect(throws: SafetensorsError.self) { _ = try embedder.embed([[2, 200, 1]]) }
        #expect(throws: SafetensorsError.self) { _ = try embedder.tokenEmbeddings([[2, 200, 1]]) }
        // The same file grown back to its content: the next batch is served again.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 0)
        handle.write(original)
        try handle.close()
        #expect(try embedder.embed([[2, 200, 1]]) == before)
    }

    @Test("a FIFO in place of a model file is refused at once, naming it, instead of blocking start-up")
    func fifoFiles() throws {
        for file in [
            "config.json", "modules.json", "sentence_bert_config.json", "model.safetensors",
            "1_Pooling/config.json", "2_Dense/model.safetensors",
        ] {
            let directory = try tinyCopy()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let path = (directory as NSString).appendingPathComponent(file)
            try FileManager.default.removeItem(atPath: path)
            #expect(mkfifo(path, 0o600) == 0)
            do {
                _ = try SentenceEmbedder(directory: directory, pool: testPool)
                Issue.record("a FIFO as \(file) loaded")
            } catch {
                #expect("\(error)".contains(path) && "\(error)".contains("not a regular file"), "\(error)")
            }
        }
    }

    @Test("files symlinked to blobs, as in the Hugging Face cache, load")
    func symlinkedFiles() throws {
        let directory = try tinyCopy()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let blobs = directory + "/blobs"
        try FileManager.default.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        for (index, file) in ["config.json", "model.safetensors", "2_Dense/model.safetensors"].enumerated() {
            let path = (directory as NSString).appendingPathComponent(file)
            try FileManager.default.moveItem(atPath: path, toPath: blobs + "/\(index)")
            try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: blobs + "/\(index)")
        }
        let expected = try TinyExpectations.load().cases[2]
        let raw = try SentenceEmbedder(directory: directory, pool: testPool).embed([expected.ids])[0]
        #expect(maxAbsDifference(raw, expected.raw) < 1e-4)
    }

    @Test("an unreadable model file is reported with the system's reason, not as missing")
    func unreadableFile() throws {
        let directory = try tinyCopy()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("config.json")
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        expectModelLoadError(directory, path, "not a regular file")
        try FileManager.default.removeItem(atPath: path)
        // A path through a regular file: ENOTDIR.
        try FileManager.default.copyItem(atPath: Fixtures.tinyModel + "/config.json", toPath: path)
        let bert = (directory as NSString).appendingPathComponent("sentence_bert_config.json")
        try FileManager.default.removeItem(atPath: bert)
        try FileManager.default.copyItem(atPath: path, toPath: bert + ".blob")
        try FileManager.default.createSymbolicLink(atPath: bert, withDestinationPath: path + "/inner")
        expectModelLoadError(directory, bert, String(cString: strerror(ENOTDIR)))
        try FileManager.default.removeItem(atPath: bert)
        try FileManager.default.copyItem(atPath: bert + ".blob", toPath: bert)
        let weights = (directory as NSString).appendingPathComponent("2_Dense/model.safetensors")
        try FileManager.default.removeItem(atPath: weights)
        try FileManager.default.createSymbolicLink(atPath: weights, withDestinationPath: path + "/inner")
        do {
            _ = try SentenceEmbedder(directory: directory, pool: testPool)
            Issue.record("the model loaded")
        } catch {
            #expect("\(error)".contains(weights) && "\(error)".contains(String(cString: strerror(ENOTDIR))), "\(error)")
        }
        if geteuid() != 0 {
            #expect(chmod(path, 0) == 0)
            expectModelLoadError(directory, path, String(cString: strerror(EACCES)))
        }
    }

    @Test("an MPNet config whose head count disagrees with relative_attention_bias is refused, naming the tensor")
    func relativeBiasShape() throws {
        let directory = try copyOfDirectory(Fixtures.path("tiny-mpnet"))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // 8 heads of 4 still divide hidden 32 and fit every Linear; only the bias table has a column per head.
        try editJSON(directory, "config.json") { $0["num_attention_heads"] = 8 }
        #expect(
            throws: SafetensorsError.shapeMismatch(
                path: (directory as NSString).appendingPathComponent("model.safetensors"),
                name: "encoder.relative_attention_bias.weight", expected: [32, 8], actual: [32, 4])
        ) {
            _ = try SentenceEmbedder(directory: directory, pool: testPool)
        }
    }

    @Test("a config.json nested 100,000 levels deep is a JSON error, not a stack overflow")
    func deepNesting() throws {
        let directory = try tinyCopy()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("config.json")
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        try Data("{\"x\": \(deep)}".utf8).write(to: URL(fileURLWithPath: path))
        expectModelLoadError(directory, path, "JSON")
    }

    @Test("a config.json syntax error gives the line and column")
    func syntaxErrorPosition() throws {
        let directory = try tinyCopy()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = (directory as NSString).appendingPathComponent("config.json")
        try Data("{\n  \"hidden_size\": 48,\n  oops\n}\n".utf8).write(to: URL(fileURLWithPath: path))
        expectModelLoadError(directory, path, "line 3", "column 3")
    }
}
