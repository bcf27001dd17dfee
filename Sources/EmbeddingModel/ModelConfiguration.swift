import Foundation
import JSON

/// The attention pattern of one decoder layer.
enum AttentionKind: String, Sendable {
    /// Every token of the sequence attends to every other.
    case full = "full_attention"
    /// Bidirectional sliding window: token i sees token j iff |i − j| ≤ `windowRadius`.
    case sliding = "sliding_attention"
}

/// The Gemma3 text encoder's hyper-parameters, read from `config.json` and checked against what the encoder implements.
struct EncoderConfiguration: Sendable, Equatable {
    var hiddenSize: Int
    var layerCount: Int
    var queryHeadCount: Int
    var keyValueHeadCount: Int
    var headDim: Int
    var intermediateSize: Int
    var vocabularySize: Int
    var maxPositionEmbeddings: Int
    var rmsNormEpsilon: Float
    /// Scores are scaled by `queryPreAttentionScalar^-0.5` (not head_dim^-0.5, though they are equal in the real model).
    var queryPreAttentionScalar: Double
    /// Largest |i − j| a sliding layer lets through. transformers turns `sliding_window` w into w/2 + 1 for
    /// bidirectional models and allows distances strictly below it, so the radius is w/2 (256 for w = 512).
    var windowRadius: Int
    var layerKinds: [AttentionKind]
    var ropeThetaFull: Double
    var ropeThetaSliding: Double

    static let supportedActivations: Set<String> = ["gelu_pytorch_tanh", "gelu_tanh"]

    /// Reads and validates `config.json`.
    init(path: String) throws {
        let json = try JSONObject(path: path)
        let modelType = try json.string("model_type")
        guard modelType == "gemma3_text" else {
            throw ModelLoadError.unsupported(
                file: path, field: "model_type", value: modelType, supported: "gemma3_text")
        }
        hiddenSize = try json.size("hidden_size", limit: 1 << 16)
        layerCount = try json.size("num_hidden_layers", limit: 1 << 10)
        queryHeadCount = try json.size("num_attention_heads", limit: 1 << 10)
        keyValueHeadCount = try json.size("num_key_value_heads", limit: 1 << 10, default: queryHeadCount)
        if json.isNull("head_dim"), hiddenSize % queryHeadCount != 0 {
            throw ModelLoadError.invalidField(
                file: path, field: "num_attention_heads",
                reason: "(\(queryHeadCount)) must divide hidden_size (\(hiddenSize)) when head_dim is absent")
        }
        headDim = try json.size("head_dim", limit: 1 << 12, default: hiddenSize / queryHeadCount)
        intermediateSize = try json.size("intermediate_size", limit: 1 << 18)
        vocabularySize = try json.size("vocab_size", limit: 1 << 24)
        maxPositionEmbeddings = try json.size("max_position_embeddings", limit: 1 << 17)
        let epsilon = try json.double("rms_norm_eps")
        rmsNormEpsilon = Float(epsilon)
        guard rmsNormEpsilon > 0, rmsNormEpsilon.isFinite else {
            throw ModelLoadError.invalidField(
                file: path, field: "rms_norm_eps",
                reason: "must be a positive finite float, is \(epsilon)")
        }
        queryPreAttentionScalar = try json.optionalDouble("query_pre_attn_scalar") ?? Double(headDim)
        guard queryPreAttentionScalar > 0, queryPreAttentionScalar.isFinite else {
            throw ModelLoadError.invalidField(
                file: path, field: "query_pre_attn_scalar",
                reason: "must be positive and finite, is \(queryPreAttentionScalar)")
        }

        guard queryHeadCount % keyValueHeadCount == 0 else {
            throw ModelLoadError.invalidField(
                file: path, field: "num_key_value_heads",
                reason: "(\(keyValueHeadCount)) must divide num_attention_heads (\(queryHeadCount))")
        }
        guard headDim % 2 == 0 else {
            throw ModelLoadError.invalidField(
                file: path, field: "head_dim", reason: "must be even for RoPE, is \(headDim)")
        }

        let activation = try json.optionalString("hidden_activation") ?? json.string("hidden_act")
        guard Self.supportedActivations.contains(activation) else {
            throw ModelLoadError.unsupported(
                file: path, field: "hidden_activation", value: activation,
                supported: Self.supportedActivations.sorted().joined(separator: ", "))
        }
        let bidirectional = try json.optionalBool("use_bidirectional_attention")
        guard bidirectional == true else {
            throw ModelLoadError.unsupported(
                file: path, field: "use_bidirectional_attention",
                value: bidirectional.map { "\($0)" } ?? "absent",
                supported: "true (an embedding encoder attends both ways)")
        }
        try json.require("attention_bias", isAbsentOr: false, supported: "false")
        for field in ["attn_logit_softcapping", "rope_scaling"] where !json.isNull(field) {
            throw ModelLoadError.unsupported(
                file: path, field: field, value: json.shown(field), supported: "null")
        }

        let slidingWindow = try json.size("sliding_window", limit: 1 << 24)
        guard slidingWindow >= 2 else {
            throw ModelLoadError.invalidField(
                file: path, field: "sliding_window", reason: "must be at least 2, is \(slidingWindow)")
        }
        windowRadius = slidingWindow / 2
        layerKinds = try Self.layerKinds(json, layerCount: layerCount)
        (ropeThetaFull, ropeThetaSliding) = try Self.ropeThetas(json)
    }

    /// `layer_types`, or for older configs the pattern "every n-th layer is full".
    private static func layerKinds(_ json: JSONObject, layerCount: Int) throws -> [AttentionKind] {
        if let names = try json.optionalStringArray("layer_types") {
            guard names.count == layerCount else {
                throw ModelLoadError.invalidField(
                    file: json.file, field: "layer_types",
                    reason: "has \(names.count) entries for \(layerCount) layers")
            }
            return try names.map { name in
                guard let kind = AttentionKind(rawValue: name) else {
                    throw ModelLoadError.unsupported(
                        file: json.file, field: "layer_types", value: name,
                        supported: "full_attention, sliding_attention")
                }
                return kind
            }
        }
        guard
            let pattern = try json.optionalInt("sliding_window_pattern") ?? json.optionalInt("_sliding_window_pattern"),
            pattern > 0
        else { throw ModelLoadError.missingField(file: json.file, field: "layer_types") }
        return (0..<layerCount).map { ($0 + 1) % pattern == 0 ? .full : .sliding }
    }

    /// RoPE bases from transformers 5's `rope_parameters` per layer type, or the older `rope_theta` and
    /// `rope_local_base_freq` pair.
    private static func ropeThetas(_ json: JSONObject) throws -> (full: Double, sliding: Double) {
        if let parameters = try json.optionalObject("rope_parameters") {
            func theta(_ kind: AttentionKind) throws -> Double {
                guard let entry = try parameters.optionalObject(kind.rawValue) else {
                    throw ModelLoadError.missingField(file: json.file, field: "rope_parameters.\(kind.rawValue)")
                }
                try entry.require("rope_type", isAbsentOr: "default", supported: "default")
                return try checkedTheta(entry, "rope_theta", entry.double("rope_theta"))
            }
            return (try theta(.full), try theta(.sliding))
        }
        return (
            try checkedTheta(json, "rope_theta", json.double("rope_theta")),
            try checkedTheta(json, "rope_local_base_freq", json.optionalDouble("rope_local_base_freq") ?? 10_000)
        )
    }

    /// A RoPE base must be a positive finite Float: the tables raise it to negative powers.
    private static func checkedTheta(_ json: JSONObject, _ field: String, _ theta: Double) throws -> Double {
        guard theta > 0, Float(theta).isFinite else {
            throw ModelLoadError.invalidField(
                file: json.file, field: field, reason: "must be positive and finite, is \(theta)")
        }
        return theta
    }
}

/// The activation of a sentence-transformers `Dense` module.
enum DenseActivation: Sendable, Equatable {
    case identity
    case tanh

    /// Class paths as sentence-transformers saves them (it moved torch's classes between versions).
    static let names: [String: DenseActivation] = [
        "torch.nn.modules.linear.Identity": .identity, "torch.nn.Identity": .identity,
        "torch.nn.modules.activation.Tanh": .tanh, "torch.nn.Tanh": .tanh,
    ]
}

/// One sentence-transformers `Dense` module: y = activation(W·x (+ b)).
struct DenseConfiguration: Sendable, Equatable {
    var directory: String
    var inFeatures: Int
    var outFeatures: Int
    var hasBias: Bool
    var activation: DenseActivation

    init(directory: String) throws {
        self.directory = directory
        let path = (directory as NSString).appendingPathComponent("config.json")
        let json = try JSONObject(path: path)
        inFeatures = try json.int("in_features")
        outFeatures = try json.int("out_features")
        for (field, value) in [("in_features", inFeatures), ("out_features", outFeatures)]
        where !(1...(1 << 16)).contains(value) {
            throw ModelLoadError.invalidField(
                file: path, field: field, reason: "must be in 1...\(1 << 16), is \(value)")
        }
        hasBias = try json.optionalBool("bias") ?? true
        let activationName = try json.string("activation_function")
        guard let activation = DenseActivation.names[activationName] else {
            throw ModelLoadError.unsupported(
                file: path, field: "activation_function", value: activationName,
                supported: "torch.nn.modules.linear.Identity, torch.nn.modules.activation.Tanh")
        }
        self.activation = activation
        try json.require("use_residual", isAbsentOr: false, supported: "false")
    }
}

/// What the sentence-transformers files around the encoder say: the module chain, pooling, prompts, length limit.
struct SentenceConfiguration: Sendable, Equatable {
    var pooling: PoolingMode
    var denseLayers: [DenseConfiguration]
    /// Whether the module chain ends in `Normalize` (the API normalises on request either way).
    var endsWithNormalize: Bool
    var prompts: [String: String]
    var defaultPromptName: String?
    var maxSequenceLength: Int

    /// Reads `modules.json`, the pooling and Dense configs, `config_sentence_transformers.json` and the length limit,
    /// for an encoder of `hiddenSize` that takes sequences of up to `maxPositions` tokens.
    init(directory: String, hiddenSize: Int, maxPositions: Int) throws {
        func file(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        let modulesPath = file("modules.json")
        guard let root = try readModelJSON(modulesPath) else { throw ModelLoadError.missingFile(path: modulesPath) }
        let elements = root.arrayValue ?? []
        let modules = elements.compactMap(\.objectValue)
        guard root.arrayValue != nil, modules.count == elements.count else {
            throw ModelLoadError.invalidJSON(path: modulesPath, reason: "expected a list of module objects")
        }
        // Module types are Python class paths that moved between sentence-transformers versions
        // (`sentence_transformers.models.Dense`, `…base.modules.dense.Dense`): the class name decides.
        let chain = try modules.map { module -> (kind: String, path: String) in
            guard let type = module["type"]?.stringValue else {
                throw ModelLoadError.missingField(file: modulesPath, field: "type")
            }
            return (String(type.split(separator: ".").last ?? ""), module["path"]?.stringValue ?? "")
        }
        var rest = chain[...]
        guard rest.popFirst()?.kind == "Transformer" else {
            throw ModelLoadError.unsupported(
                file: modulesPath, field: "type", value: chain.first?.kind ?? "nothing",
                supported: "Transformer first")
        }
        guard let pooling = rest.popFirst(), pooling.kind == "Pooling" else {
            throw ModelLoadError.unsupported(
                file: modulesPath, field: "type", value: chain.dropFirst().first?.kind ?? "nothing",
                supported: "Pooling after Transformer")
        }
        self.pooling = try PoolingMode(
            configPath: file((pooling.path as NSString).appendingPathComponent("config.json")),
            hiddenSize: hiddenSize)
        denseLayers = []
        endsWithNormalize = false
        var width = hiddenSize
        for module in rest {
            switch module.kind {
            case "Dense" where !endsWithNormalize:
                let dense = try DenseConfiguration(directory: file(module.path))
                guard dense.inFeatures == width else {
                    throw ModelLoadError.invalidField(
                        file: file(module.path + "/config.json"), field: "in_features",
                        reason: "is \(dense.inFeatures) but the previous module outputs \(width)")
                }
                width = dense.outFeatures
                denseLayers.append(dense)
            case "Normalize" where !endsWithNormalize:
                endsWithNormalize = true
            default:
                throw ModelLoadError.unsupported(
                    file: modulesPath, field: "type", value: module.kind,
                    supported: "Transformer, Pooling, Dense…, optional Normalize last")
            }
        }

        let promptsPath = file("config_sentence_transformers.json")
        if let json = try JSONObject(optionalPath: promptsPath) {
            prompts = try json.optionalStringMap("prompts") ?? [:]
            defaultPromptName = try json.optionalString("default_prompt_name")
            if let name = defaultPromptName, prompts[name] == nil {
                throw ModelLoadError.invalidField(
                    file: promptsPath, field: "default_prompt_name",
                    reason: "names '\(name)', which is not in prompts")
            }
        } else {
            prompts = [:]
            defaultPromptName = nil
        }
        maxSequenceLength = try Self.maxSequenceLength(directory: directory, maxPositions: maxPositions)
    }

    /// sentence-transformers' rule: `max_seq_length` from `sentence_bert_config.json`, else the smaller of the
    /// tokenizer's `model_max_length` and the encoder's `max_position_embeddings`.
    static func maxSequenceLength(directory: String, maxPositions: Int) throws -> Int {
        let bertPath = (directory as NSString).appendingPathComponent("sentence_bert_config.json")
        if let length = try JSONObject(optionalPath: bertPath)?.optionalInt("max_seq_length") {
            // The encoder's tables are sized by this, so it is bounded by what the config says the model handles.
            guard length > 0, length <= maxPositions else {
                throw ModelLoadError.invalidField(
                    file: bertPath, field: "max_seq_length",
                    reason: "must be in 1...\(maxPositions) (what max_position_embeddings covers), is \(length)")
            }
            return length
        }
        // HF writes a huge placeholder (1e30) here when the tokenizer has no limit: such a value is not an error.
        let tokenizerPath = (directory as NSString).appendingPathComponent("tokenizer_config.json")
        if let length = try? JSONObject(optionalPath: tokenizerPath)?.optionalInt("model_max_length"), length > 0 {
            return min(length, maxPositions)
        }
        return maxPositions
    }
}
